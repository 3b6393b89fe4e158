"""Apologising before the due date, as the one-stop rule asks (docs/domain.md, "Apologising
before the due date"): the scheduler proposes, a supervisor approves, the citizen gets the SMS.

- `propose_apology`: a dossier at risk (still in work `[scheduler] at_risk_working_days` before
  its due date) gets one proposal: a reason and a new date the calendar suggests.
- `approve_proposal`: a supervisor (or admin) approves it, with the reason and date as proposed
  or edited; the new date is set (intake.results.set_new_date), and its event sends the apology.
- `dismiss_proposal`: a supervisor judges no apology is needed (the result is coming in time).
- `department_sets_due_date`: the processing department sets a new date itself (the status API
  calls this); no approval is needed, and any pending proposal is closed.
- Nobody decided before the due day ended: the scheduler's automatic apology still goes (and
  alerts the supervisors); it closes the proposal as `automatic`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.errors import ForbiddenTransition, InvalidInput, OverrideRequired
from intake.lifecycle import Actor
from intake.models import ApologyProposal, Dossier, DossierEvent, ProposalStatus
from intake.results import set_new_date
from intake.statuses import IN_WORK_STATUSES


def suggested_new_date(
    calendar: WorkingCalendar, due: dt.date, today: dt.date, extra_days: int
) -> dt.date:
    """`extra_days` working days after the due date, or after today when that is already past
    (the date must be a working day after today)."""
    new_date = calendar.add_working_days(due, extra_days)
    if new_date <= today:
        new_date = calendar.add_working_days(today, extra_days)
    return new_date


def propose_apology(
    session: Session, dossier: Dossier, *, reason: str, new_date: dt.date, now: dt.datetime
) -> ApologyProposal | None:
    """Queue a proposal for `dossier`'s apology; None when its due date has one (a re-scan)."""
    proposal = ApologyProposal(
        dossier_id=dossier.id,
        status=ProposalStatus.PENDING,
        due_date=dossier.due_date,
        reason=reason,
        new_date=new_date,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(proposal)
            session.flush()
    except IntegrityError:
        return None
    return proposal


def _pending(session: Session, proposal_id: int) -> ApologyProposal:
    proposal = session.get(ApologyProposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise InvalidInput("Không tìm thấy đề xuất xin lỗi.")
    if proposal.status is not ProposalStatus.PENDING:
        raise ForbiddenTransition("Đề xuất này đã được xử lý.")
    return proposal


def _supervisor(actor: Actor) -> None:
    if actor.role is None or not actor.role.may_override:
        raise OverrideRequired("Chỉ lãnh đạo (supervisor) mới được duyệt thư xin lỗi.")


def approve_proposal(
    session: Session,
    proposal_id: int,
    *,
    reason: str,
    new_date: dt.date,
    actor: Actor,
    now: dt.datetime,
    calendar: WorkingCalendar,
) -> DossierEvent:
    """Send the apology with `reason` and `new_date` (as proposed, or as the supervisor edited)."""
    _supervisor(actor)
    proposal = _pending(session, proposal_id)
    dossier = session.get(Dossier, proposal.dossier_id, with_for_update=True)
    event = set_new_date(session, dossier, new_date, reason=reason, actor=actor, now=now,
                         calendar=calendar)  # fmt: skip
    proposal.status = ProposalStatus.APPROVED
    proposal.reason = reason.strip()
    proposal.new_date = new_date
    proposal.decided_at = now
    proposal.decided_by = actor.name
    return event


def dismiss_proposal(
    session: Session, proposal_id: int, *, actor: Actor, now: dt.datetime
) -> ApologyProposal:
    """No apology for now (the result will be ready in time); the automatic one still guards."""
    _supervisor(actor)
    proposal = _pending(session, proposal_id)
    proposal.status = ProposalStatus.DISMISSED
    proposal.decided_at = now
    proposal.decided_by = actor.name
    return proposal


def department_sets_due_date(
    session: Session,
    dossier: Dossier,
    new_date: dt.date,
    *,
    reason: str,
    actor: Actor,
    now: dt.datetime,
    calendar: WorkingCalendar,
) -> DossierEvent:
    """The processing department sets a new return date itself (the status API's
    `new_due_date` event): no approval, the apology goes with its reason, and a proposal still
    waiting is closed as superseded."""
    return set_new_date(session, dossier, new_date, reason=reason, actor=actor, now=now,
                        calendar=calendar, by_department=True)  # fmt: skip


def pending_proposals(session: Session, limit: int) -> list[tuple[ApologyProposal, Dossier]]:
    """The supervisors' queue: proposals waiting, for dossiers still in work, most urgent first."""
    rows = session.execute(
        select(ApologyProposal, Dossier)
        .join(Dossier, Dossier.id == ApologyProposal.dossier_id)
        .where(
            ApologyProposal.status == ProposalStatus.PENDING,
            Dossier.status.in_(IN_WORK_STATUSES),
        )
        .order_by(ApologyProposal.due_date, ApologyProposal.id)
        .limit(limit)
    )
    return [(proposal, dossier) for proposal, dossier in rows]


def proposals_of(session: Session, dossier_id: int) -> list[ApologyProposal]:
    return list(
        session.scalars(
            select(ApologyProposal)
            .where(ApologyProposal.dossier_id == dossier_id)
            .order_by(ApologyProposal.id)
        )
    )
