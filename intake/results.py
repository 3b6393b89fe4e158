"""Two events of a dossier that are not status changes: a new date (with an apology) and the
dispatch of the result by post. Both are DossierEvents, so the notice rules see them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.dossier_commands import record_event
from intake.errors import ForbiddenTransition, InvalidInput, OverrideRequired
from intake.lifecycle import Actor
from intake.models import ApologyProposal, Dossier, DossierEvent, ProposalStatus
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S

# A new date can be promised while the result is still being worked on.
NEW_DATE_STATUSES = frozenset(
    {S.RECEIVED, S.ACCEPTED, S.IN_PROCESS, S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED}
)


def set_new_date(
    session: Session,
    dossier: Dossier,
    new_date: dt.date,
    *,
    reason: str,
    actor: Actor,
    now: dt.datetime,
    calendar: WorkingCalendar,
    override: bool = False,
    automatic: bool = False,
    by_department: bool = False,
) -> DossierEvent:
    """Promise a new return date with an apology. Legal rule [check]: once; a second new date
    needs a supervisor's override with a reason. A date the processing department sets itself
    (`by_department`, the status API) needs no approval: it is that department's decision.

    Any apology proposal still waiting for this dossier is closed: a date was set."""
    if dossier.status not in NEW_DATE_STATUSES:
        raise ForbiddenTransition(f"Không thể hẹn lại ngày cho hồ sơ «{dossier.status.label}».")
    if dossier.due_date is None:
        raise ForbiddenTransition("Hồ sơ chưa đủ thông tin nên chưa có hạn trả kết quả để hẹn lại.")
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Cần ghi lý do chậm trả kết quả.", field="reason")
    if dossier.apology_count >= 1 and not (override or by_department):
        raise OverrideRequired("Hồ sơ đã được hẹn lại một lần; lần thứ hai cần lãnh đạo phê duyệt.")
    if override and (actor.role is None or not actor.role.may_override):
        raise OverrideRequired("Chỉ lãnh đạo (supervisor) mới được hẹn lại lần thứ hai.")
    if new_date <= calendar.local(now).date() or not calendar.is_working_day(new_date):
        raise InvalidInput("Ngày hẹn mới phải là một ngày làm việc sau hôm nay.", field="new_date")
    previous = dossier.effective_due_date
    dossier.apology_count += 1
    dossier.new_due_date = new_date
    dossier.apology_reason = reason
    dossier.updated_at = now
    closed = ProposalStatus.AUTOMATIC if automatic else ProposalStatus.SUPERSEDED
    close_pending_proposals(session, dossier, closed, actor=actor, now=now)
    return record_event(
        session,
        dossier,
        actor=actor,
        now=now,
        reason=reason,
        override=override,
        details={
            "action": "new_date",
            "number": dossier.apology_count,
            "new_due": new_date.isoformat(),
            "previous_due": previous.isoformat() if previous else None,
            "automatic": automatic,
            "by_department": by_department,
        },
    )


def close_pending_proposals(
    session: Session,
    dossier: Dossier,
    status: ProposalStatus,
    *,
    actor: Actor,
    now: dt.datetime,
    made_by: dt.datetime | None = None,
) -> int:
    """Close the apology proposals of `dossier` still waiting for a supervisor (only those made
    by `made_by`, when given: an event read later must not close a newer proposal)."""
    query = select(ApologyProposal).where(
        ApologyProposal.dossier_id == dossier.id,
        ApologyProposal.status == ProposalStatus.PENDING,
    )
    if made_by is not None:
        query = query.where(ApologyProposal.created_at <= made_by)
    pending = session.scalars(query).all()
    for proposal in pending:
        proposal.status = status
        proposal.decided_at = now
        proposal.decided_by = actor.name
    return len(pending)


def record_dispatch(
    session: Session, dossier: Dossier, *, tracking: str, actor: Actor, now: dt.datetime
) -> DossierEvent:
    """The result went by post (with the postal tracking number when there is one)."""
    if dossier.status is not S.RESULT_READY or dossier.delivery is not Delivery.POST:
        raise ForbiddenTransition("Chỉ gửi bưu điện hồ sơ đã có kết quả và chọn nhận qua bưu điện.")
    tracking = tracking.strip().upper()
    if tracking and not tracking.replace("-", "").isalnum():
        raise InvalidInput("Mã bưu gửi chỉ gồm chữ và số.", field="tracking")
    dossier.form = {**(dossier.form or {}), "postal_tracking": tracking}
    dossier.updated_at = now
    return record_event(
        session,
        dossier,
        actor=actor,
        now=now,
        details={"action": "dispatched", "tracking": tracking},
    )
