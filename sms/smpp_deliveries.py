"""What the SMPP bind receives, stored: delivery receipts and citizens' messages.

The gateway's reader thread calls `SmppDeliveries` for every deliver_sm and answers the SMSC
with success only when this returned True; otherwise the SMSC delivers it again later.

A deliver_sm carries no message id of its own, so an inbound message's key (the
`inbound_message.provider_id` that makes a redelivery count once) is a digest of what the
citizen sent: sender, recipient, text, and the ten-minute window it arrived in. An SMSC
redelivers within seconds or minutes when our answer was lost; the same words sent again in a
later window are a new question and get a new answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from intake.runtime import Runtime
from sms.gateways.smpp_codec import MobileOriginated, Receipt
from sms.inbound import InboundSms, handle_inbound
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
        message = InboundSms(
            provider="smpp",
            provider_id=inbound_key(delivery, now),
            sender=international_sender(delivery.source),
            recipient=delivery.destination,
            body=delivery.text,
        )
        with runtime.sessions() as session, session.begin():
            handle_inbound(
                session, message, settings=runtime.settings, calendar=runtime.calendar(), now=now
            )
        return True
