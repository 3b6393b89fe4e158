"""What the SMPP bind receives, stored: delivery receipts and citizens' messages.

The gateway's reader thread calls `SmppDeliveries` for every deliver_sm and answers the SMSC
with success only when this returned True; otherwise the SMSC delivers it again later.

A deliver_sm carries no message id of its own, so an inbound message's key (the
`inbound_message.provider_id` that makes a redelivery count once) is a digest of what the
citizen sent: sender, recipient, text, and the ten-minute window it arrived in. An SMSC
redelivers within seconds or minutes when our answer was lost; the same words sent again in a
later window are a new question and get a new answer.

A long message arrives in parts (a user data header, or the SAR TLVs: reference, total,
number), in any order, perhaps twice, perhaps across a restart of ours. Each part is stored in
its message's `partial_inbound` row, under a row lock; the part that completes it hands the
whole text to `handle_inbound`, under the key above. The row stays, marked handled, for the
redelivery window, so a part delivered again is recognised. A message still incomplete after
`[sms.smpp] concat_expiry_minutes` is handled with the parts that came, in order, and logged
(`expire_parts`, run by the scheduler).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.phone import mask_phone
from intake.runtime import Runtime
from sms.gateways.smpp_codec import MobileOriginated, Receipt
from sms.inbound import InboundSms, handle_inbound
from sms.models import PartialInbound
from sms.receipts import apply_receipt

log = logging.getLogger(__name__)

REDELIVERY_WINDOW = dt.timedelta(minutes=10)


def inbound_key(message: MobileOriginated, now: dt.datetime) -> str:
    """The once-only key of a citizen's message (module docstring)."""
    window = int(now.timestamp() // REDELIVERY_WINDOW.total_seconds())
    material = "\x1f".join((message.source, message.destination, message.text, str(window)))
    return "mo-" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def international_sender(source: str) -> str:
    """The citizen's number as handle_inbound parses it: '+' in front of international digits."""
    digits = source.lstrip("+")
    return f"+{digits}" if digits.startswith("84") else digits


class SmppDeliveries:
    """The gateway's `on_delivery`: one transaction per deliver_sm."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def __call__(self, delivery: Receipt | MobileOriginated, notice_id: int | None) -> bool:
        runtime = self.runtime
        now = runtime.clock.now()
        if isinstance(delivery, Receipt):
            status = delivery.provider_status
            if status is None:
                log.info("smpp receipt %s: %s says nothing yet", delivery.message_id, delivery.stat)
                return True
            with runtime.sessions() as session, session.begin():
                apply_receipt(
                    session,
                    provider_id=delivery.message_id,
                    provider_status=status,
                    now=now,
                    notice_id=notice_id,
                    error_code=None if delivery.stat == "DELIVRD" else f"{delivery.stat}",
                )
            return True
        with runtime.sessions() as session, session.begin():
            if delivery.concat is None:
                self._handle(session, delivery, now)
            else:
                self._part(session, delivery, now)
        return True

    def _handle(self, session: Session, message: MobileOriginated, now: dt.datetime) -> None:
        runtime = self.runtime
        inbound = InboundSms(
            provider="smpp",
            provider_id=inbound_key(message, now),
            sender=international_sender(message.source),
            recipient=message.destination,
            body=message.text,
        )
        handle_inbound(
            session, inbound, settings=runtime.settings, calendar=runtime.calendar(), now=now
        )

    def _part(self, session: Session, part: MobileOriginated, now: dt.datetime) -> None:
        """Keep one part; hand the message over when it is whole (module docstring)."""
        assert part.concat is not None
        reference, total, number = part.concat
        key = {"provider": "smpp", "sender": part.source[:20], "recipient": part.destination[:20],
               "reference": reference, "total": total}  # fmt: skip
        try:
            with session.begin_nested():
                session.add(PartialInbound(**key, parts={}, first_at=now))
                session.flush()
        except IntegrityError:
            pass  # its first part came before (or is being stored right now: the lock waits)
        row = session.scalar(select(PartialInbound).filter_by(**key).with_for_update())
        assert row is not None
        who = mask_phone(part.source)
        if row.handled_at is not None:
            if now - row.handled_at < REDELIVERY_WINDOW:
                late = "delivered again" if str(number) in row.parts else "too late, dropped"
                log.info("smpp: part %d/%d of a message from %s %s", number, total, who, late)
                return
            # The phone's reference came round again: a new message.
            row.parts, row.first_at, row.handled_at = {}, now, None
        if str(number) in row.parts:
            log.info("smpp: part %d/%d of a message from %s delivered again", number, total, who)
            return
        row.parts = {**row.parts, str(number): part.text}
        if len(row.parts) == total:
            self._whole(session, row, now)

    def _whole(self, session: Session, row: PartialInbound, now: dt.datetime) -> None:
        numbers = sorted(int(number) for number in row.parts)
        text = "".join(row.parts[str(number)] for number in numbers)
        row.handled_at = now
        self._handle(session, MobileOriginated(row.sender, row.recipient, text), now)

    def expire_parts(self, limit: int = 50) -> int:
        """Messages still missing parts after `concat_expiry_minutes`: handled with what came
        (logged); handled rows past the redelivery window: deleted. Returns how many expired."""
        runtime = self.runtime
        now = runtime.clock.now()
        expiry = dt.timedelta(minutes=runtime.settings.sms.smpp.concat_expiry_minutes)
        with runtime.sessions() as session, session.begin():
            rows = list(
                session.scalars(
                    select(PartialInbound)
                    .where(
                        PartialInbound.handled_at.is_(None),
                        PartialInbound.first_at <= now - expiry,
                    )
                    .order_by(PartialInbound.first_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                missing = [n for n in range(1, row.total + 1) if str(n) not in row.parts]
                log.warning(
                    "smpp: a long message from %s still lacks part(s) %s of %d after %d min; "
                    "handled with the %d part(s) that came",
                    mask_phone(row.sender), missing, row.total, expiry.total_seconds() // 60,
                    len(row.parts),
                )  # fmt: skip
                self._whole(session, row, now)
            session.execute(
                delete(PartialInbound).where(PartialInbound.handled_at < now - REDELIVERY_WINDOW)
            )
        return len(rows)
