"""When staff answer the phone (intake/office_hours.py): one rule that the IVR's "speak to staff"
and the notice call's "0" both ask, on the shared calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.office_hours import office_open
from ivr.call_service import CallService
from ivr.engine import Outcome

VN = dt.timezone(dt.timedelta(hours=7))


def _at(year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=VN).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (_at(2026, 12, 1, 7, 29), False),  # Tuesday, before office_open 07:30
        (_at(2026, 12, 1, 7, 30), True),
        (_at(2026, 12, 1, 16, 59), True),
        (_at(2026, 12, 1, 17, 0), False),  # office_close is the first closed minute
        (_at(2026, 12, 5, 10, 0), False),  # Saturday
        (_at(2026, 8, 22, 10, 0), True),  # a Saturday worked in exchange for Monday 31/8
        (_at(2026, 8, 31, 10, 0), False),  # ... that Monday off
        (_at(2027, 2, 8, 10, 0), False),  # Tết 2027
    ],
)
def test_staff_answer_on_working_days_between_the_office_hours(runtime, at, open_):
    assert office_open(runtime.settings, runtime.calendar(), at) is open_


@pytest.mark.parametrize(
    ("at", "answer"),
    [
        (_at(2026, 8, 22, 10, 0), Outcome("yes")),  # the worked Saturday
        (_at(2026, 12, 1, 17, 0), Outcome("no", {"operator_reason": "closed"})),
    ],
)
def test_the_ivr_transfers_to_staff_by_the_same_rule(runtime, clock, session, at, answer):
    clock.set(at)
    call = type("Call", (), {"outcome": None})()
    assert CallService(runtime)._q_office_open(session, call, {}, {}) == answer
