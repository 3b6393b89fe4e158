"""The questions staff pages and reports ask about notices and survey ratings: one named
function each, so no page builds its own query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plumbing.db import count_where
from sms.models import Notice, NoticeCall, NoticeCallStatus, NoticeStatus, SurveyRating

HELD = "held"  # pending, waiting for the end of quiet hours
FAILING = "failing"  # pending, a send already failed


@dataclass(frozen=True)
class NoticeFilters:
    """The outbox list's filters; empty leaves a filter out."""

    status: str = ""  # a NoticeStatus value, HELD or FAILING
    kind: str = ""
    phone: str = ""  # E.164


def notices_page(
    session: Session,
    filters: NoticeFilters,
    now: dt.datetime,
    *,
    after: int | None,
    limit: int,
) -> list[Notice]:
    """Notices newest first, by keyset on the id (`after`: the last id of the previous page)."""
    query = select(Notice)
    if filters.status == HELD:
        query = query.where(Notice.status == NoticeStatus.PENDING, Notice.next_attempt_at > now)
    elif filters.status == FAILING:
        query = query.where(Notice.status == NoticeStatus.PENDING, Notice.attempts > 0)
    elif filters.status in {s.value for s in NoticeStatus}:
        query = query.where(Notice.status == NoticeStatus(filters.status))
    if filters.kind:
        query = query.where(Notice.kind == filters.kind)
    if filters.phone:
        query = query.where(Notice.phone == filters.phone)
    if after is not None:
        query = query.where(Notice.id < after)
    return list(session.scalars(query.order_by(Notice.id.desc()).limit(limit)))


def notices_of_dossier(session: Session, dossier_id: int) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.dossier_id == dossier_id)))


def notice_calls_of_dossier(session: Session, dossier_id: int) -> list[NoticeCall]:
    """The dossier's notice calls, except those held beside an SMS that arrived (not needed)."""
    return list(
        session.scalars(
            select(NoticeCall).where(
                NoticeCall.dossier_id == dossier_id,
                NoticeCall.status != NoticeCallStatus.NOT_NEEDED,
            )
        )
    )


def notice_calls_by_notice(session: Session, notice_ids: set[int]) -> dict[int, NoticeCall]:
    """notice id -> the call that stands in for it (held, due, placed or ended)."""
    if not notice_ids:
        return {}
    calls = session.scalars(select(NoticeCall).where(NoticeCall.notice_id.in_(notice_ids)))
    return {call.notice_id: call for call in calls if call.notice_id is not None}


def recent_notice_calls(session: Session, limit: int) -> list[NoticeCall]:
    """The latest notice calls that were due (landlines, and SMS that did not arrive)."""
    quiet = (NoticeCallStatus.HELD, NoticeCallStatus.NOT_NEEDED)
    return list(
        session.scalars(
            select(NoticeCall)
            .where(NoticeCall.status.not_in(quiet))
            .order_by(NoticeCall.id.desc())
            .limit(limit)
        )
    )


def left_counts(
    session: Session, low: dt.datetime, high: dt.datetime
) -> list[tuple[str, NoticeStatus, int]]:
    """(kind, status, count) of notices that left the outbox in [low, high): sent, or failed
    without ever being accepted."""
    left_at = func.coalesce(Notice.sent_at, Notice.settled_at)
    return [
        (kind, status, count)
        for kind, status, count in session.execute(
            select(Notice.kind, Notice.status, func.count())
            .where(left_at >= low, left_at < high)
            .group_by(Notice.kind, Notice.status)
        )
    ]


def rating_counts(session: Session, low: dt.datetime, high: dt.datetime) -> list[tuple[int, int]]:
    """(rating, count) of survey ratings first received in [low, high)."""
    return [
        (rating, count)
        for rating, count in session.execute(
            select(SurveyRating.rating, func.count())
            .where(SurveyRating.received_at >= low, SurveyRating.received_at < high)
            .group_by(SurveyRating.rating)
        )
    ]


def queue_counts(
    session: Session, now: dt.datetime, failed_window: dt.timedelta
) -> tuple[int, int, int, int]:
    """The outbox now: pending and due, held (never tried, not yet due), retrying (a send
    failed), and failed for good within `failed_window`."""
    pending = Notice.status == NoticeStatus.PENDING
    is_due = Notice.next_attempt_at <= now
    failed_at = func.coalesce(Notice.settled_at, Notice.updated_at)
    due, held, retrying, failed = session.execute(
        select(
            count_where(pending & is_due),
            count_where(pending & ~is_due & (Notice.attempts == 0)),
            count_where(pending & (Notice.attempts > 0)),
            count_where(
                (Notice.status == NoticeStatus.FAILED) & (failed_at >= now - failed_window)
            ),
        ).where(Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.FAILED]))
    ).one()
    return due, held, retrying, failed
