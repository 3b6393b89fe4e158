"""How staff see values: local time, dd/mm/yyyy, masked personal numbers, đồng."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from intake.phone import national_display
from intake.text import mask_citizen_id

__all__ = ["local_date", "local_datetime", "mask_citizen_id", "money", "national_phone"]
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def local_datetime(value: dt.datetime | None, zone: ZoneInfo = ZONE) -> str:
    return value.astimezone(zone).strftime("%d/%m/%Y %H:%M") if value else ""


def local_date(value: dt.date | dt.datetime | None, zone: ZoneInfo = ZONE) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(zone).date()
    return value.strftime("%d/%m/%Y")


def national_phone(e164: str | None) -> str:
    """+84912345678 -> 0912 345 678 (how staff dial it)."""
    if not e164:
        return ""
    digits = national_display(e164)
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}" if len(digits) == 10 else digits


def money(value: int | None) -> str:
    return f"{value:,}".replace(",", ".") + " đ" if value is not None else ""
