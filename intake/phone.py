"""Vietnamese phone numbers: accept what people type, store E.164, know who can get an SMS."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from intake.digits import is_digits
from intake.errors import InvalidInput

# Since 2018 mobiles are 0 + 9 digits with one of these second digits; landlines are 02 + 9
# digits. The one definition of "a mobile": the IVR's typed-number check asks `is_mobile` too.
MOBILE_SECOND_DIGITS = "35789"
_MOBILE = re.compile(rf"^0[{MOBILE_SECOND_DIGITS}][0-9]{{8}}$")
_LANDLINE = re.compile(r"^02[0-9]{9}$")
_SEPARATORS = re.compile(r"[\s.\-()]")


class LineKind(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    kind: LineKind

    @property
    def can_receive_sms(self) -> bool:
        return self.kind is LineKind.MOBILE

    @property
    def national(self) -> str:
        """The form people read: 0912345678."""
        return national_display(self.e164)

    def __str__(self) -> str:
        return self.e164


def parse_phone(raw: str) -> PhoneNumber:
    """`0912 345 678`, `84912345678`, `+84 912.345.678` -> +84912345678 (mobile).

    Raises InvalidInput for anything that is not a Vietnamese mobile or landline number.
    """
    digits = _SEPARATORS.sub("", raw.strip())
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if not is_digits(digits):
        raise InvalidInput(f"Số điện thoại không hợp lệ: {raw!r}")
    if _MOBILE.match(digits):
        return PhoneNumber("+84" + digits[1:], LineKind.MOBILE)
    if _LANDLINE.match(digits):
        return PhoneNumber("+84" + digits[1:], LineKind.LANDLINE)
    raise InvalidInput(
        f"Số điện thoại không hợp lệ: {raw!r} (di động 10 số bắt đầu 03, 05, 07, 08, 09)"
    )


def is_mobile(national: str) -> bool:
    """`0912345678` (ten digits as typed, no separators) is a Vietnamese mobile number."""
    return _MOBILE.fullmatch(national) is not None


def national_display(e164: str) -> str:
    """+84912345678 -> 0912345678, the form staff dial and type and callers hear read back.

    Anything that is not a Vietnamese E.164 number is returned as it is.
    """
    return "0" + e164[3:] if e164.startswith("+84") else e164


def mask_phone(e164: str) -> str:
    """For logs: +84912345678 -> +8491****678."""
    if len(e164) < 8:
        return "***"
    return e164[:5] + "*" * (len(e164) - 8) + e164[-3:]
