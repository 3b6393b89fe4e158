"""Asking the SMSC about notices whose delivery receipt never came (SMPP `query_sm`).

Off by default (`[sms.smpp] query_sm`): many SMSCs do not answer query_sm, and Jasmin drops the
bind on it. When on, the process holding the binds asks, once a minute, about at most
`query_sm_per_tick` notices that are `sent` with a message id and no receipt for
`query_sm_after_minutes`; the answer's message_state is applied as a receipt would be
(sms/receipts.py). A notice is asked about again only `query_sm_after_minutes` after its last
question, and never once `validity_hours` and a day have passed since it was sent (the SMSC has
forgotten it by then: it stays `sent`).

Only a message id the SMSC gave us can be asked about: a notice whose submit got no response
(`sending`, then `unknown`) has none, so it is never asked about and never resent.
Questions take slots of the account's rate, like sends (sms/dispatch.py `reserve_slots`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intake.clock import Clock
from plumbing.settings import Settings
from sms.dispatch import reserve_slots
from sms.gateways.base import TransientSendError
from sms.gateways.smpp_codec import Receipt
from sms.models import Notice, NoticeStatus
from sms.outbox import REPLY_KINDS
from sms.receipts import apply_receipt

log = logging.getLogger(__name__)


class QueryGateway(Protocol):
    name: str
    rate_per_second: float
    query_refused: str | None

    def may_send(self) -> bool: ...

    def query(self, message_id: str, *, reply: bool = False) -> Receipt | None: ...


def query_overdue(
    sessions: sessionmaker[Session],
    gateway: QueryGateway,
    settings: Settings,
    clock: Clock,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """One round of questions (module docstring); returns how many notices it settled."""
    smpp = settings.sms.smpp
    if not smpp.query_sm or not gateway.may_send() or gateway.query_refused:
        return 0  # off, standing by, or the SMSC refused query_sm (logged when it did)
    now = clock.now()
    quiet = dt.timedelta(minutes=smpp.query_sm_after_minutes)
    forgotten = now - dt.timedelta(hours=smpp.validity_hours + 24)
    with sessions() as session, session.begin():
        due = list(
            session.scalars(
                select(Notice)
                .where(
                    Notice.status == NoticeStatus.SENT,
                    Notice.gateway == gateway.name,
                    Notice.provider_id.is_not(None),
                    Notice.sent_at <= now - quiet,
                    Notice.sent_at > forgotten,
                    Notice.updated_at <= now - quiet,
                )
                .order_by(Notice.updated_at)
                .limit(smpp.query_sm_per_tick)
                .with_for_update(skip_locked=True)
            )
        )
        # Stamped before asking: another process skips them, and the next question waits.
        for notice in due:
            notice.updated_at = now
        questions = [(n.id, str(n.provider_id), n.kind in REPLY_KINDS) for n in due]
    if not questions:
        return 0
    slots = reserve_slots(sessions, gateway.name, len(questions), gateway.rate_per_second, now)
    settled = 0
    for (notice_id, message_id, reply), at in zip(questions, slots, strict=True):
        wait = (at - clock.now()).total_seconds()
        if wait > 0:
            sleep(wait)
        try:
            receipt = gateway.query(message_id, reply=reply)
        except TransientSendError as error:
            log.warning("smpp: query_sm for notice %d not answered: %s", notice_id, error)
            break
        if receipt is None:
            continue
        status = receipt.provider_status
        if status in (None, "sent"):
            log.info("smpp: notice %d (%s) still %s at the SMSC", notice_id, message_id,
                     receipt.stat)  # fmt: skip
            continue
        with sessions() as session, session.begin():
            apply_receipt(
                session,
                provider_id=message_id,
                provider_status=status,
                now=clock.now(),
                notice_id=notice_id,
                error_code=None if receipt.stat == "DELIVRD" else receipt.stat,
            )
        log.info("smpp: notice %d settled by query_sm: %s", notice_id, receipt.stat)
        settled += 1
    return settled
