"""The lifecycle table, its events, and the two legal rules it carries."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from intake import audit
from intake.dossiers import flush_edits
from intake.errors import ConcurrentEdit, ForbiddenTransition, InvalidInput, OverrideRequired
from intake.lifecycle import TRANSITIONS, Actor, change_status
from intake.models import AuditEvent, DossierEvent, Role
from intake.statuses import FINAL_STATUSES, NATIONAL_CODES, DossierStatus
from tests.factories import create_dossier

S = DossierStatus
OPERATOR = Actor.staff("lan", Role.OPERATOR)
SUPERVISOR = Actor.staff("hung", Role.SUPERVISOR)
FORBIDDEN = [(a, b) for a, b in itertools.product(S, S) if b not in TRANSITIONS[a]]
ALLOWED = [(a, b) for a in S for b in sorted(TRANSITIONS[a])]


def test_national_codes_are_those_of_the_national_portal():
    assert {s.value: s.national_code for s in S} == {
        "draft": None, "received": 1, "accepted": 2, "refused": 3, "in_process": 4,
        "supplement_requested": 5, "payment_requested": 6, "withdrawn": 7, "stopped": 8,
        "result_ready": 9, "returned": 10,
    }  # fmt: skip
    assert set(NATIONAL_CODES) == set(S)


def test_final_statuses_lead_nowhere():
    assert all(not TRANSITIONS[s] for s in FINAL_STATUSES)
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("start", "to"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_every_forbidden_transition_is_refused_and_leaves_no_trace(session, runtime, start, to):
    dossier = create_dossier(session, runtime)
    dossier.status = start  # put it there directly: we test the refusal, not the way there
    before = session.scalar(select(DossierEvent.id).order_by(DossierEvent.id.desc()).limit(1))
    with pytest.raises(ForbiddenTransition):
        change_status(
            session, dossier, to, actor=SUPERVISOR, now=runtime.clock.now(),
            calendar=runtime.calendar(), reason="lý do", override=True,
        )  # fmt: skip
    assert dossier.status is start
    after = session.scalar(select(DossierEvent.id).order_by(DossierEvent.id.desc()).limit(1))
    assert after == before


@pytest.mark.parametrize(("start", "to"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_every_allowed_transition_writes_an_event(session, runtime, start, to):
    dossier = create_dossier(session, runtime)
    dossier.status = start
    event = change_status(
        session, dossier, to, actor=OPERATOR, now=runtime.clock.now(),
        calendar=runtime.calendar(), reason="Thiếu tờ khai",
    )  # fmt: skip
    session.commit()
    stored = session.get(DossierEvent, event.id)
    assert (stored.from_status, stored.to_status, stored.actor) == (start, to, "staff:lan")
    assert dossier.status is to


def test_submission_writes_the_received_event(session, runtime):
    dossier = create_dossier(session, runtime)
    session.commit()
    events = session.scalars(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id))
    assert [(e.from_status, e.to_status, e.actor) for e in events] == [(S.DRAFT, S.RECEIVED, "ivr")]


def test_refusal_needs_a_reason(session, runtime):
    dossier = create_dossier(session, runtime)
    with pytest.raises(InvalidInput):
        change_status(
            session, dossier, S.REFUSED, actor=OPERATOR, now=runtime.clock.now(),
            calendar=runtime.calendar(), reason="  ",
        )  # fmt: skip


def _supplement(session, runtime, dossier, actor=OPERATOR, override=False):
    return change_status(
        session, dossier, S.SUPPLEMENT_REQUESTED, actor=actor, now=runtime.clock.now(),
        calendar=runtime.calendar(), reason="Thiếu bản sao đăng ký tàu", override=override,
    )  # fmt: skip


def _resume(session, runtime, dossier):
    return change_status(
        session, dossier, S.IN_PROCESS, actor=OPERATOR, now=runtime.clock.now(),
        calendar=runtime.calendar(),
    )  # fmt: skip


def test_supplement_is_asked_once_and_a_second_time_only_by_a_supervisor(session, runtime, clock):
    dossier = create_dossier(session, runtime)
    change_status(session, dossier, S.ACCEPTED, actor=OPERATOR, now=clock.now(),
                  calendar=runtime.calendar())  # fmt: skip
    _supplement(session, runtime, dossier)
    _resume(session, runtime, dossier)
    with pytest.raises(OverrideRequired):
        _supplement(session, runtime, dossier)
    with pytest.raises(OverrideRequired):
        _supplement(session, runtime, dossier, actor=OPERATOR, override=True)
    event = _supplement(session, runtime, dossier, actor=SUPERVISOR, override=True)
    session.commit()
    assert dossier.supplement_count == 2
    assert event.override is True and event.actor == "staff:hung"


def test_working_days_waiting_for_the_supplement_move_the_due_date(session, runtime, clock):
    # Received Tue 01/12/2026 09:00, licence (6 days): due Wed 09/12/2026.
    dossier = create_dossier(session, runtime)
    assert dossier.due_date == dt.date(2026, 12, 9)
    _supplement(session, runtime, dossier)  # requested Tue 01/12
    # The citizen supplements on Mon 07/12: Wed 2, Thu 3, Fri 4, Mon 7 = 4 working days waited.
    clock.set(dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC))
    _resume(session, runtime, dossier)
    # 09/12 + 4 working days: Thu 10, Fri 11, Mon 14, Tue 15.
    assert dossier.due_date == dt.date(2026, 12, 15)
    assert dossier.supplement_requested_at is None


def test_a_supplement_answered_the_same_day_does_not_move_the_due_date(session, runtime):
    dossier = create_dossier(session, runtime)
    _supplement(session, runtime, dossier)
    _resume(session, runtime, dossier)
    assert dossier.due_date == dt.date(2026, 12, 9)


def test_a_second_editor_with_a_stale_version_is_told(session, runtime):
    dossier = create_dossier(session, runtime)
    session.commit()
    loaded_version = dossier.version
    change_status(session, dossier, S.ACCEPTED, actor=OPERATOR, now=runtime.clock.now(),
                  calendar=runtime.calendar(), expected_version=loaded_version)  # fmt: skip
    session.commit()
    with pytest.raises(ConcurrentEdit):
        change_status(session, dossier, S.IN_PROCESS, actor=OPERATOR, now=runtime.clock.now(),
                      calendar=runtime.calendar(), expected_version=loaded_version)  # fmt: skip


def test_concurrent_sessions_cannot_overwrite_each_other(runtime):
    with runtime.sessions() as first:
        dossier = create_dossier(first, runtime)
        first.commit()
        dossier_id = dossier.id
    with runtime.sessions() as alice, runtime.sessions() as bob:
        mine = alice.get(type(dossier), dossier_id)
        theirs = bob.get(type(dossier), dossier_id)
        mine.form = {"owner_name": "Nguyễn Văn A"}
        alice.commit()
        theirs.form = {"owner_name": "Trần Văn B"}
        with pytest.raises(ConcurrentEdit):
            flush_edits(bob)
    with runtime.sessions() as check:
        assert check.get(type(dossier), dossier_id).form == {"owner_name": "Nguyễn Văn A"}


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "change",
    [
        "UPDATE dossier_event SET reason = 'rewritten history'",
        "DELETE FROM dossier_event",
        "UPDATE audit_event SET actor = 'staff:someone-else'",
        "DELETE FROM audit_event",
    ],
)
def test_postgresql_itself_refuses_to_change_event_rows(session, runtime, change):
    """Past the ORM: a hand-written statement (or a psql session) is refused too (0010)."""
    dossier = create_dossier(session, runtime)
    audit.record(session, actor="staff:lan", action="dossier.changed", target_type="dossier",
                 target_id=dossier.id, now=runtime.clock.now())  # fmt: skip
    session.commit()
    with runtime.engine.connect() as connection:
        with pytest.raises(IntegrityError, match="append-only"):
            connection.execute(text(change))
    assert session.scalars(select(DossierEvent.reason)).all() == [""]
    assert session.scalars(select(AuditEvent.actor)).all() == ["staff:lan"]


def test_events_are_append_only(session, runtime):
    dossier = create_dossier(session, runtime)
    session.commit()
    event = session.scalars(select(DossierEvent).where(DossierEvent.dossier_id == dossier.id)).one()
    event.reason = "rewritten history"
    with pytest.raises(RuntimeError, match="append-only"):
        session.commit()
