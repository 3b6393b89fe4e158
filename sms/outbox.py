"""The outbox: `enqueue` is the only way to send an SMS; `dispatch_due` the only gateway caller.

A notice moves pending -> sending -> sent (-> delivered / undelivered) or -> failed. Each move is a
guarded UPDATE on the status it expects, so a notice already past `pending` is never sent again,
and a slow receipt can never drag a notice backwards.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.clock import Clock
from intake.errors import InvalidInput
from intake.models import Dossier
from intake.phone import mask_phone, parse_phone
from sms.gateways.base import OutgoingSms, SendError, SmsGateway
from sms.models import Notice, NoticeStatus
from sms.quiet_hours import next_sending_time
from sms.templates import render
from tongdai.settings import Settings

log = logging.getLogger(__name__)

# Notices that answer something the citizen just did: they are awake and waiting for it.
URGENT_KINDS = frozenset(
    {"receipt", "status_reply", "not_found", "help", "opted_out", "opted_in", "rating_thanks"}
)
# Retry delays after a transient failure (the scheduler issue adds jitter and a horizon).
RETRY_DELAYS = (30, 120, 600, 1800, 3600)


def enqueue(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    phone: str,
    values: Mapping[str, object],
    now: dt.datetime,
    dossier: Dossier | None = None,
) -> Notice | None:
    """Render and queue one SMS. Returns None (and flags the dossier) for a number that cannot
    receive SMS, so staff phone the citizen instead."""
    try:
        number = parse_phone(phone)
    except InvalidInput:
        number = None
    if number is None or not number.can_receive_sms:
        log.info("sms: %s not queued, %s cannot receive SMS", kind, mask_phone(phone))
        if dossier is not None:
            dossier.needs_phone_call = True
        return None
    rendered = render(settings, kind, values)
    urgent = kind in URGENT_KINDS
    notice = Notice(
        dossier_id=dossier.id if dossier is not None else None,
        kind=kind,
        phone=number.e164,
        text=rendered.text,
        encoding=str(rendered.measure.encoding),
        segments=rendered.measure.segments,
        urgent=urgent,
        status=NoticeStatus.PENDING,
        next_attempt_at=now if urgent else next_sending_time(settings, now),
        created_at=now,
        updated_at=now,
    )
    session.add(notice)
    session.flush()
    return notice


@dataclass
class DispatchReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)


def claim_due(session: Session, now: dt.datetime, limit: int) -> list[Notice]:
    """Lock and claim due pending rows. SKIP LOCKED lets several dispatchers share the work."""
    query = (
        select(Notice)
        .where(Notice.status == NoticeStatus.PENDING, Notice.next_attempt_at <= now)
        .order_by(Notice.next_attempt_at, Notice.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    notices = list(session.scalars(query))
    for notice in notices:
        notice.status = NoticeStatus.SENDING
        notice.claimed_at = now
        notice.attempts += 1
        notice.updated_at = now
    return notices


def dispatch_due(
    sessions: sessionmaker[Session],
    gateway: SmsGateway,
    settings: Settings,
    clock: Clock,
    *,
    limit: int = 100,
) -> DispatchReport:
    """Send what is due. The claim commits before the gateway is called and no session is open
    during the call; a crash after the claim leaves the row in `sending` for recovery."""
    report = DispatchReport()
    with sessions() as session, session.begin():
        claimed = [
            OutgoingSms(n.id, n.phone, n.text, settings.sms.sender)
            for n in claim_due(session, clock.now(), limit)
        ]
    for message in claimed:
        try:
            accepted = gateway.send(message)
        except SendError as error:
            _record_failure(sessions, gateway, message, error, clock.now(), report)
            continue
        _record_sent(sessions, gateway, message, accepted.provider_id, accepted.provider_status,
                     clock.now())  # fmt: skip
        report.sent.append(message.notice_id)
    return report


def _record_sent(sessions, gateway, message, provider_id, provider_status, now) -> None:
    with sessions() as session, session.begin():
        result = session.execute(
            update(Notice)
            .where(Notice.id == message.notice_id, Notice.status == NoticeStatus.SENDING)
            .values(
                status=NoticeStatus.SENT,
                provider_id=provider_id,
                gateway=gateway.name,
                provider_status=provider_status,
                sent_at=now,
                updated_at=now,
            )  # fmt: skip
        )
        if result.rowcount == 0:
            # A delivery receipt overtook us: keep its status, just remember the provider id.
            session.execute(
                update(Notice)
                .where(Notice.id == message.notice_id, Notice.provider_id.is_(None))
                .values(provider_id=provider_id, gateway=gateway.name, sent_at=now)
            )
    log.info("sms: notice %d sent to %s as %s", message.notice_id, mask_phone(message.to),
             provider_id)  # fmt: skip


def _record_failure(sessions, gateway, message, error: SendError, now, report) -> None:
    with sessions() as session, session.begin():
        notice = session.get(Notice, message.notice_id)
        if notice is None or notice.status is not NoticeStatus.SENDING:
            return
        notice.gateway = gateway.name
        notice.error_code = error.code
        notice.error = str(error)
        notice.updated_at = now
        if error.permanent or notice.attempts > len(RETRY_DELAYS):
            notice.status = NoticeStatus.FAILED
            notice.settled_at = now
            report.failed.append(notice.id)
            log.warning("sms: notice %d failed for good: %s %s", notice.id, error.code, error)
        else:
            notice.status = NoticeStatus.PENDING
            notice.next_attempt_at = now + dt.timedelta(seconds=RETRY_DELAYS[notice.attempts - 1])
            report.retrying.append(notice.id)
            log.info("sms: notice %d will retry at %s: %s", notice.id,
                     notice.next_attempt_at.isoformat(), error)  # fmt: skip
