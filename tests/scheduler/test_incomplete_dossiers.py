"""Incomplete phone dossiers on the notice rules' clock: the receipt says what is missing, the
supervisor hears once when one passes its completeness deadline, completing it sends the date."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.completeness import start_clock_if_complete
from intake.dossier_commands import apply_answers
from intake.lifecycle import Actor
from intake.models import Role
from scheduler.models import StaffAlert
from sms.models import Notice
from tests.factories import REQUIRED_ANSWERS, create_dossier
from tests.scheduler.test_rules import Centre, at

STAFF = Actor.staff("lan", Role.OPERATOR)


@pytest.fixture
def centre(runtime, session, clock):
    supervised = runtime.settings.scheduler.model_copy(update={"supervisor_phones": ["0905123456"]})
    runtime.settings = runtime.settings.model_copy(update={"scheduler": supervised})
    return Centre(runtime, session, clock)


def _complete(session, runtime, dossier, now):
    apply_answers(session, dossier, dict(REQUIRED_ANSWERS), now=now)
    return start_clock_if_complete(session, dossier, settings=runtime.settings,
                                   calendar=runtime.calendar(), actor=STAFF, now=now)  # fmt: skip


def test_an_incomplete_dossier_past_its_deadline_alerts_the_supervisor_once(
    centre, session, clock, runtime
):
    # Received Tue 01/12/2026 09:00 with nothing but the keypad's answers: no due date; 2
    # working days to complete it: Wed 2, Thu 3.
    at(clock, 2026, 12, 1, 9)
    dossier = create_dossier(session, runtime, complete=False)
    assert (dossier.due_date, dossier.completeness_due) == (None, dt.date(2026, 12, 3))
    centre.tick()
    receipt = session.scalars(select(Notice).where(Notice.kind == "receipt_incomplete")).one()
    assert (
        "Con thieu: Ho ten chu tau, Ngay sinh" in receipt.text
        and "Hen tra KQ 0" not in receipt.text
    )

    at(clock, 2026, 12, 3, 23, 0)  # the last day to complete it is not over
    centre.tick()
    assert session.scalars(select(StaffAlert)).all() == []

    at(clock, 2026, 12, 4, 8, 0)  # Fri 04/12: it passed its deadline
    centre.tick()
    alert = session.scalars(select(StaffAlert)).one()
    assert alert.kind == "incomplete_overdue" and "03/12/2026" in alert.message
    sms = session.scalars(select(Notice).where(Notice.kind == "supervisor_alert")).one()
    assert sms.phone == "+84905123456" and "Chua du thong tin" in sms.text

    at(clock, 2026, 12, 7, 9, 0)  # days go by: one alert, not one a tick
    centre.tick()
    assert len(session.scalars(select(StaffAlert)).all()) == 1

    # Staff complete it Mon 07/12 10:00: 6 working days, Tue 8 ... Tue 15/12.
    at(clock, 2026, 12, 7, 10, 0)
    assert _complete(session, runtime, dossier, clock.now())
    assert dossier.due_date == dt.date(2026, 12, 15)
    centre.tick()
    complete = session.scalars(select(Notice).where(Notice.kind == "complete")).one()
    assert f"Ho so {dossier.code} da du thong tin. Hen tra KQ 15/12/2026." in complete.text
    assert centre.kinds[0] == "receipt_incomplete" and "complete" in centre.kinds


def test_a_complete_dossier_gets_the_usual_receipt_and_no_completion_sms(
    centre, session, clock, runtime
):
    at(clock, 2026, 12, 1, 9)
    dossier = create_dossier(session, runtime)
    assert dossier.due_date == dt.date(2026, 12, 9) and dossier.completeness_due is None
    centre.tick()
    at(clock, 2026, 12, 8, 9)  # days later, still before its due date
    centre.tick()
    assert centre.kinds == ["receipt"]
    assert session.scalars(select(StaffAlert)).all() == []
