"""Phone numbers and vessel registration numbers as people really type them."""

from __future__ import annotations

import pytest

from intake.errors import InvalidInput
from intake.phone import LineKind, mask_phone, parse_phone
from intake.text import fold
from intake.vessel_number import parse_vessel_number

PROVINCES = ["QNg", "BĐ", "KH", "ĐNa", "QNa"]


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("0912 345 678", "+84912345678", LineKind.MOBILE),
        ("0912345678", "+84912345678", LineKind.MOBILE),
        ("84912345678", "+84912345678", LineKind.MOBILE),
        ("+84 912.345.678", "+84912345678", LineKind.MOBILE),
        ("+84-912-345-678", "+84912345678", LineKind.MOBILE),
        ("(+84) 912 345 678", "+84912345678", LineKind.MOBILE),
        ("0084912345678", "+84912345678", LineKind.MOBILE),
        ("0335 123 456", "+84335123456", LineKind.MOBILE),
        ("0567.123.456", "+84567123456", LineKind.MOBILE),
        ("0708123456", "+84708123456", LineKind.MOBILE),
        ("0868123456", "+84868123456", LineKind.MOBILE),
        (" 0987654321 ", "+84987654321", LineKind.MOBILE),
        ("02553 822 222", "+842553822222", LineKind.LANDLINE),
        ("+84 255 3822222", "+842553822222", LineKind.LANDLINE),
        ("02439876543", "+842439876543", LineKind.LANDLINE),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw, e164, kind):
    number = parse_phone(raw)
    assert (number.e164, number.kind) == (e164, kind)
    assert number.can_receive_sms is (kind is LineKind.MOBILE)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "091234567",  # 9 digits
        "09123456789",  # 11 digits, not a landline
        "0112345678",  # no such mobile prefix
        "0412345678",
        "0612345678",
        "+1 415 555 0100",  # not Vietnamese
        "0912abc678",
        "0255382222",  # landline one digit short
        "849123456",
    ],
)
def test_numbers_that_are_not_vietnamese_phones_are_refused(raw):
    with pytest.raises(InvalidInput):
        parse_phone(raw)


def test_national_form_and_mask():
    number = parse_phone("+84912345678")
    assert number.national == "0912345678"
    assert mask_phone(number.e164) == "+8491****678"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("QNg-90617-TS", "QNg-90617-TS"),
        ("QNg 90617 TS", "QNg-90617-TS"),
        ("qng-90617-ts", "QNg-90617-TS"),
        ("QNG90617TS", "QNg-90617-TS"),
        ("QNg 96169 TS", "QNg-96169-TS"),
        ("90617", "QNg-90617-TS"),
        (" 90617 ", "QNg-90617-TS"),
        ("BĐ 96129TS", "BĐ-96129-TS"),
        ("BD-96129-TS", "BĐ-96129-TS"),
        ("bđ96129", "BĐ-96129-TS"),
        ("KH-12345-TS", "KH-12345-TS"),
        ("ĐNa 01234 TS", "ĐNa-01234-TS"),
        ("dna-01234-ts", "ĐNa-01234-TS"),
        ("QNa.55555.TS", "QNa-55555-TS"),
    ],
)
def test_vessel_numbers_are_normalised(raw, expected):
    assert str(parse_vessel_number(raw, PROVINCES, "QNg")) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "9061",  # four digits
        "906170",  # six digits
        "XX-90617-TS",  # province not in the list
        "QNg-90617-TX",
        "QNg--TS",
        "TS-90617",
        "QNg 9O617 TS",  # letter O for zero
    ],
)
def test_bad_vessel_numbers_are_refused(raw):
    with pytest.raises(InvalidInput):
        parse_vessel_number(raw, PROVINCES, "QNg")


def test_fold_removes_marks_and_maps_d_with_stroke():
    assert fold("Bình Định, ĐÀ NẴNG, Quảng Ngãi") == "binh dinh, da nang, quang ngai"
