"""Vessel registration numbers: `<province code>-<5 digits>-TS`, e.g. `QNg-90617-TS`.

People write them loosely (`QNg 96169 TS`, `BĐ 96129TS`, `qng-90617-ts`); on a keypad they type
only the 5 digits and the home province is assumed. The province list comes from config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from intake.errors import InvalidInput
from intake.text import fold

_PATTERN = re.compile(r"^(?:([a-z]{1,4})[\s\-./]*)?([0-9]{5})(?:[\s\-./]*ts)?$")


@dataclass(frozen=True)
class VesselNumber:
    province: str
    digits: str

    def __str__(self) -> str:
        return f"{self.province}-{self.digits}-TS"


def parse_vessel_number(
    raw: str, provinces: Mapping[str, str] | list[str], home_province: str
) -> VesselNumber:
    """Normalise a vessel registration number; raise InvalidInput if it cannot be one.

    Province codes match ignoring case and diacritics (`bd` -> `BĐ`). Length and engine power
    are never derived from the digits: the numbering does not encode them.
    """
    text = fold(raw.strip())
    match = _PATTERN.match(text)
    if not match:
        raise InvalidInput(f"Số đăng ký tàu không hợp lệ: {raw!r} (dạng {home_province}-12345-TS)")
    letters, digits = match.groups()
    if letters is None:
        return VesselNumber(home_province, digits)
    candidates = [code for code in provinces if fold(code) == letters]
    if len(candidates) != 1:
        raise InvalidInput(f"Mã tỉnh không có trong danh sách: {raw!r}")
    return VesselNumber(candidates[0], digits)
