"""SMPP without the socket: parts, alphabets, receipts and command statuses."""

from __future__ import annotations

import datetime as dt

import pytest

from sms.encoding import measure, prepare
from sms.gateways.smpp_codec import (
    ESM_UDHI,
    UCS2,
    MobileOriginated,
    Receipt,
    is_permanent,
    parse_deliver,
    receipt_from_state,
    submit_parts,
    validity_period,
)
from sms.smpp_deliveries import inbound_key, international_sender

VIETNAMESE = "Hồ sơ của ông/bà đã được tiếp nhận, hẹn trả kết quả ngày 08/12/2026. "


def _reassemble(parts, coding):
    body = b"".join(p.short_message[6:] if p.esm_class & ESM_UDHI else p.short_message
                    for p in parts)  # fmt: skip
    if coding == UCS2:
        return body.decode("utf-16-be")
    from sms.encoding import gsm7_decode

    return gsm7_decode(body)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 160,
        "a" * 161,
        "a" * 306,
        "a" * 307,
        "a" * 152 + "€",  # the escape pair would straddle parts 1 and 2
        "{" * 80,
        "ư" * 70,
        "ư" * 71,
        "ư" * 134,
        "ư" * 135,
        "ư" * 66 + "😀",  # a surrogate pair at the part boundary
        VIETNAMESE * 3,
        prepare(VIETNAMESE * 4, "strip").text,
    ],
)
def test_parts_are_the_segments_staff_were_shown(text):
    parts = submit_parts(text, gsm7_data_coding=0, concatenation="udh", reference=7)
    assert len(parts) == measure(text).segments
    assert _reassemble(parts, parts[0].data_coding) == text
    assert [p.last for p in parts] == [False] * (len(parts) - 1) + [True]
    if len(parts) > 1:
        headers = [p.short_message[:6] for p in parts]
        assert headers == [bytes((5, 0, 3, 7, len(parts), n)) for n in range(1, len(parts) + 1)]
        assert all(p.esm_class == ESM_UDHI for p in parts)
        # The carrier's limit per submit_sm: 140 octets of user data once packed.
        limit = 140 if parts[0].data_coding == UCS2 else 159
        assert all(len(p.short_message) <= limit for p in parts)


def test_a_vietnamese_notice_goes_as_ucs2_and_a_stripped_one_as_plain_gsm7():
    unicode = submit_parts(VIETNAMESE * 2, gsm7_data_coding=0, concatenation="udh", reference=1)
    assert {p.data_coding for p in unicode} == {UCS2} and len(unicode) == 3
    stripped = prepare(VIETNAMESE, "strip").text
    (part,) = submit_parts(stripped, gsm7_data_coding=0, concatenation="udh", reference=1)
    assert part.data_coding == 0
    # Letters, digits and this punctuation are the same octets in GSM 03.38 and ASCII.
    assert part.short_message == stripped.encode("ascii")


def test_the_carriers_other_alphabets_and_sar_concatenation():
    text = prepare(VIETNAMESE * 3, "strip").text
    parts = submit_parts(text, gsm7_data_coding=3, concatenation="sar", reference=300)
    assert {p.data_coding for p in parts} == {3}
    assert b"".join(p.short_message for p in parts).decode("latin-1") == text
    assert [p.tlvs for p in parts] == [
        {"sar_msg_ref_num": 300, "sar_total_segments": 2, "sar_segment_seqnum": n} for n in (1, 2)
    ]
    assert all(p.esm_class == 0 for p in parts)


def test_validity_is_relative_days_and_hours():
    assert validity_period(72) == "000003000000000R"
    assert validity_period(30) == "000001060000000R"


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(0x0B, True), (0x0A, True), (0x45, False), (0x58, False), (0x14, False), (0x400, False)],
)
def test_refusals_are_permanent_only_when_no_retry_can_help(status, permanent):
    assert is_permanent(status) is permanent


def _receipt(**values):
    defaults = dict(esm_class=0x04, source_addr=b"84912345678", destination_addr=b"TTHCC",
                    data_coding=0)  # fmt: skip
    return parse_deliver(**{**defaults, **values})


def test_a_receipt_is_read_from_its_tlvs_first_then_from_its_text():
    text = (
        b"id:7001 sub:001 dlvrd:000 submit date:2612020900 done date:2612020901 "
        b"stat:UNDELIV err:011 text:"
    )
    assert _receipt(short_message=text) == Receipt("7001", "UNDELIV", "011")
    with_tlvs = _receipt(short_message=text, receipted_message_id=b"abc-1", message_state=2)
    assert with_tlvs == Receipt("abc-1", "DELIVRD", "011")
    assert with_tlvs.provider_status == "delivered"
    assert _receipt(short_message=text).provider_status == "undelivered"
    assert _receipt(short_message=b"stat:DELIVRD") is None  # no id: nothing to match


def test_a_citizens_message_is_decoded_from_its_alphabet():
    ucs2 = "TT hồ sơ".encode("utf-16-be")
    message = parse_deliver(esm_class=0, source_addr=b"84912345678", destination_addr=b"8079",
                            short_message=ucs2, data_coding=8)  # fmt: skip
    assert message == MobileOriginated("84912345678", "8079", "TT hồ sơ")
    gsm = parse_deliver(esm_class=0, source_addr=b"84912345678", destination_addr=b"8079",
                        short_message=b"HUY", data_coding=0)  # fmt: skip
    assert gsm.text == "HUY"
    assert international_sender(gsm.source) == "+84912345678"


def test_a_redelivered_message_has_the_same_key_and_a_later_one_a_new_key():
    message = MobileOriginated("84912345678", "8079", "TT 2612010001")
    at = dt.datetime(2026, 12, 2, 9, 1, tzinfo=dt.UTC)
    assert inbound_key(message, at) == inbound_key(message, at + dt.timedelta(minutes=5))
    assert inbound_key(message, at) != inbound_key(message, at + dt.timedelta(minutes=30))
    other = MobileOriginated("84912345679", "8079", "TT 2612010001")
    assert inbound_key(message, at) != inbound_key(other, at)
    assert len(inbound_key(message, at)) <= 64


def _mo(short_message, esm_class=0, sar=None):
    return parse_deliver(esm_class=esm_class, source_addr=b"84912345678", destination_addr=b"8079",
                         short_message=short_message, data_coding=UCS2, sar=sar)  # fmt: skip


def test_a_part_of_a_long_citizens_message_says_which_part_it_is():
    body = "Cán bộ".encode("utf-16-be")
    eight_bit = _mo(bytes((5, 0x00, 3, 0xA7, 3, 2)) + body, ESM_UDHI)
    assert eight_bit == MobileOriginated("84912345678", "8079", "Cán bộ", (0xA7, 3, 2))
    sixteen_bit = _mo(bytes((6, 0x08, 4, 0x12, 0x34, 2, 1)) + body, ESM_UDHI)
    assert sixteen_bit.concat == (0x1234, 2, 1) and sixteen_bit.text == "Cán bộ"
    # Another element first (a port address), then the concatenation.
    ported = _mo(bytes((11, 0x05, 4, 0, 0, 0, 0, 0x00, 3, 9, 2, 2)) + body, ESM_UDHI)
    assert ported.concat == (9, 2, 2) and ported.text == "Cán bộ"
    assert _mo(body, 0, sar=(700, 4, 3)).concat == (700, 4, 3)
    # Whole messages: no header, no SAR, or a "series" of one.
    assert _mo(body).concat is None
    assert _mo(body, 0, sar=(None, None, None)).concat is None
    assert _mo(bytes((5, 0x00, 3, 1, 1, 1)) + body, ESM_UDHI).concat is None
    assert _mo(bytes((5, 0x00, 3, 1, 2, 3)) + body, ESM_UDHI).concat is None  # part 3 of 2


def test_a_query_sm_answer_reads_like_a_receipt():
    assert receipt_from_state("77", 2, 0) == Receipt("77", "DELIVRD", "000")
    assert receipt_from_state("77", 5, 1).provider_status == "undelivered"
    assert receipt_from_state("77", 1, 0).provider_status == "sent"
    assert receipt_from_state("77", 99).provider_status is None
