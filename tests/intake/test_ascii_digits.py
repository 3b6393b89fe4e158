"""Only ASCII 0-9 are digits. Python's isdigit(), int() and `\\d` also take full-width,
Arabic-Indic and superscript digits; a vessel or citizen id stored with them is never found."""

from __future__ import annotations

import pytest

from intake.digits import ascii_digits, is_digits
from intake.errors import InvalidInput
from intake.forms import clean_value
from intake.phone import parse_phone
from intake.vessel_number import parse_vessel_number
from plumbing.settings import FormField
from sms.inbound import find_dossier_by_code, parse_intent

PROVINCES = ["QNg", "BĐ"]


@pytest.mark.parametrize("text", ["１２３４５", "١٢٣٤٥", "²³⁴⁵⁶", "𝟗𝟎𝟔𝟏𝟕", "", "12a45"])
def test_only_ascii_digits_are_digits(text):
    assert not is_digits(text)
    assert is_digits("0123456789")
    assert (
        ascii_digits(f"QNg-{text}-90617") == "".join(c for c in text if c in "0123456789") + "90617"
    )


@pytest.mark.parametrize(
    "raw", ["０９１２３４５６７８", "٠٩١٢٣٤٥٦٧٨", "09１2345678", "+84９12345678"]
)
def test_a_phone_number_in_other_digits_is_refused(raw):
    with pytest.raises(InvalidInput):
        parse_phone(raw)


@pytest.mark.parametrize(
    "raw", ["QNg-１２３４５-TS", "QNg-١٢٣٤٥-TS", "９０６１７", "QNg 9061７ TS"]
)
def test_a_vessel_number_in_other_digits_is_refused(raw):
    with pytest.raises(InvalidInput):
        parse_vessel_number(raw, PROVINCES, "QNg")


@pytest.mark.parametrize("raw", ["٠٧٩١٢٣٤٥٦٧٨٩", "０７９１２３４５６７８９", "07912345678٩"])
def test_a_citizen_id_in_other_digits_gets_the_field_message(base_settings, raw):
    field = FormField(key="citizen_id", label="Số căn cước công dân", kind="citizen_id")
    with pytest.raises(InvalidInput, match="12 chữ số"):
        clean_value(base_settings, field, raw)


def test_an_sms_look_up_in_other_digits_is_not_a_code():
    assert parse_intent("TT ٢٦١٢٠١٠٠٠١").name == "help"
    assert parse_intent("TT 2612010001").name == "status"


def test_a_code_in_other_digits_looks_nothing_up():
    # No session is needed: a code that is not ten ASCII digits is refused before any query.
    assert find_dossier_by_code(None, "２６１２０１０００１") is None
