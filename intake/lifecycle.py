"""The allowed changes of a dossier's status, in one table, and the one function that makes them.

Every change writes an append-only DossierEvent. Two legal rules live here because they are about
the lifecycle itself:
- guidance to supplement is given once: a second request needs a supervisor's override with a
  reason (the national KPI counts a dossier as overdue otherwise);
- the working days spent waiting for the citizen's supplement do not count: the due date moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.dossier_commands import record_event
from intake.errors import ConcurrentEdit, ForbiddenTransition, InvalidInput, OverrideRequired
from intake.models import Dossier, DossierEvent, Role
from intake.statuses import DossierStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.DRAFT: frozenset({S.RECEIVED}),
    S.RECEIVED: frozenset({S.ACCEPTED, S.SUPPLEMENT_REQUESTED, S.REFUSED, S.WITHDRAWN}),
    S.ACCEPTED: frozenset(
        {
            S.IN_PROCESS,
            S.SUPPLEMENT_REQUESTED,
            S.PAYMENT_REQUESTED,
            S.RESULT_READY,
            S.WITHDRAWN,
            S.STOPPED,
        }
    ),
    S.IN_PROCESS: frozenset(
        {S.SUPPLEMENT_REQUESTED, S.PAYMENT_REQUESTED, S.RESULT_READY, S.WITHDRAWN, S.STOPPED}
    ),
    # The citizen supplemented: back to work (accepted if it had not been accepted yet).
    S.SUPPLEMENT_REQUESTED: frozenset({S.ACCEPTED, S.IN_PROCESS, S.WITHDRAWN, S.STOPPED}),
    S.PAYMENT_REQUESTED: frozenset({S.IN_PROCESS, S.RESULT_READY, S.WITHDRAWN, S.STOPPED}),
    S.RESULT_READY: frozenset({S.RETURNED}),
    S.RETURNED: frozenset(),
    S.REFUSED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.STOPPED: frozenset(),
}

# Changes a person must explain (the reason goes on the event and, for some, into the SMS).
REASON_REQUIRED = frozenset({S.SUPPLEMENT_REQUESTED, S.REFUSED, S.WITHDRAWN, S.STOPPED})


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a staff member with a role, or a part of the system."""

    name: str
    role: Role | None = None

    @classmethod
    def staff(cls, username: str, role: Role) -> Actor:
        return cls(f"staff:{username}", role)

    @classmethod
    def system(cls, part: str) -> Actor:
        return cls(part)


def allowed_next(status: S) -> frozenset[S]:
    return TRANSITIONS[status]


def change_status(
    session: Session,
    dossier: Dossier,
    to: S,
    *,
    actor: Actor,
    now: dt.datetime,
    calendar: WorkingCalendar,
    reason: str = "",
    override: bool = False,
    expected_version: int | None = None,
    details: dict | None = None,
) -> DossierEvent:
    """Move `dossier` to `to`, enforcing the table and the rules; return the event written."""
    if expected_version is not None and dossier.version != expected_version:
        raise ConcurrentEdit(
            f"Hồ sơ {dossier.code} vừa được người khác cập nhật; vui lòng tải lại trang."
        )
    current = dossier.status
    if to not in TRANSITIONS[current]:
        raise ForbiddenTransition(f"Không thể chuyển hồ sơ từ «{current.label}» sang «{to.label}».")
    reason = reason.strip()
    if (to in REASON_REQUIRED or override) and not reason:
        raise InvalidInput(f"Cần ghi lý do khi chuyển sang «{to.label}».")
    if override and (actor.role is None or not actor.role.may_override):
        raise OverrideRequired("Chỉ lãnh đạo (supervisor) mới được thực hiện ngoại lệ này.")

    if to is S.SUPPLEMENT_REQUESTED:
        if dossier.supplement_count >= 1 and not override:
            raise OverrideRequired(
                "Hồ sơ đã được yêu cầu bổ sung một lần; lần thứ hai cần lãnh đạo phê duyệt."
            )
        dossier.supplement_count += 1
        dossier.supplement_requested_at = now
    elif current is S.SUPPLEMENT_REQUESTED:
        _move_due_dates_by_wait(dossier, now, calendar)
        if dossier.effective_due_date is not None:
            # The moved date, as it stood when the papers arrived (the supplement_received SMS).
            details = {**(details or {}), "due": dossier.effective_due_date.isoformat()}
    if to is S.RESULT_READY:
        dossier.result_ready_at = now

    dossier.status = to
    dossier.updated_at = now
    return record_event(
        session,
        dossier,
        actor=actor,
        now=now,
        from_status=current,
        to_status=to,
        reason=reason,
        override=override,
        details=details,
    )


def _move_due_dates_by_wait(dossier: Dossier, now: dt.datetime, calendar: WorkingCalendar) -> None:
    """The citizen's time to supplement does not count against the processing time."""
    started = dossier.supplement_requested_at
    dossier.supplement_requested_at = None
    if started is None or dossier.due_date is None:
        return
    waited = calendar.working_days_between(
        calendar.local(started).date(), calendar.local(now).date()
    )
    if waited:
        dossier.due_date = calendar.add_working_days(dossier.due_date, waited)
        if dossier.new_due_date is not None:
            dossier.new_due_date = calendar.add_working_days(dossier.new_due_date, waited)
