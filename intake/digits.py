"""Digits are ASCII 0-9, and nothing else.

Python's `str.isdigit()`, `int()` and the regular expression `\\d` also accept full-width
(`１２３`), Arabic-Indic (`١٢٣`), superscript (`²³`) and other digits. A vessel number or a
citizen id stored with those can never be found again, and some of them make `int()` fail.
Every check of "is this a number" in the domain goes through here.
"""

from __future__ import annotations

import re

DIGIT = "[0-9]"
_NOT_DIGITS = re.compile(r"[^0-9]")
_DIGITS = re.compile(r"[0-9]+")


def is_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits only."""
    return bool(_DIGITS.fullmatch(text))


def ascii_digits(text: str) -> str:
    """The ASCII digits of `text`, everything else dropped: 'QNg-90617' -> '90617'."""
    return _NOT_DIGITS.sub("", text)


def count_digits(text: str) -> int:
    return len(ascii_digits(text))
