"""sms.encoding: the GSM-7 tables, segment counting at every edge, Vietnamese stripping."""

from __future__ import annotations

import dataclasses
import string
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Encoding,
    Measure,
    is_gsm7,
    measure,
    prepare,
    strip_diacritics,
)

EURO = "€"
EMOJI = "\U0001f600"  # outside the BMP: a surrogate pair in UTF-16
A_ACUTE = "á"  # not GSM-7, so a run of it is UCS-2

# Built from Unicode names, not copied from the implementation, so a look-alike (Ohm sign for
# Omega, Latin for Greek) or a missing letter in the module's table shows up here.
GSM7_NON_ASCII_NAMES = [
    "POUND SIGN",
    "YEN SIGN",
    "LATIN SMALL LETTER E WITH GRAVE",
    "LATIN SMALL LETTER E WITH ACUTE",
    "LATIN SMALL LETTER U WITH GRAVE",
    "LATIN SMALL LETTER I WITH GRAVE",
    "LATIN SMALL LETTER O WITH GRAVE",
    "LATIN CAPITAL LETTER C WITH CEDILLA",
    "LATIN CAPITAL LETTER O WITH STROKE",
    "LATIN SMALL LETTER O WITH STROKE",
    "LATIN CAPITAL LETTER A WITH RING ABOVE",
    "LATIN SMALL LETTER A WITH RING ABOVE",
    "GREEK CAPITAL LETTER DELTA",
    "GREEK CAPITAL LETTER PHI",
    "GREEK CAPITAL LETTER GAMMA",
    "GREEK CAPITAL LETTER LAMDA",
    "GREEK CAPITAL LETTER OMEGA",
    "GREEK CAPITAL LETTER PI",
    "GREEK CAPITAL LETTER PSI",
    "GREEK CAPITAL LETTER SIGMA",
    "GREEK CAPITAL LETTER THETA",
    "GREEK CAPITAL LETTER XI",
    "LATIN CAPITAL LETTER AE",
    "LATIN SMALL LETTER AE",
    "LATIN SMALL LETTER SHARP S",
    "LATIN CAPITAL LETTER E WITH ACUTE",
    "CURRENCY SIGN",
    "INVERTED EXCLAMATION MARK",
    "LATIN CAPITAL LETTER A WITH DIAERESIS",
    "LATIN CAPITAL LETTER O WITH DIAERESIS",
    "LATIN CAPITAL LETTER N WITH TILDE",
    "LATIN CAPITAL LETTER U WITH DIAERESIS",
    "SECTION SIGN",
    "INVERTED QUESTION MARK",
    "LATIN SMALL LETTER A WITH DIAERESIS",
    "LATIN SMALL LETTER O WITH DIAERESIS",
    "LATIN SMALL LETTER N WITH TILDE",
    "LATIN SMALL LETTER U WITH DIAERESIS",
    "LATIN SMALL LETTER A WITH GRAVE",
]
ASCII_NOT_IN_BASIC = set("`^{}\\[~]|")
EXPECTED_BASIC = (
    (set(string.digits + string.ascii_letters + string.punctuation + " ") - ASCII_NOT_IN_BASIC)
    | {"\n", "\r"}
    | {unicodedata.lookup(name) for name in GSM7_NON_ASCII_NAMES}
)
EXPECTED_EXTENSION = {"\f", "^", "{", "}", "\\", "[", "~", "]", "|", "€"}

BASIC_EDGE_CHARACTERS = list("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà") + ["\n", "\r"]

REALISTIC_SMS = (
    "TTHCC Quảng Ngãi: Đã tiếp nhận hồ sơ 000.00.53.H48.TD-261201-0001 "
    "(GP khai thác thủy sản). Hẹn trả KQ 09/12/2026. Hỏi đáp: 02553822222"
)
REALISTIC_SMS_STRIPPED = (
    "TTHCC Quang Ngai: Da tiep nhan ho so 000.00.53.H48.TD-261201-0001 "
    "(GP khai thac thuy san). Hen tra KQ 09/12/2026. Hoi dap: 02553822222"
)
LONG_VIETNAMESE = (
    "Kính gửi ông/bà Nguyễn Thị Ánh Tuyết, Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi "
    "thông báo: hồ sơ đề nghị cấp, cấp lại giấy phép khai thác thủy sản của tàu QNg-90999-TS "
    "đã được tiếp nhận; đề nghị bổ sung giấy chứng nhận an toàn kỹ thuật tàu cá, sổ danh bạ "
    "thuyền viên và ảnh chụp ngư cụ. Mọi thắc mắc xin liên hệ số điện thoại đường dây nóng. "
    "Ưu tiên giải quyết cho ngư dân vùng bãi ngang, huyện đảo Lý Sơn; Ở Ức Ỷ Ẻ Ễ Ợ Ự Ỵ Ỹ."
)


def fields(m: Measure) -> tuple[Encoding, int, int, int, int, int]:
    return (m.encoding, m.characters, m.units, m.segments, m.per_segment, m.remaining)


# --- the tables ---------------------------------------------------------------------------------


def test_basic_table_is_exactly_the_3gpp_default_alphabet() -> None:
    assert len(GSM7_BASIC) == 127  # 128 codes less the escape
    assert set(GSM7_BASIC) == EXPECTED_BASIC


def test_extension_table_is_exactly_the_3gpp_extension() -> None:
    assert set(GSM7_EXTENSION) == EXPECTED_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert "\x1b" not in GSM7_BASIC | GSM7_EXTENSION


@pytest.mark.parametrize("ch", BASIC_EDGE_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
def test_basic_edge_characters_are_gsm7_and_cost_one_septet(ch: str) -> None:
    assert is_gsm7(ch)
    assert fields(measure(ch)) == (Encoding.GSM7, 1, 1, 1, 160, 159)


@pytest.mark.parametrize("ch", sorted(EXPECTED_EXTENSION), ids=lambda c: f"U+{ord(c):04X}")
def test_extension_characters_are_gsm7_and_cost_two_septets(ch: str) -> None:
    assert is_gsm7(ch)
    assert fields(measure(ch)) == (Encoding.GSM7, 1, 2, 1, 160, 158)


@pytest.mark.parametrize(
    "ch",
    [
        "á",
        "ã",
        "ê",
        "`",
        "ç",  # the table has only the capital Ç
        "đ",
        "Đ",
        "ơ",
        "ư",
        "\t",
        "\u00a0",
        "\u2019",
        "\u201c",
        "\u2013",
        "\u2026",
        "\u2126",  # OHM SIGN, a look-alike of Ω
        "\u212b",  # ANGSTROM SIGN, a look-alike of Å
        EMOJI,
        "中",
    ],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_characters_outside_gsm7(ch: str) -> None:
    assert not is_gsm7(ch)
    assert not is_gsm7("abc" + ch + "xyz")
    assert measure(ch).encoding is Encoding.UCS2


def test_encoding_values() -> None:
    assert Encoding.GSM7 == "GSM-7" and str(Encoding.GSM7) == "GSM-7"
    assert Encoding.UCS2 == "UCS-2" and str(Encoding.UCS2) == "UCS-2"


def test_measure_is_frozen() -> None:
    m = measure("hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.segments = 7  # type: ignore[misc]


# --- GSM-7 segment counting ---------------------------------------------------------------------


def test_empty_text_is_zero_segments() -> None:
    m = measure("")
    assert m.text == ""
    assert fields(m) == (Encoding.GSM7, 0, 0, 0, 160, 160)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (1, 1, 160, 159),
        (153, 1, 160, 7),
        (154, 1, 160, 6),
        (159, 1, 160, 1),
        (160, 1, 160, 0),
        (161, 2, 153, 145),
        (305, 2, 153, 1),
        (306, 2, 153, 0),
        (307, 3, 153, 152),
        (459, 3, 153, 0),
        (460, 4, 153, 152),
        (612, 4, 153, 0),
        (613, 5, 153, 152),
    ],
)
def test_gsm7_plain_boundaries(
    length: int, segments: int, per_segment: int, remaining: int
) -> None:
    m = measure("a" * length)
    assert fields(m) == (Encoding.GSM7, length, length, segments, per_segment, remaining)


@pytest.mark.parametrize(
    ("text", "characters", "units", "segments", "remaining"),
    [
        # Fits one SMS exactly: 158 + 2 septets.
        ("a" * 158 + EURO, 159, 160, 1, 0),
        # One septet over: concatenated.
        ("a" * 159 + EURO, 160, 161, 2, 145),
        ("a" * 159 + "{", 160, 161, 2, 145),
        # 152 + € alone still fits a single SMS (154 <= 160).
        ("a" * 152 + EURO, 153, 154, 1, 6),
        # Concatenated: the € would be septets 153-154 of part 1, so it moves whole to part 2.
        ("a" * 152 + EURO + "a" * 10, 163, 164, 2, 141),
        # 306 septets would be 2 parts if the pair could be split; the no-split rule makes it 3.
        ("a" * 152 + EURO + "a" * 152, 305, 306, 3, 152),
        # The € lands on septets 152-153 of part 1: it fits, no padding.
        ("a" * 151 + EURO + "a" * 153, 305, 306, 2, 0),
        ("€" * 80, 80, 160, 1, 0),
        # 76 € per part (152 septets), the 153rd septet is wasted.
        ("€" * 81, 81, 162, 2, 143),
        ("€" * 153, 153, 306, 3, 151),  # 76 + 76 + 1
        ("[" * 10 + "a" * 141, 151, 161, 2, 145),
        ("line one\nline two\r\n" + "|" * 3, 22, 25, 1, 135),
    ],
)
def test_gsm7_extension_characters_count_double_and_never_split(
    text: str, characters: int, units: int, segments: int, remaining: int
) -> None:
    m = measure(text)
    assert m.encoding is Encoding.GSM7
    assert (m.characters, m.units, m.segments, m.remaining) == (
        characters,
        units,
        segments,
        remaining,
    )


@pytest.mark.parametrize("ch", sorted(EXPECTED_EXTENSION), ids=lambda c: f"U+{ord(c):04X}")
def test_each_extension_character_at_the_part_edge(ch: str) -> None:
    m = measure("a" * 152 + ch + "a" * 152)
    assert (m.units, m.segments, m.remaining) == (306, 3, 152)


# --- UCS-2 segment counting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (1, 1, 70, 69),
        (67, 1, 70, 3),
        (68, 1, 70, 2),
        (70, 1, 70, 0),
        (71, 2, 67, 63),
        (133, 2, 67, 1),
        (134, 2, 67, 0),
        (135, 3, 67, 66),
        (201, 3, 67, 0),
        (202, 4, 67, 66),
        (268, 4, 67, 0),
        (269, 5, 67, 66),
    ],
)
def test_ucs2_boundaries(length: int, segments: int, per_segment: int, remaining: int) -> None:
    m = measure(A_ACUTE * length)
    assert fields(m) == (Encoding.UCS2, length, length, segments, per_segment, remaining)


@pytest.mark.parametrize(
    ("text", "characters", "units", "segments", "remaining"),
    [
        (EMOJI, 1, 2, 1, 68),
        (A_ACUTE * 68 + EMOJI, 69, 70, 1, 0),
        # 70 characters but 71 code units: two parts.
        (A_ACUTE * 69 + EMOJI, 70, 71, 2, 63),
        # The emoji would be units 67-68 of part 1: the pair moves whole to part 2.
        (A_ACUTE * 66 + EMOJI + A_ACUTE * 10, 77, 78, 2, 55),
        # 134 units would be 2 parts if the pair could be split; it is 3.
        (A_ACUTE * 66 + EMOJI + A_ACUTE * 66, 133, 134, 3, 66),
        # The emoji ends exactly on unit 67: no padding.
        (A_ACUTE * 65 + EMOJI + A_ACUTE * 67, 133, 134, 2, 0),
        (EMOJI * 35, 35, 70, 1, 0),
        # 33 emoji per part (66 units).
        (EMOJI * 36, 36, 72, 2, 61),
        # One non-GSM-7 character makes the whole text UCS-2.
        ("a" * 160 + A_ACUTE, 161, 161, 3, 67 * 3 - 161),
        ("a" * 69 + "đ", 70, 70, 1, 0),
        # A non-GSM-7 text with GSM-7 extension characters: € is one UTF-16 unit there.
        (EURO * 70 + "đ", 71, 71, 2, 63),
    ],
)
def test_ucs2_surrogate_pairs_count_double_and_never_split(
    text: str, characters: int, units: int, segments: int, remaining: int
) -> None:
    m = measure(text)
    assert m.encoding is Encoding.UCS2
    assert (m.characters, m.units, m.segments, m.remaining) == (
        characters,
        units,
        segments,
        remaining,
    )


@given(st.text(max_size=400))
def test_measure_invariants(text: str) -> None:
    m = measure(text)
    assert m.text == text
    assert m.characters == len(text)
    assert m.encoding is (Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2)
    if m.encoding is Encoding.UCS2:
        assert m.units == len(text.encode("utf-16-le")) // 2
    if not text:
        assert m.segments == 0
        return
    assert 0 <= m.remaining < m.per_segment
    # Every part is used and no part is overfull; the no-split rule only adds padding.
    used = m.segments * m.per_segment - m.remaining
    assert used >= m.units
    assert used - m.units <= m.segments - 1
    assert m.segments == 1 or m.units > {Encoding.GSM7: 160, Encoding.UCS2: 70}[m.encoding]


# --- Vietnamese stripping -----------------------------------------------------------------------

VOWEL_MODIFIERS = {"a": ["", "\u0306", "\u0302"], "e": ["", "\u0302"], "i": [""]}
VOWEL_MODIFIERS |= {"o": ["", "\u0302", "\u031b"], "u": ["", "\u031b"], "y": [""]}
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # none, huyền, sắc, hỏi, ngã, nặng


def composed_vowels() -> list[tuple[str, str]]:
    cases = []
    for base, modifiers in VOWEL_MODIFIERS.items():
        for letter in (base, base.upper()):
            for modifier in modifiers:
                for tone in TONES:
                    cases.append((unicodedata.normalize("NFC", letter + modifier + tone), letter))
    return cases


COMPOSED_VOWELS = composed_vowels()


def test_composed_vowel_table_is_complete() -> None:
    # 12 vowels (a ă â e ê i o ô ơ u ư y) x 6 tones x 2 cases, each one precomposed code point.
    assert len(COMPOSED_VOWELS) == 144
    assert len({v for v, _ in COMPOSED_VOWELS}) == 144
    assert all(len(v) == 1 for v, _ in COMPOSED_VOWELS)


@pytest.mark.parametrize(("vowel", "expected"), COMPOSED_VOWELS, ids=lambda v: f"U+{ord(v):04X}")
def test_every_vowel_and_tone_strips_to_ascii(vowel: str, expected: str) -> None:
    assert strip_diacritics(vowel) == expected
    # Decomposed input (as some keyboards and web forms send it) strips the same way.
    assert strip_diacritics(unicodedata.normalize("NFD", vowel)) == expected
    assert strip_diacritics("x" + vowel + "x") == "x" + expected + "x"


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("aàáảãạăằắẳẵặâầấẩẫậ", "a" * 18),
        ("eèéẻẽẹêềếểễệ", "e" * 12),
        ("iìíỉĩị", "i" * 6),
        ("oòóỏõọôồốổỗộơờớởỡợ", "o" * 18),
        ("uùúủũụưừứửữự", "u" * 12),
        ("yỳýỷỹỵ", "y" * 6),
        ("AÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", "A" * 18),
        ("EÈÉẺẼẸÊỀẾỂỄỆ", "E" * 12),
        ("IÌÍỈĨỊ", "I" * 6),
        ("OÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", "O" * 18),
        ("UÙÚỦŨỤƯỪỨỬỮỰ", "U" * 12),
        ("YỲÝỶỸỴ", "Y" * 6),
        ("ằ ẳ ẵ ặ ắ Ầ Ẩ Ẫ Ậ Ấ", "a a a a a A A A A A"),
        ("ờ ở ỡ ợ ớ ừ ử ữ ự ứ", "o o o o o u u u u u"),
        ("ỳ ỷ ỹ ỵ ý", "y y y y y"),
        ("đ Đ đường ĐỒNG", "d D duong DONG"),
        ("Nguyễn Thị Ánh Tuyết, Đường Quảng Ngãi", "Nguyen Thi Anh Tuyet, Duong Quang Ngai"),
        ("Lý Sơn, Bình Sơn, Sơn Tịnh, Tư Nghĩa", "Ly Son, Binh Son, Son Tinh, Tu Nghia"),
        ("Phường Trương Quang Trọng", "Phuong Truong Quang Trong"),
        ("ỨNG CỨU KHẨN CẤP", "UNG CUU KHAN CAP"),
    ],
)
def test_literal_precomposed_letters(literal: str, expected: str) -> None:
    assert unicodedata.is_normalized("NFC", literal)
    assert strip_diacritics(literal) == expected
    assert is_gsm7(strip_diacritics(literal))


def test_long_vietnamese_sentence_strips_to_gsm7_without_question_marks() -> None:
    stripped = strip_diacritics(LONG_VIETNAMESE)
    assert "?" not in LONG_VIETNAMESE
    assert "?" not in stripped
    assert stripped.isascii()
    assert is_gsm7(stripped)
    assert len(stripped) == len(LONG_VIETNAMESE)
    assert stripped.endswith("huyen dao Ly Son; O Uc Y E E O U Y Y.")


def test_existing_question_marks_are_kept_and_none_are_added() -> None:
    text = "Ông/bà có muốn nhận kết quả qua bưu điện không? Trả lời CO hoặc KHONG"
    stripped = strip_diacritics(text)
    assert stripped == "Ong/ba co muon nhan ket qua qua buu dien khong? Tra loi CO hoac KHONG"
    assert stripped.count("?") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u201cXin chào\u201d", '"Xin chao"'),
        ("\u2018ok\u2019 và l\u2019an", "'ok' va l'an"),
        ("08:00\u201317:00", "08:00-17:00"),
        ("A \u2014 B \u2015 C \u2212 D", "A - B - C - D"),
        ("Vui lòng chờ\u2026", "Vui long cho..."),
        ("Số\u00a0hồ\u202fsơ\u2009nhé", "So ho so nhe"),
        ("\u00abTrích\u00bb", '"Trich"'),
        ("a\u200bb\ufeffc\u00add", "abcd"),
        ("`quoted\u00b4", "'quoted'"),
        ("\u00d0\u1ed3ng \u0189\u00e0", "Dong Da"),
    ],
)
def test_typographic_punctuation_becomes_ascii(text: str, expected: str) -> None:
    stripped = strip_diacritics(text)
    assert stripped == expected
    assert is_gsm7(stripped)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hẹn gặp lại " + EMOJI, "Hen gap lai " + EMOJI),
        ("Tên: 中文 Trần", "Ten: 中文 Tran"),
        ("Привет, йод", "Привет, йод"),  # й keeps its breve: it is a letter, not an accent
        ("\u0301 lẻ", "\u0301 le"),  # a mark with no base is kept, never turned into '?'
    ],
)
def test_unmappable_characters_are_kept(text: str, expected: str) -> None:
    stripped = strip_diacritics(text)
    assert stripped == expected
    assert "?" not in stripped
    assert measure(stripped).encoding is Encoding.UCS2


@pytest.mark.parametrize("text", ["plain ASCII @ 100%", "Ø ø ß Æ æ Δ Ω _ § ¿ ¡ £ ¥ ¤", "a\nb\rc"])
def test_gsm7_text_without_marks_is_unchanged(text: str) -> None:
    assert strip_diacritics(text) == text


@given(st.text(max_size=200))
def test_strip_is_idempotent_and_adds_no_question_marks(text: str) -> None:
    stripped = strip_diacritics(text)
    assert strip_diacritics(stripped) == stripped
    assert stripped.count("?") == text.count("?")


# --- the realistic message and prepare() --------------------------------------------------------


def test_realistic_sms_stripped_fits_one_gsm7_message() -> None:
    assert strip_diacritics(REALISTIC_SMS) == REALISTIC_SMS_STRIPPED
    m = prepare(REALISTIC_SMS, "strip")
    assert m.text == REALISTIC_SMS_STRIPPED
    assert fields(m) == (Encoding.GSM7, 134, 134, 1, 160, 26)


def test_realistic_sms_unstripped_is_ucs2() -> None:
    m = prepare(REALISTIC_SMS, "unicode")
    assert m.text == REALISTIC_SMS
    # 134 UTF-16 units is exactly two 67-unit parts.
    assert fields(m) == (Encoding.UCS2, 134, 134, 2, 67, 0)
    # One more character needs a third part.
    assert measure(REALISTIC_SMS + ".").segments == 3


@pytest.mark.parametrize(
    ("text", "policy", "expected"),
    [
        ("  Xin   chào\t\tbạn  ", "unicode", "Xin chào bạn"),
        ("  Xin   chào\t\tbạn  ", "strip", "Xin chao ban"),
        ("dòng 1\r\ndòng 2\rdòng 3\u2028dòng 4", "strip", "dong 1\ndong 2\ndong 3\ndong 4"),
        ("a  \n  b", "unicode", "a\nb"),
        ("a\n\n\nb", "unicode", "a\n\n\nb"),  # newlines are the author's: kept
        ("\n\n  a b  \n\n", "unicode", "a b"),
        ("số\u00a0\u00a0hồ sơ", "unicode", "số hồ sơ"),
        ("e\u0301", "unicode", "é"),  # NFC: one GSM-7 character, not two UCS-2 ones
        ("\u2126", "unicode", "Ω"),  # OHM SIGN is canonically Ω
        ("a\u200bb", "unicode", "ab"),
        ("\u201cHẹn\u201d", "unicode", "\u201cHẹn\u201d"),
        ("\u201cHẹn\u201d", "strip", '"Hen"'),
        ("", "strip", ""),
        (" \t\n ", "unicode", ""),
    ],
)
def test_prepare_normalises(text: str, policy: str, expected: str) -> None:
    m = prepare(text, policy)  # type: ignore[arg-type]
    assert m.text == expected
    assert m == measure(expected)


@pytest.mark.parametrize(
    ("text", "policy", "encoding", "segments"),
    [
        ("é", "unicode", Encoding.GSM7, 1),
        ("e\u0301", "unicode", Encoding.GSM7, 1),
        ("Hẹn", "unicode", Encoding.UCS2, 1),
        ("Hẹn", "strip", Encoding.GSM7, 1),
        ("Hẹn " + EMOJI, "strip", Encoding.UCS2, 1),
        (" ", "strip", Encoding.GSM7, 0),
        ("đ" * 71, "unicode", Encoding.UCS2, 2),
        ("đ" * 71, "strip", Encoding.GSM7, 1),
        ("Đường " * 30, "strip", Encoding.GSM7, 2),
    ],
)
def test_prepare_policies(text: str, policy: str, encoding: Encoding, segments: int) -> None:
    m = prepare(text, policy)  # type: ignore[arg-type]
    assert (m.encoding, m.segments) == (encoding, segments)


def test_prepare_rejects_unknown_policy() -> None:
    with pytest.raises(ValueError, match="policy"):
        prepare("x", "ascii")  # type: ignore[arg-type]
