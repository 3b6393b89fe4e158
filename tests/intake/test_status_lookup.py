"""The limit per dossier on guessing the citizen-id digits that open its status by phone."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from intake.models import AuditEvent, DossierLookupAttempt
from intake.status_lookup import LookupLimits, block_in_force, check_last_digits, lift_block
from tests.factories import create_dossier

LIMITS = LookupLimits(5, dt.timedelta(hours=24), dt.timedelta(hours=24))
STRANGER = "+84987654321"


@pytest.fixture
def dossier(session, runtime):
    dossier = create_dossier(session, runtime)
    dossier.form = {**dossier.form, "citizen_id": "012345678901"}
    session.commit()
    return dossier


def check(session, clock, dossier, last4: str, caller: str | None = STRANGER) -> bool:
    opened = check_last_digits(session, dossier.id, last4, caller=caller, limits=LIMITS,
                               now=clock.now(), actor="ivr")  # fmt: skip
    session.commit()
    return opened is not None


def fail(session, clock, dossier, times: int) -> None:
    for _ in range(times):
        clock.advance(dt.timedelta(minutes=1))
        assert not check(session, clock, dossier, "0000")


def test_the_fifth_failure_in_a_day_blocks_even_the_right_digits(session, clock, dossier):
    fail(session, clock, dossier, 4)
    assert check(session, clock, dossier, "8901")
    fail(session, clock, dossier, 1)
    assert block_in_force(session, dossier.id, clock.now()) is not None
    assert not check(session, clock, dossier, "8901")


def test_failures_older_than_the_window_stop_counting(session, clock, dossier):
    fail(session, clock, dossier, 4)
    clock.advance(dt.timedelta(hours=24))
    fail(session, clock, dossier, 4)
    assert block_in_force(session, dossier.id, clock.now()) is None
    assert check(session, clock, dossier, "8901")


def test_a_lifted_block_forgets_the_failures_before_it(session, clock, dossier):
    fail(session, clock, dossier, 5)
    clock.advance(dt.timedelta(minutes=1))
    assert lift_block(session, dossier.id, actor="staff:hoa", now=clock.now())
    session.commit()
    assert not lift_block(session, dossier.id, actor="staff:hoa", now=clock.now())
    fail(session, clock, dossier, 4)
    assert check(session, clock, dossier, "8901")
    fail(session, clock, dossier, 1)
    assert not check(session, clock, dossier, "8901")
    actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["status_lookup.blocked", "status_lookup.unblocked", "status_lookup.blocked"]


def test_checks_keep_only_a_masked_caller(session, clock, dossier):
    check(session, clock, dossier, "0000")
    check(session, clock, dossier, "0000", caller=None)
    callers = [a.caller for a in session.scalars(select(DossierLookupAttempt))]
    assert callers == ["+8498****321", "hidden"]


def test_a_dossier_without_a_citizen_id_never_opens(session, runtime, clock):
    dossier = create_dossier(session, runtime)
    session.commit()
    assert not check(session, clock, dossier, "")
    assert not check(session, clock, dossier, "0000")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_checks_of_one_dossier_wait_for_each_other(runtime, clock, dossier):
    """Parallel calls must not each slip a guess in under the limit: a second check waits
    until the first one's transaction ends."""
    with runtime.sessions() as first, runtime.sessions() as second:
        check_last_digits(first, dossier.id, "0000", caller=STRANGER, limits=LIMITS,
                          now=clock.now(), actor="ivr")  # fmt: skip
        second.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            check_last_digits(second, dossier.id, "1111", caller=STRANGER,
                              limits=LIMITS, now=clock.now(), actor="ivr")  # fmt: skip
        first.rollback()
