"""The date of birth as keyed on the phone (ddmmyyyy): a real date, of an adult."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.birth_date import is_adult_birth_date, parse_keyed

TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("typed", "born"),
    [
        ("05091975", dt.date(1975, 9, 5)),
        ("29022024", dt.date(2024, 2, 29)),  # a leap day
        ("29022025", None),
        ("31041990", None),  # April has 30 days
        ("00011990", None),
        ("01131990", None),
        ("0509197", None),
        ("０５０９１９７５", None),  # full-width digits are not keyed digits
    ],
)
def test_only_real_dates_are_read(typed, born):
    assert parse_keyed(typed) == born


@pytest.mark.parametrize(
    ("typed", "adult"),
    [
        ("01122008", True),  # 18 today
        ("02122008", False),  # 18 tomorrow
        ("01121906", True),  # 120
        ("01121905", False),  # 121: a typing slip, not an owner
        ("01012030", False),  # not born yet
    ],
)
def test_the_owner_must_be_an_adult(typed, adult):
    assert is_adult_birth_date(typed, TODAY) is adult
