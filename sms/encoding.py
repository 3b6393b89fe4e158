"""SMS encoding: GSM-7 / UCS-2 detection, exact segment counting and Vietnamese stripping.

GSM-7 is the 3GPP TS 23.038 default alphabet plus its extension table. A single GSM-7 SMS holds
160 septets; a concatenated one 153 per part (the user data header takes the rest). Extension
characters cost two septets (escape + character). Any character outside GSM-7 makes the whole
message UCS-2: 70 UTF-16 code units single, 67 per part.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Encoding",
    "gsm7_decode",
    "gsm7_encode",
    "Measure",
    "Policy",
    "is_gsm7",
    "measure",
    "prepare",
    "split_parts",
    "strip_diacritics",
]

# The default alphabet in code order, 0x00-0x7F, one row per 16 codes. 0x1B is the escape to
# the extension table, not a character, and is dropped below. 0x09 is the capital Ç.
_GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# Extension table characters, keyed by their code after the escape.
_GSM7_EXTENSION_TABLE = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

GSM7_BASIC: frozenset[str] = frozenset(_GSM7_BASIC_TABLE) - {"\x1b"}
_GSM7_ESCAPE = 0x1B
_GSM7_CODE = {ch: code for code, ch in enumerate(_GSM7_BASIC_TABLE) if code != _GSM7_ESCAPE}
_GSM7_EXTENSION_CODE = {ch: code for code, ch in _GSM7_EXTENSION_TABLE.items()}
GSM7_EXTENSION: frozenset[str] = frozenset(_GSM7_EXTENSION_TABLE.values())
_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

Policy = Literal["strip", "unicode"]

# Invisible characters that only cost space (and would force UCS-2).
_INVISIBLE = {"\u200b": None, "\ufeff": None, "\u00ad": None}

_STRIP_MAP = str.maketrans(
    {
        # NFD does not decompose đ/Đ; Ð (eth) and Ɖ (African D) are common stand-ins for Đ.
        "đ": "d",
        "Đ": "D",
        "\u00d0": "D",
        "\u0189": "D",
        # Quotes and apostrophes.
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        # Hyphens and dashes.
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        # Non-breaking and fixed-width spaces.
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2004": " ",
        "\u2005": " ",
        "\u2006": " ",
        "\u2007": " ",
        "\u2008": " ",
        "\u2009": " ",
        "\u200a": " ",
        "\u202f": " ",
        **_INVISIBLE,
    }
)
_INVISIBLE_MAP = str.maketrans(_INVISIBLE)

_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x85]")
_SPACES = re.compile(r"[^\S\n]+")
_SPACES_AROUND_NEWLINE = re.compile(r" ?\n ?")


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class Measure:
    """How a text goes out as SMS.

    ``characters`` is ``len(text)`` (code points, as a person counts them); ``units`` is septets
    for GSM-7 (extension characters count 2) or UTF-16 code units for UCS-2 (characters outside
    the BMP count 2). ``per_segment`` is the single-message capacity (160/70) when the text fits
    in one SMS, else the per-part capacity (153/67). ``remaining`` is what is left in the last
    segment. An empty text is 0 segments with the whole single-message capacity remaining.
    """

    text: str
    encoding: Encoding
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM-7 basic or extension table (exactly, no folding)."""
    return all(ch in _GSM7_ALL for ch in text)


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese (and other) marks from Latin letters and ASCII-fy typographic punctuation.

    đ/Đ become d/D, curly quotes, dashes, the ellipsis and non-breaking spaces become ASCII.
    Marks on non-Latin letters and characters with no mapping (emoji, CJK, ...) are kept as they
    are, so the message falls back to UCS-2 rather than losing them; nothing becomes ``?``.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_STRIP_MAP))
    kept: list[str] = []
    base = ""
    for ch in decomposed:
        if unicodedata.category(ch) == "Mn":
            # Only a mark on an ASCII letter is dropped: on any other base it may be the letter's
            # identity (й, ї), and a stray mark with no base has nothing to fall back to.
            if base.isascii() and base.isalpha():
                continue
        else:
            base = ch
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def measure(text: str) -> Measure:
    """Encoding, size and exact segment count of ``text`` as it would be sent.

    Concatenated parts are filled greedily, and a unit pair never straddles two parts: a GSM-7
    escape stays with its extension character and a UTF-16 surrogate pair stays whole, since
    handsets decode each part on its own. So the count can exceed ``ceil(units / per_part)``.
    """
    if is_gsm7(text):
        encoding = Encoding.GSM7
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        encoding = Encoding.UCS2
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = UCS2_SINGLE, UCS2_PART
    units = sum(costs)

    if units <= single:
        segments = 1 if units else 0
        per_segment, remaining = single, single - units
    else:
        segments, fill = 1, 0
        for cost in costs:
            if fill + cost > part:
                segments, fill = segments + 1, 0
            fill += cost
        per_segment, remaining = part, part - fill

    return Measure(
        text=text,
        encoding=encoding,
        characters=len(text),
        units=units,
        segments=segments,
        per_segment=per_segment,
        remaining=remaining,
    )


def prepare(text: str, policy: Policy) -> Measure:
    """Normalise ``text`` for sending and measure it.

    Always: Unicode NFC; zero-width spaces, BOMs and soft hyphens removed; line breaks (CRLF, CR,
    U+2028/2029) become LF and are kept, blank lines included; every other run of whitespace
    (tabs, non-breaking spaces, ...) becomes one space; spaces next to a line break and at both
    ends of the text are dropped. ``"strip"`` also applies :func:`strip_diacritics` (to fit
    GSM-7); ``"unicode"`` keeps the letters as they are.
    """
    if policy not in ("strip", "unicode"):
        raise ValueError(f"unknown SMS policy {policy!r}; expected 'strip' or 'unicode'")
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE_MAP)
    if policy == "strip":
        text = strip_diacritics(text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _SPACES.sub(" ", text)
    text = _SPACES_AROUND_NEWLINE.sub("\n", text).strip()
    return measure(text)


def split_parts(text: str) -> list[str]:
    """The text of each SMS part, cut exactly as :func:`measure` counts them (so the parts sent
    are the segments staff were shown): greedily, never between a GSM-7 escape and its
    character nor inside a UTF-16 surrogate pair."""
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(costs) <= single:
        return [text] if text else []
    parts: list[str] = []
    start, fill = 0, 0
    for index, cost in enumerate(costs):
        if fill + cost > part:
            parts.append(text[start:index])
            start, fill = index, 0
        fill += cost
    parts.append(text[start:])
    return parts


def gsm7_encode(text: str) -> bytes:
    """GSM 03.38 default alphabet, one octet per septet (unpacked, as SMPP carries it);
    extension characters as the escape and their code. ValueError for anything else."""
    out = bytearray()
    for ch in text:
        if ch in _GSM7_CODE:
            out.append(_GSM7_CODE[ch])
        elif ch in _GSM7_EXTENSION_CODE:
            out += bytes((_GSM7_ESCAPE, _GSM7_EXTENSION_CODE[ch]))
        else:
            raise ValueError(f"{ch!r} is not in the GSM-7 alphabet")
    return bytes(out)


def gsm7_decode(octets: bytes) -> str:
    """The inverse of :func:`gsm7_encode`; an unknown escape gives a space, as handsets do."""
    chars: list[str] = []
    escaped = False
    for octet in octets:
        code = octet & 0x7F
        if escaped:
            chars.append(_GSM7_EXTENSION_TABLE.get(code, " "))
            escaped = False
        elif code == _GSM7_ESCAPE:
            escaped = True
        else:
            chars.append(_GSM7_BASIC_TABLE[code])
    return "".join(chars)
