"""Notice calls: placing them, when, on how many lines, and what each outcome leads to.

Which notices are called is sms/notice_calls.py's. Here, on the queue skeleton
(plumbing/queue.py): pending -> dialing (claimed with SKIP LOCKED and committed) -> the front end
places the call with no session open -> calling -> done (reached), or pending again on a later
day (busy, no answer, failed), or gave_up after the last of `retry_days` with a call-back task
for staff that carries the history.

- Calls start only inside `[notice_calls] hours` on working days (the shared calendar).
- Lines: at most `max_lines` notice calls at once, and never so many that fewer than
  `keep_free_lines` of the `trunk_lines` stay free for incoming callers. The count and the claim
  happen under one lock (the `notice_calls` row of the rate-limit table), so two processes cannot
  both take the last line.
- A due call whose notice is no longer worth saying (the dossier moved on, the SMS arrived
  after all: intake/notice_worth.py) is cancelled in the claim's transaction, not placed.
- A call found dialing or calling after `call_timeout_seconds` lost its outcome (a process died,
  an event was missed): it counts as a failed attempt and is retried on a later day, since a
  second ringing days later is what the citizen would get anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.calendar import WorkingCalendar
from intake.models import Dossier
from intake.office_hours import Windows, is_open, next_open_time
from intake.phone import mask_phone, parse_phone
from ivr.models import CallbackRequest, IvrCall
from ivr.notice_voice import notice_parts
from plumbing import queue
from plumbing.queue import Claimed, WorkQueue
from plumbing.settings import Settings, parse_hours
from sms.models import NoticeCall, NoticeCallOutcome, NoticeCallStatus
from sms.models.notice_call import ON_THE_LINE, REACHED
from sms.models.rate_limit import lock_row
from sms.notice_calls import cancel_outdated

log = logging.getLogger(__name__)
NOTICE_CALLS = WorkQueue(
    NoticeCall, NoticeCallStatus.PENDING, NoticeCallStatus.DIALING, NoticeCallStatus.UNKNOWN
)
NOTICE_CONTEXT = "tongdai-notice"
LINES_LOCK = "notice_calls"  # the rate-limit row locked while lines are counted and claimed
# An incoming call with no end for this long lost its end (a crashed process): not on a line.
INCOMING_LONGEST = dt.timedelta(hours=1)
CALLBACK_REASON = "notice_call"
OUTCOME_WORDS = {
    NoticeCallOutcome.CONFIRMED: "nghe và xác nhận",
    NoticeCallOutcome.ANSWERED: "nghe máy, chưa xác nhận",
    NoticeCallOutcome.BUSY: "máy bận",
    NoticeCallOutcome.NO_ANSWER: "không nghe máy",
    NoticeCallOutcome.FAILED: "không gọi được",
}


class NoticeCallError(Exception):
    """The front end could not place the call (refused, unreachable, timed out)."""


@dataclass(frozen=True)
class PlacedCall:
    """What a front end needs to place one notice call."""

    call_id: int
    attempt: int
    phone: str  # E.164
    national: str  # 0...
    caller_id: str


@dataclass
class NoticeCallReport:
    placed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    timed_out: int = 0


# ---- when --------------------------------------------------------------------------------------


def calling_windows(settings: Settings) -> Windows:
    return parse_hours(settings.notice_calls.hours)


def in_calling_hours(settings: Settings, calendar: WorkingCalendar, at: dt.datetime) -> bool:
    return is_open(calendar, calling_windows(settings), at)


def next_calling_time(
    settings: Settings, calendar: WorkingCalendar, at: dt.datetime
) -> dt.datetime:
    """`at` if it is inside the calling hours of a working day, else the next such start."""
    return next_open_time(calendar, calling_windows(settings), at)


def retry_time(
    settings: Settings, calendar: WorkingCalendar, attempt: int, now: dt.datetime
) -> dt.datetime | None:
    """When to try again after the `attempt`-th call did not reach the citizen: `retry_days`
    later, at the first calling time from then; None after the last."""
    days = settings.notice_calls.retry_days
    if attempt > len(days):
        return None
    return next_calling_time(settings, calendar, now + dt.timedelta(days=days[attempt - 1]))


# ---- how many ----------------------------------------------------------------------------------


def lines_free(session: Session, settings: Settings, now: dt.datetime) -> int:
    """How many notice calls may start now: under `max_lines`, and leaving `keep_free_lines` of
    the trunk free beside the incoming calls in progress."""
    calls = settings.notice_calls
    ours = session.scalar(
        select(func.count()).select_from(NoticeCall).where(NoticeCall.status.in_(ON_THE_LINE))
    )
    incoming = session.scalar(
        select(func.count())
        .select_from(IvrCall)
        .where(IvrCall.ended_at.is_(None), IvrCall.started_at > now - INCOMING_LONGEST)
    )
    return max(
        0, min(calls.max_lines - ours, calls.trunk_lines - calls.keep_free_lines - ours - incoming)
    )


def claimable(
    settings: Settings, calendar: WorkingCalendar
) -> Callable[[Session, dt.datetime], int]:
    """The claim's limit: nothing outside the calling hours, else the free lines, counted under
    a lock so that two processes cannot both take the last one. Due calls whose notice is no
    longer worth saying are cancelled first, in the same transaction as the claim."""

    def limit(session: Session, now: dt.datetime) -> int:
        if not in_calling_hours(settings, calendar, now):
            return 0
        lock_row(session, LINES_LOCK, now)
        free = lines_free(session, settings, now)
        if free:
            # In the claim's own transaction: a call whose dossier moved on is not placed.
            cancel_outdated(
                session, now, NoticeCall.status == NoticeCallStatus.PENDING,
                NoticeCall.next_attempt_at <= now,
            )  # fmt: skip
        return free

    return limit


# ---- placing -----------------------------------------------------------------------------------


def describe(call: NoticeCall, settings: Settings) -> PlacedCall:
    return PlacedCall(
        call_id=call.id,
        attempt=call.attempts,
        phone=call.phone,
        national=parse_phone(call.phone).national,
        caller_id=settings.notice_calls.caller_id or settings.centre.hotline,
    )


def place_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    calendar: WorkingCalendar,
    now: Callable[[], dt.datetime],
    place: Callable[[PlacedCall], str],
    *,
    sleep: Callable[[float], None] | None = None,
) -> NoticeCallReport:
    """Settle calls that lost their outcome, then place what is due on the free lines. `place`
    returns the front end's id for the call once it is being rung, or raises NoticeCallError;
    no session is open while it runs. The outcome arrives later (`record_outcome`)."""
    report = NoticeCallReport()
    report.timed_out = settle_lost(sessions, settings, calendar, now())
    pace = dt.timedelta(seconds=settings.notice_calls.pace_seconds)

    def placed(claimed: Claimed[PlacedCall], provider_call_id: str) -> None:
        with sessions() as session, session.begin():
            at = now()
            NOTICE_CALLS.move(
                session,
                claimed.id,
                expected=[NoticeCallStatus.DIALING],
                attempt=claimed.attempt,
                status=NoticeCallStatus.CALLING,
                provider_call_id=provider_call_id[:64],
                updated_at=at,
            )
        report.placed.append(claimed.id)
        log.info("notice call %d placed to %s", claimed.id, mask_phone(claimed.job.phone))

    def failed(claimed: Claimed[PlacedCall], error: Exception) -> None:
        with sessions() as session, session.begin():
            record_outcome(
                session,
                settings,
                calendar,
                claimed.id,
                NoticeCallOutcome.FAILED,
                now(),
                attempt=claimed.attempt,
                detail=str(error),
            )
        report.failed.append(claimed.id)
        log.warning("notice call %d attempt %d failed: %s", claimed.id, claimed.attempt, error)

    def slots(count: int) -> list[dt.datetime]:
        start = now()
        return [start + pace * index for index in range(count)]

    queue.run_batch(
        NOTICE_CALLS,
        sessions,
        now,
        limit=claimable(settings, calendar),
        describe=lambda call: describe(call, settings),
        call=place,
        succeeded=placed,
        failed=failed,
        errors=(NoticeCallError,),
        pace=slots,
        **({"sleep": sleep} if sleep is not None else {}),
    )
    return report


# ---- outcomes ----------------------------------------------------------------------------------


def record_outcome(
    session: Session,
    settings: Settings,
    calendar: WorkingCalendar,
    call_id: int,
    outcome: NoticeCallOutcome,
    now: dt.datetime,
    *,
    attempt: int | None = None,
    detail: str = "",
) -> bool:
    """How an attempt ended: done when the citizen was reached; otherwise a retry on a later
    day, or, after the last, gave_up with a call-back task for staff. A confirmation may follow
    an "answered" already recorded (the citizen pressed 2 after the AGI reported the answer).
    False when the row had already moved on (a late or repeated report)."""
    call = session.get(NoticeCall, call_id, with_for_update=True)
    if call is None or (attempt is not None and call.attempts != attempt):
        return False
    upgrade = (
        call.status is NoticeCallStatus.DONE
        and call.outcome is NoticeCallOutcome.ANSWERED
        and outcome is NoticeCallOutcome.CONFIRMED
    )
    if call.status not in ON_THE_LINE and not upgrade:
        return False
    entry: dict[str, Any] = {
        "at": now.isoformat(),
        "outcome": str(outcome),
        "attempt": call.attempts,
    }
    if detail:
        entry["detail"] = detail[:300]
    history = [
        entry for entry in call.history if not (upgrade and entry["attempt"] == call.attempts)
    ]
    call.history = [*history, entry]
    call.outcome = outcome
    call.updated_at = now
    if outcome in REACHED:
        call.status = NoticeCallStatus.DONE
        call.finished_at = now
        call.result = OUTCOME_WORDS[outcome]
        return True
    retry = retry_time(settings, calendar, call.attempts, now)
    if retry is not None:
        call.status = NoticeCallStatus.PENDING
        call.next_attempt_at = retry
        call.result = OUTCOME_WORDS[outcome]
        return True
    call.status = NoticeCallStatus.GAVE_UP
    call.finished_at = now
    call.result = f"{OUTCOME_WORDS[outcome]} sau {call.attempts} lần gọi"
    session.add(
        CallbackRequest(
            dossier_id=call.dossier_id,
            phone=call.phone,
            reason=CALLBACK_REASON,
            note=history_text(settings, call),
            created_at=now,
        )
    )
    return True


def history_text(settings: Settings, call: NoticeCall) -> str:
    """For staff: every attempt in local time, e.g. "03/12 08:00 không nghe máy; ..."."""
    parts = []
    for entry in call.history:
        at = dt.datetime.fromisoformat(entry["at"]).astimezone(settings.zone)
        words = OUTCOME_WORDS.get(NoticeCallOutcome(entry["outcome"]), entry["outcome"])
        parts.append(f"{at:%d/%m %H:%M} {words}")
    return f"Gọi báo tin ({call.kind}) không được: " + "; ".join(parts)


def settle_lost(
    sessions: sessionmaker[Session],
    settings: Settings,
    calendar: WorkingCalendar,
    now: dt.datetime,
) -> int:
    """Calls dialing or calling longer than `call_timeout_seconds` lost their outcome: a failed
    attempt each (retried on a later day, or handed to staff)."""
    window = dt.timedelta(seconds=settings.notice_calls.call_timeout_seconds)
    with sessions() as session, session.begin():
        lost = list(
            session.scalars(
                select(NoticeCall.id).where(
                    NoticeCall.status.in_(ON_THE_LINE), NoticeCall.claimed_at < now - window
                )
            )
        )
        for call_id in lost:
            record_outcome(
                session,
                settings,
                calendar,
                call_id,
                NoticeCallOutcome.FAILED,
                now,
                detail="không có kết quả cuộc gọi",
            )
    if lost:
        log.warning("%d notice call(s) lost their outcome: counted as failed attempts", len(lost))
    return len(lost)


# ---- the answered call (any front end) ---------------------------------------------------------

ORIGINATE_OUTCOMES = {
    # AMI OriginateResponse "Reason" (Asterisk's enum ast_control_frame_type): 3 rang out,
    # 5 busy, 1 hung up before answering; anything else could not be placed.
    "3": NoticeCallOutcome.NO_ANSWER,
    "1": NoticeCallOutcome.NO_ANSWER,
    "5": NoticeCallOutcome.BUSY,
}
CALLBACK_REQUEST_REASON = "notice_call_request"


def notice_script(session: Session, settings: Settings, call_id: int) -> tuple[Any, ...] | None:
    """The parts the citizen hears (ivr/notice_voice.py), or None for an unknown call."""
    call = session.get(NoticeCall, call_id)
    if call is None:
        return None
    code = session.scalar(select(Dossier.code).where(Dossier.id == call.dossier_id))
    return notice_parts(settings.notice_calls.voice, call.kind, code, call.values)


def settle_answered(
    session: Session,
    settings: Settings,
    calendar: WorkingCalendar,
    call_id: int,
    outcome: NoticeCallOutcome,
    now: dt.datetime,
    *,
    callback: bool = False,
) -> None:
    """What the notice flow reports: answered, confirmed, or a call-back the citizen asked for
    outside office hours (pressed 0)."""
    record_outcome(session, settings, calendar, call_id, outcome, now)
    if callback:
        call = session.get(NoticeCall, call_id)
        if call is not None:
            session.add(
                CallbackRequest(
                    dossier_id=call.dossier_id,
                    phone=call.phone,
                    reason=CALLBACK_REQUEST_REASON,
                    note=f"Công dân nghe cuộc gọi báo tin ({call.kind}) và bấm 0 ngoài giờ.",
                    created_at=now,
                )
            )
