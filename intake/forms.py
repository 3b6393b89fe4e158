"""The per-procedure form fields staff complete (config.toml [[procedures.*.fields]]).

Validation returns a message per field, in Vietnamese, to show next to the field. Blank values
are allowed while a dossier is being completed; `missing_required` says what must be filled
before the dossier can be accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from intake.errors import InvalidInput
from intake.models import Applicant
from intake.phone import national_display, parse_phone
from intake.vessel_number import parse_vessel_number
from plumbing.settings import FormField, Settings

# A text field that is also stored in a column gets that column's length as its limit, so the
# form can never accept what the database would refuse; the others live only in the dossier's
# JSON form and get TEXT_MAX.
TEXT_MAX = 300
COLUMN_OF_FIELD = {
    "owner_name": Applicant.__table__.c.name,
    "address": Applicant.__table__.c.address,
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DAY = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}")
_METRES = re.compile(r"[0-9]{1,3}([.,][0-9]{1,2})?")


def max_length(field: FormField) -> int:
    """The most characters a text field takes (its column's length when it has one)."""
    column = COLUMN_OF_FIELD.get(field.key)
    return column.type.length if column is not None else TEXT_MAX


def fields_for(settings: Settings, procedure: str, variant: str | None) -> list[FormField]:
    return [
        field
        for field in settings.procedures[procedure].fields
        if not field.variants or variant in field.variants
    ]


def clean_value(settings: Settings, field: FormField, raw: str) -> str:
    """The stored form of one value; raises InvalidInput with the message for the field."""
    value = " ".join(raw.split())
    if value == "":
        return ""
    if _CONTROL.search(value):
        raise InvalidInput("Có ký tự không hợp lệ (ký tự điều khiển); vui lòng nhập lại.")
    if field.kind == "date":
        try:
            if not _DAY.fullmatch(value):  # strptime's %d also takes '٠٥' and '０５'
                raise ValueError(value)
            day = dt.datetime.strptime(value, "%d/%m/%Y").date()
        except ValueError as exc:
            raise InvalidInput("Ngày viết theo dạng ngày/tháng/năm, ví dụ 05/09/1975.") from exc
        if not dt.date(1900, 1, 1) <= day <= dt.date(2100, 12, 31):
            raise InvalidInput("Ngày không hợp lý.")
        return day.isoformat()
    if field.kind == "citizen_id":
        digits = re.sub(r"[\s.]", "", value)
        if not re.fullmatch(r"[0-9]{12}", digits):
            raise InvalidInput("Số căn cước công dân gồm đúng 12 chữ số.")
        return digits
    if field.kind == "phone":
        try:
            number = parse_phone(value)
        except InvalidInput as exc:
            raise InvalidInput(
                "Số điện thoại không hợp lệ (di động 10 số bắt đầu 03, 05, 07, 08, 09)."
            ) from exc
        if not number.can_receive_sms:
            raise InvalidInput("Cần số di động (10 số) để nhận tin nhắn.")
        return number.e164
    if field.kind == "length_m":
        if not _METRES.fullmatch(value):  # float() would take 'nan', '1e3' and '１２'
            raise InvalidInput("Chiều dài viết bằng số mét, ví dụ 13,5.")
        metres = float(value.replace(",", "."))
        if not 1 <= metres <= 150:
            raise InvalidInput("Chiều dài tàu từ 1 đến 150 m.")
        return f"{metres:g}"
    if field.kind == "vessel_number":
        try:
            number = parse_vessel_number(value, settings.provinces, settings.centre.home_province)
        except InvalidInput as exc:
            home = settings.centre.home_province
            raise InvalidInput(f"Số đăng ký tàu dạng {home}-12345-TS (mã tỉnh, 5 số, TS).") from exc
        return str(number)
    limit = max_length(field)
    if len(value) > limit:
        raise InvalidInput(f"Tối đa {limit} ký tự (đang có {len(value)}).")
    return value


def validate(
    settings: Settings, procedure: str, variant: str | None, raw: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(clean values, errors) for the fields present in `raw`."""
    clean: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in fields_for(settings, procedure, variant):
        if field.key not in raw:
            continue
        try:
            clean[field.key] = clean_value(settings, field, raw[field.key])
        except InvalidInput as exc:
            errors[field.key] = str(exc)
    return clean, errors


def missing_required(
    settings: Settings, procedure: str, variant: str | None, form: Mapping[str, object]
) -> list[FormField]:
    return [
        f for f in fields_for(settings, procedure, variant) if f.required and not form.get(f.key)
    ]


def display_value(field: FormField, stored: object) -> str:
    """How a stored value is shown in the form again (dates back to dd/mm/yyyy)."""
    if stored in (None, ""):
        return ""
    if field.kind == "date":
        try:
            return dt.date.fromisoformat(str(stored)).strftime("%d/%m/%Y")
        except ValueError:
            return str(stored)
    if field.kind == "phone":
        return national_display(str(stored))
    return str(stored)
