"""The dispatcher: the only code that calls an SMS gateway.

A notice moves pending -> sending -> sent (-> delivered / undelivered), or -> failed. Every move
is an UPDATE guarded by the status it expects, so a notice already past `pending` is never sent
again and a slow receipt never drags one backwards.

Several dispatcher processes share the work: claims use FOR UPDATE SKIP LOCKED and commit before
any gateway call, and no database session is open during the call. The claim, the re-stamp just
before each call, the guarded moves, the backoff and the batch loop are the queue skeleton's
(plumbing/queue.py); what is the outbox's own is here: the rate per gateway, the outcome of a
send, and settling unknown notices from the provider.

Crash window (README, "The outbox"): a dispatcher killed between the provider accepting a message
and our commit of "sent" leaves the row in `sending`. After `unknown_after_seconds` it becomes
`unknown` and is settled from the provider (its own look-up of messages to that phone since the
claim; the status callback URL also carries the notice id): found -> sent, never accepted ->
pending again. So only a message the provider never accepted is ever sent again. The window
must be longer than a gateway call can take (the Twilio client times out after 10 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.clock import Clock
from intake.phone import mask_phone
from plumbing import queue
from plumbing.queue import Claimed, WorkQueue
from plumbing.settings import Settings
from sms.gateways.base import Accepted, LookupGateway, OutgoingSms, SendError, SmsGateway
from sms.models import Notice, NoticeStatus
from sms.models.rate_limit import lock_row
from sms.outbox import REPLY_KINDS

log = logging.getLogger(__name__)
NOTICES = WorkQueue(Notice, NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.UNKNOWN)
# Fault-injection points for the crash tests: a checkpoint callback is called with these names.
AFTER_CLAIM, AFTER_ACCEPTED, AFTER_RECORD = queue.AFTER_CLAIM, queue.AFTER_CALL, queue.AFTER_RECORD


@dataclass
class DispatchReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    settled: int = 0

    @property
    def claimed(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)


def retry_delay(settings: Settings, attempts: int) -> float:
    """Exponential backoff with ±50 % jitter, so retries after an outage do not arrive at once."""
    scheduler = settings.scheduler
    return queue.backoff_delay(
        attempts, scheduler.retry_base_seconds, scheduler.retry_max_delay_seconds
    )


def claim_due(session: Session, now: dt.datetime, limit: int) -> list[Notice]:
    """Lock and claim due pending rows; SKIP LOCKED lets several dispatchers share the work."""
    return NOTICES.claim(session, now, limit)


def reserve_slots(
    sessions: sessionmaker[Session], gateway: str, count: int, rate: float, now: dt.datetime
) -> list[dt.datetime]:
    """Times at which `count` messages may go, under `rate` per second for this gateway across
    every dispatcher process (the row is the shared token bucket, locked while it moves)."""
    if rate <= 0 or count == 0:
        return [now] * count
    step = dt.timedelta(seconds=1 / rate)
    with sessions() as session, session.begin():
        row = lock_row(session, gateway, now)
        start = max(row.next_free_at, now)
        row.next_free_at = start + step * count
    return [start + step * i for i in range(count)]


def dispatch_due(
    sessions: sessionmaker[Session],
    gateway: SmsGateway,
    settings: Settings,
    clock: Clock,
    *,
    limit: int = 100,
    sleep: Callable[[float], None] = time.sleep,
    checkpoint: Callable[[str], None] = lambda point: None,
) -> DispatchReport:
    """Settle what crashed dispatchers left, then send what is due."""
    report = DispatchReport()
    if not getattr(gateway, "may_send", lambda: True)():
        # A process standing by for the one holding the account's SMPP binds leaves the outbox
        # to it: claimed here, a notice could only wait for a bind this process will not get.
        return report
    report.settled = settle_unknown(sessions, gateway, settings, clock)
    # An account's own rate (SMPP's rate_per_second) wins over the scheduler's default.
    rate = getattr(gateway, "rate_per_second", settings.scheduler.rate_per_second)

    def sent(claimed: Claimed[OutgoingSms], accepted: Accepted) -> None:
        _record_sent(sessions, gateway, claimed.job, accepted, clock.now())
        report.sent.append(claimed.id)

    def failed(claimed: Claimed[OutgoingSms], error: Exception) -> None:
        assert isinstance(error, SendError)
        _record_failure(
            sessions, gateway, settings, claimed.job, claimed.attempt, error, clock.now(), report
        )

    # A gateway that cannot be asked about a message (SMPP: no message id without a response)
    # claims one notice at a time, so a dispatcher that dies leaves only the notice of the call
    # under way in doubt, not the rest of its batch (those would stay `unknown` for good).
    one_by_one = not isinstance(gateway, LookupGateway)
    rounds = iter(range(limit if one_by_one else 1))

    def claim_and_send() -> None:
        while next(rounds, None) is not None:
            claimed = queue.run_batch(
                NOTICES,
                sessions,
                clock.now,
                limit=1 if one_by_one else limit,
                describe=lambda n: OutgoingSms(
                    n.id, n.phone, n.text, settings.sms.sender, reply=n.kind in REPLY_KINDS
                ),
                call=gateway.send,
                succeeded=sent,
                failed=failed,
                errors=(SendError,),
                pace=lambda count: reserve_slots(sessions, gateway.name, count, rate, clock.now()),
                sleep=sleep,
                checkpoint=checkpoint,
            )
            if not claimed:
                return

    # A gateway with a window (SMPP) may have that many sends outstanding: as many senders,
    # each claiming and sending one notice at a time.
    senders = getattr(gateway, "window", 1) if one_by_one else 1
    if senders <= 1:
        claim_and_send()
        return report
    crashed: list[BaseException] = []

    def sender() -> None:
        try:
            claim_and_send()
        except BaseException as error:  # raised again below, in the caller's thread
            crashed.append(error)

    threads = [threading.Thread(target=sender, name=f"dispatch-{n}") for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if crashed:
        raise crashed[0]
    return report


def _record_sent(
    sessions, gateway, message: OutgoingSms, accepted: Accepted, now: dt.datetime
) -> None:
    with sessions() as session, session.begin():
        moved = NOTICES.move(
            session,
            message.notice_id,
            expected=[NoticeStatus.SENDING, NoticeStatus.UNKNOWN],
            status=NoticeStatus.SENT,
            provider_id=accepted.provider_id,
            gateway=gateway.name,
            provider_status=accepted.provider_status,
            sent_at=now,
            updated_at=now,
        )
        if not moved:
            # A delivery receipt overtook us: keep its status, just remember the provider id
            # (the receipt may have filed it already) and when it was sent.
            same_message = or_(
                Notice.provider_id.is_(None), Notice.provider_id == accepted.provider_id
            )
            session.execute(
                update(Notice)
                .where(Notice.id == message.notice_id, same_message, Notice.sent_at.is_(None))
                .values(provider_id=accepted.provider_id, gateway=gateway.name, sent_at=now)
            )
    log.info(
        "sms: notice %d sent to %s as %s",
        message.notice_id,
        mask_phone(message.to),
        accepted.provider_id,
    )


def _record_failure(
    sessions,
    gateway,
    settings: Settings,
    message: OutgoingSms,
    attempt: int,
    error: SendError,
    now: dt.datetime,
    report: DispatchReport,
) -> None:
    with sessions() as session, session.begin():
        notice = session.get(Notice, message.notice_id, with_for_update=True)
        if notice is None or notice.status is not NoticeStatus.SENDING:
            return
        if notice.attempts != attempt:  # settled and claimed again by another dispatcher
            return
        notice.gateway = gateway.name
        notice.error_code = error.code
        notice.error = str(error)[:1000]
        notice.updated_at = now
        if error.uncertain:
            # It may have been accepted: stay `sending` (claimed_at is when the call began), so
            # settle_unknown asks the provider once the window has passed.
            report.retrying.append(notice.id)
            log.info("sms: notice %d in doubt, to be looked up: %s", notice.id, error)
            return
        horizon = notice.created_at + dt.timedelta(hours=settings.scheduler.retry_horizon_hours)
        retry_at = now + dt.timedelta(seconds=retry_delay(settings, notice.attempts))
        if error.permanent or retry_at > horizon:
            notice.status = NoticeStatus.FAILED
            notice.settled_at = now
            if not error.permanent:
                notice.error = f"retries exhausted after {notice.attempts} attempts: {error}"[:1000]
            report.failed.append(notice.id)
            log.warning("sms: notice %d failed for good: %s %s", notice.id, error.code, error)
        else:
            notice.status = NoticeStatus.PENDING
            notice.next_attempt_at = retry_at
            report.retrying.append(notice.id)
            log.info("sms: notice %d will retry at %s: %s", notice.id, retry_at.isoformat(), error)


def settle_unknown(
    sessions: sessionmaker[Session],
    gateway: SmsGateway,
    settings: Settings,
    clock: Clock,
    *,
    limit: int = 50,
) -> int:
    """Rows left in `sending` by a dead dispatcher become `unknown`, then are settled from the
    provider before anything is resent. Returns how many were settled."""
    now = clock.now()
    window = dt.timedelta(seconds=settings.scheduler.unknown_after_seconds)
    with sessions() as session, session.begin():
        NOTICES.mark_stale(session, now, window)
        unknown = list(
            session.scalars(
                select(Notice)
                .where(Notice.status == NoticeStatus.UNKNOWN)
                .order_by(Notice.claimed_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        checks = [
            (OutgoingSms(n.id, n.phone, n.text, settings.sms.sender), n.claimed_at, n.attempts)
            for n in unknown
        ]
    if not isinstance(gateway, LookupGateway):
        if checks:
            log.warning(
                "sms: %d notice(s) unknown and %s cannot look them up; staff must check",
                len(checks),
                gateway.name,
            )
        return 0
    settled = 0
    for message, since, attempt in checks:
        try:
            found = gateway.lookup(message, since)
        except SendError as error:
            log.warning("sms: cannot settle notice %d yet: %s", message.notice_id, error)
            continue
        with sessions() as session, session.begin():
            if found is not None:
                values = {
                    "status": NoticeStatus.SENT,
                    "provider_id": found.provider_id,
                    "provider_status": found.provider_status,
                    "gateway": gateway.name,
                    "sent_at": now,
                }
                log.info(
                    "sms: notice %d was accepted before the crash (%s)",
                    message.notice_id,
                    found.provider_id,
                )
            else:
                values = {"status": NoticeStatus.PENDING, "next_attempt_at": now}
                log.info(
                    "sms: notice %d never reached the provider; sending it again", message.notice_id
                )
            NOTICES.move(
                session,
                message.notice_id,
                expected=[NoticeStatus.UNKNOWN],
                attempt=attempt,
                updated_at=now,
                **values,
            )
        settled += 1
    return settled
