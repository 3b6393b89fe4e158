"""A date of birth as keyed on the phone: 8 digits, day, month, year (`ddmmyyyy`)."""

from __future__ import annotations

import datetime as dt

# Bộ luật Dân sự 2015 (Civil Code), art. 20: an adult is a person aged 18 or more; the applicant
# for a licence must be able to act on their own.
ADULT_AGE = 18
KEYED_LENGTH = 8


def parse_keyed(digits: str) -> dt.date | None:
    """`05091975` -> 1975-09-05; None when it is not a real date."""
    if len(digits) != KEYED_LENGTH or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return None


def age_on(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def is_adult_birth_date(digits: str, today: dt.date) -> bool:
    """A real date, not in the future, of someone at least ADULT_AGE and at most 120 years old."""
    born = parse_keyed(digits)
    return born is not None and ADULT_AGE <= age_on(born, today) <= 120
