"""Which notices become phone calls (README, "Notice calls"): the queue side. Placing the calls,
the calling hours, the line limit and the outcomes are ivr/notice_calls.py's.

- A notice of a `[notice_calls] kinds` kind to a landline: no SMS can go, so the call is queued
  at once (`pending`).
- The same kinds to a mobile: the call is queued `held` beside the SMS, with the same values.
  `promote_held` (run by the scheduler) makes it `pending` when the SMS failed (not for an
  "invalid number" failure), or has no delivery receipt `no_receipt_hours` after it was sent; a
  delivered SMS, or an invalid number, makes it `not_needed`.
- Any other kind (receipts, surveys, replies) is never called.
- A call not yet placed is `cancelled` once its notice is no longer worth saying
  (intake/notice_worth.py): `cancel_outdated` runs when the dossier changes status (the notice
  rules' event scan), when the SMS's delivery receipt comes in (sms/receipts.py), and in the
  transaction that claims due calls (ivr/notice_calls.py), so no call is placed for news the
  dossier has left behind.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.models import Dossier
from intake.notice_worth import reason_to_drop
from intake.phone import PhoneNumber
from plumbing.settings import Settings
from sms.models import Notice, NoticeCall, NoticeCallStatus, NoticeStatus
from sms.models.notice_call import NOT_PLACED

log = logging.getLogger(__name__)
NOT_DELIVERED = (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED)
AWAITING_RECEIPT = (NoticeStatus.SENT, NoticeStatus.UNKNOWN)


def is_called(settings: Settings, kind: str) -> bool:
    calls = settings.notice_calls
    return calls.enabled and kind in calls.kinds


def queue_notice_call(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    number: PhoneNumber,
    values: Mapping[str, object],
    now: dt.datetime,
    dossier: Dossier | None,
    notice: Notice | None,
    dedupe_key: str | None,
) -> NoticeCall | None:
    """Queue the call for a notice: `pending` for a landline (no `notice`), `held` beside an
    SMS. None when the kind is never called, or a call with `dedupe_key` exists already."""
    if not is_called(settings, kind):
        return None
    call = NoticeCall(
        dossier_id=dossier.id if dossier is not None else None,
        notice_id=notice.id if notice is not None else None,
        kind=kind,
        values=_plain(values),
        dedupe_key=dedupe_key,
        phone=number.e164,
        status=NoticeCallStatus.PENDING if notice is None else NoticeCallStatus.HELD,
        history=[],
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    if dedupe_key is not None:
        taken = select(NoticeCall.id).where(NoticeCall.dedupe_key == dedupe_key)
        if session.scalar(taken) is not None:
            return None
    try:
        with session.begin_nested():
            session.add(call)
            session.flush()
    except IntegrityError:  # another scanner queued it between our check and our insert
        return None
    return call


def promote_held(
    session: Session, settings: Settings, now: dt.datetime, limit: int = 500
) -> tuple[int, int]:
    """Held calls whose SMS did not reach the citizen become due; those whose SMS did (or whose
    number does not exist) are not needed. Returns (promoted, not needed)."""
    calls = settings.notice_calls
    invalid = list(calls.invalid_number_codes)
    waited = now - dt.timedelta(hours=calls.no_receipt_hours)
    rows = session.execute(
        select(NoticeCall, Notice)
        .join(Notice, Notice.id == NoticeCall.notice_id)
        .where(
            NoticeCall.status == NoticeCallStatus.HELD,
            or_(
                Notice.status.in_(NOT_DELIVERED),
                Notice.status == NoticeStatus.DELIVERED,
                and_(
                    Notice.status.in_(AWAITING_RECEIPT),
                    func.coalesce(Notice.sent_at, Notice.updated_at) <= waited,
                ),
            ),
        )
        .order_by(NoticeCall.id)
        .limit(limit)
        .with_for_update(of=NoticeCall, skip_locked=True)
    ).all()
    promoted = not_needed = 0
    for call, notice in rows:
        call.updated_at = now
        if notice.status is NoticeStatus.DELIVERED or (
            notice.status in NOT_DELIVERED and notice.error_code in invalid
        ):
            call.status = NoticeCallStatus.NOT_NEEDED
            call.finished_at = now
            call.result = (
                "tin nhắn đã đến" if notice.status is NoticeStatus.DELIVERED else "số không tồn tại"
            )
            not_needed += 1
            continue
        call.status = NoticeCallStatus.PENDING
        call.next_attempt_at = now
        call.result = (
            "tin nhắn không gửi được"
            if notice.status in NOT_DELIVERED
            else "tin nhắn chưa có báo nhận"
        )
        promoted += 1
    if promoted:
        log.info("notice calls: %d held call(s) due, their SMS did not arrive", promoted)
    return promoted, not_needed


def cancel_outdated(
    session: Session, now: dt.datetime, *where: ColumnElement[bool], limit: int = 500
) -> int:
    """Cancel the calls not yet placed (and matching `where`) whose notice is no longer worth
    saying: the dossier moved on, or (for a call already due) its SMS was delivered after all. A
    held call whose SMS arrives is `promote_held`'s to settle (not needed: it never was due).
    Rows another transaction holds are skipped: the next look settles them. Returns how many."""
    rows = session.execute(
        select(NoticeCall, Dossier.status, Notice.status)
        .outerjoin(Dossier, Dossier.id == NoticeCall.dossier_id)
        .outerjoin(Notice, Notice.id == NoticeCall.notice_id)
        .where(NoticeCall.status.in_(NOT_PLACED), *where)
        .order_by(NoticeCall.id)
        .limit(limit)
        .with_for_update(of=NoticeCall, skip_locked=True)
    ).all()
    cancelled = 0
    for call, dossier_status, notice_status in rows:
        received = (
            call.status is NoticeCallStatus.PENDING and notice_status is NoticeStatus.DELIVERED
        )
        why = reason_to_drop(call.kind, dossier_status, received=received)
        if why is None:
            continue
        call.status, call.result = NoticeCallStatus.CANCELLED, why
        call.finished_at = call.updated_at = now
        cancelled += 1
        log.info("notice call %d cancelled: %s", call.id, why)
    return cancelled


def _plain(values: Mapping[str, object]) -> dict[str, Any]:
    """The values as JSON can keep them: dates as ISO strings, lists as lists of text."""
    plain: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dt.date | dt.datetime):
            plain[key] = value.isoformat()
        elif isinstance(value, list | tuple):
            plain[key] = [str(item) for item in value]
        elif value is None or isinstance(value, bool | int | float | str):
            plain[key] = value
        else:
            plain[key] = str(value)
    return plain
