"""An event from a processing system, applied through the same intake functions as the staff
member's button on the dossier page: the same transition table, the same DossierEvent (from
which the notice rules send the same SMS) and the same `dossier.changed` audit line.

Each client names its events (`event_id`). The id is stored with a digest of the request in
the transaction that applies the change, under a unique (client, event id) constraint: a retry
with the same body is answered with the stored answer and changes nothing; another body under
the same id is refused (422); two copies sent at once are applied once (the dossier row is
locked first, and the constraint catches what the lock does not).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.models import ApiEvent
from api.problems import ApiProblem
from api.schemas import DispatchEvent, FieldError, NewDueDateEvent, ProblemType, StatusEvent
from intake import dossier_queries
from intake.apologies import department_sets_due_date
from intake.audit import record
from intake.dossiers import flush_edits
from intake.errors import DomainError, ForbiddenTransition, InvalidInput, OverrideRequired
from intake.lifecycle import Actor, allowed_next, move
from intake.models import Dossier, DossierEvent
from intake.results import record_dispatch
from intake.runtime import Runtime
from intake.statuses import NATIONAL_CODES, DossierStatus

Event = StatusEvent | NewDueDateEvent | DispatchEvent
BY_NATIONAL_CODE = {code: status for status, code in NATIONAL_CODES.items() if code is not None}
# Where intake names a value at fault, and the event field that carries it.
FIELDS = {
    "documents": "papers",
    "reason": "reason",
    "new_date": "new_due_date",
    "tracking": "tracking_number",
    "form": "status",
}
# What the staff page's audit line calls each kind of change (its view names).
WHAT = {"status": "move", "new_due_date": "new_date", "dispatched_by_post": "dispatch"}


@dataclass(frozen=True)
class Caller:
    id: int
    name: str

    @property
    def actor(self) -> Actor:
        # No role: a processing system can never make a supervisor's override.
        return Actor.system(f"api:{self.name}")


def digest(code: str, payload: Any) -> str:
    """What "the same body" means: the same dossier and the same JSON, whatever the spacing
    or the order of keys."""
    canonical = json.dumps({"code": code, "body": payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def status_named(value: str | int) -> DossierStatus:
    return BY_NATIONAL_CODE[value] if isinstance(value, int) else DossierStatus(value)


def apply_event(
    runtime: Runtime,
    caller: Caller,
    code: str,
    event: Event,
    body_digest: str,
    answer: Callable[[Session, Dossier], dict[str, Any]],
) -> dict[str, Any]:
    """Apply `event` to the dossier `code` once; return the dossier as it now stands (for a
    retry, the answer given the first time)."""
    now = runtime.clock.now()
    try:
        with runtime.sessions() as session, session.begin():
            dossier = dossier_queries.submitted_by_code(session, code, for_update=True)
            if dossier is None:
                raise ApiProblem(404, ProblemType.NOT_FOUND, f"Không có hồ sơ mã {code}.")
            earlier = _applied(session, caller.id, event.event_id)
            if earlier is not None:
                return _replay(earlier, body_digest)
            try:
                change = _change(session, dossier, event, caller, runtime, now)
                record(
                    session,
                    actor=caller.actor.name,
                    action="dossier.changed",
                    now=now,
                    target_type="dossier",
                    target_id=str(dossier.id),
                    details={"what": WHAT[event.type], "event_id": event.event_id},
                )
                flush_edits(session)
            except DomainError as exc:
                raise _problem(exc, dossier) from exc
            response = answer(session, dossier)
            # Added last, in one INSERT: the dossier's lock keeps a copy of this event out
            # until the commit, and the unique constraint catches one sent for another dossier.
            session.add(
                ApiEvent(
                    client_id=caller.id,
                    event_id=event.event_id,
                    body_sha256=body_digest,
                    dossier_id=dossier.id,
                    dossier_event_id=change.id,
                    response=response,
                    created_at=now,
                )
            )
            session.flush()
            return response
    except IntegrityError:
        # The same event id was applied by a request that committed first: answer as it did.
        with runtime.sessions() as session:
            earlier = _applied(session, caller.id, event.event_id)
        if earlier is None:
            raise
        return _replay(earlier, body_digest)


def _applied(session: Session, client_id: int, event_id: str) -> ApiEvent | None:
    return session.scalar(
        select(ApiEvent).where(ApiEvent.client_id == client_id, ApiEvent.event_id == event_id)
    )


def _replay(earlier: ApiEvent, body_digest: str) -> dict[str, Any]:
    if earlier.body_sha256 != body_digest:
        raise ApiProblem(
            422,
            ProblemType.EVENT_ID_REUSED,
            f"Mã sự kiện {earlier.event_id} đã được dùng cho một nội dung khác.",
            errors=[FieldError(field="event_id", message="đã dùng cho nội dung khác")],
        )
    return earlier.response


def _change(
    session: Session,
    dossier: Dossier,
    event: Event,
    caller: Caller,
    runtime: Runtime,
    now: dt.datetime,
) -> DossierEvent:
    if isinstance(event, StatusEvent):
        return move(
            session,
            dossier,
            status_named(event.status),
            settings=runtime.settings,
            calendar=runtime.calendar(),
            actor=caller.actor,
            now=now,
            reason=event.reason or event.note,
            documents=event.papers,
            details={
                "event_id": event.event_id,
                "reported_at": event.at.isoformat(),
                "officer": event.actor.model_dump(),
                "note": event.note,
            },
        )
    if isinstance(event, NewDueDateEvent):
        return promise_new_date(session, dossier, event, caller, runtime, now)
    return record_dispatch(
        session, dossier, tracking=event.tracking_number, actor=caller.actor, now=now
    )


def promise_new_date(
    session: Session,
    dossier: Dossier,
    event: NewDueDateEvent,
    caller: Caller,
    runtime: Runtime,
    now: dt.datetime,
) -> DossierEvent:
    """The processing department sets a new due date itself: intake's own command for it (no
    supervisor's approval; a proposed apology still waiting is closed as superseded)."""
    return department_sets_due_date(
        session,
        dossier,
        event.new_due_date,
        reason=event.reason,
        actor=caller.actor,
        now=now,
        calendar=runtime.calendar(),
    )


def _problem(exc: DomainError, dossier: Dossier) -> ApiProblem:
    if isinstance(exc, InvalidInput):
        field = FIELDS.get(exc.field or "", "body")
        return ApiProblem(
            400,
            ProblemType.INVALID,
            str(exc),
            errors=[FieldError(field=field, message=str(exc))],
        )
    current = dossier.status
    allowed = sorted(s.value for s in allowed_next(current))
    if isinstance(exc, OverrideRequired):
        return ApiProblem(
            409,
            ProblemType.OVERRIDE,
            f"{exc} Việc này chỉ làm được trên trang quản trị (/admin).",
            current_status=current.value,
            allowed=allowed,
        )
    if isinstance(exc, ForbiddenTransition):
        return ApiProblem(
            409, ProblemType.TRANSITION, str(exc), current_status=current.value, allowed=allowed
        )
    # ConcurrentEdit, or another rule of the domain the dossier's state breaks.
    return ApiProblem(
        409, ProblemType.CONFLICT, str(exc), current_status=current.value, allowed=allowed
    )
