"""What the IVR says, as parts: fixed prompts (from config) and spoken words for numbers.

Numbers are read as sequences of Vietnamese word atoms ("chín", "không", "mươi", ...), so a
front end that plays recorded audio needs one file per atom, and one that uses text-to-speech
simply joins the words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from intake.digits import ascii_digits

DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
# Every word number_words and date_words can produce: the audio vocabulary for numbers.
NUMBER_ATOMS = (
    *DIGIT_WORDS, "mười", "mươi", "mốt", "tư", "lăm", "linh", "trăm", "nghìn", "triệu",
    "ngày", "tháng", "năm", "đồng",
)  # fmt: skip


@dataclass(frozen=True)
class Prompt:
    """A fixed prompt by its key in config.toml [prompts] (or a generated one)."""

    key: str


@dataclass(frozen=True)
class Words:
    """Spoken words from NUMBER_ATOMS, e.g. a vessel number read digit by digit."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Playback:
    """A recording of the caller, played back to them: `recording` is our Recording id; the
    call service fills in `location` (the provider's URL or file) before a front end plays it."""

    recording: str
    location: str = ""


@dataclass(frozen=True)
class Typed:
    """Text nobody recorded in advance (what staff typed: the missing papers, a tracking
    number): said by a speech fallback. Twilio: <Say>; Asterisk: a file synthesised by espeak-ng
    (ivr/asterisk/speech_files.py); the terminal prints it."""

    text: str


Part = Prompt | Words | Playback
# A short silence between groups of digits: a built silent file, a comma in text-to-speech.
PAUSE_KEY = "pause"
PAUSE = Prompt(PAUSE_KEY)


def digit_words(digits: str) -> Words:
    """'90617' -> chín không sáu một bảy (every digit, as the caller typed it)."""
    return Words(tuple(DIGIT_WORDS[int(d)] for d in ascii_digits(digits)))


def grouped_digits(digits: str, sizes: tuple[int, ...]) -> tuple[Part, ...]:
    """Digits read in groups with a pause between: '012345678901', (3, 3, 3, 3) ->
    không một hai, ba bốn năm, ... Digits beyond the sizes form one last group."""
    digits = ascii_digits(digits)
    parts: list[Part] = []
    start = 0
    for size in (*sizes, len(digits)):
        group = digits[start : start + size]
        if not group:
            break
        if parts:
            parts.append(PAUSE)
        parts.append(digit_words(group))
        start += size
    return tuple(parts)


def phone_groups(digits: str) -> tuple[Part, ...]:
    """A phone number as people say it: 0912 345 678; a landline 0255 382 2222."""
    return grouped_digits(digits, (4, 3))


def _below_thousand(n: int, full: bool) -> list[str]:
    """Words for 0 < n < 1000; `full` adds 'không trăm' / 'linh' inside a larger number."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGIT_WORDS[hundreds], "trăm"]
        if rest and tens == 0:
            words.append("linh")
    if tens == 1:
        words.append("mười")
    elif tens > 1:
        words += [DIGIT_WORDS[tens], "mươi"]
    if units:
        if units == 1 and tens > 1:
            words.append("mốt")
        elif units == 5 and tens >= 1:
            words.append("lăm")
        elif units == 4 and tens > 1:
            words.append("tư")
        else:
            words.append(DIGIT_WORDS[units])
    return words


def number_words(n: int) -> Words:
    """40000 -> bốn mươi nghìn; 2026 -> hai nghìn không trăm hai mươi sáu."""
    if n < 0:
        raise ValueError("negative numbers are not spoken")
    if n == 0:
        return Words(("không",))
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    scales = ["", "nghìn", "triệu"]
    if len(groups) > len(scales):
        raise ValueError("number too large to speak")
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        words += _below_thousand(group, full=bool(words))
        if scales[index]:
            words.append(scales[index])
    return Words(tuple(words))


def date_words(day: dt.date, *, year: bool = True) -> Words:
    """09/12/2026 -> ngày chín tháng mười hai năm hai nghìn không trăm hai mươi sáu; without
    the year, ngày chín tháng mười hai."""
    year_words = ("năm", *number_words(day.year).words) if year else ()
    return Words(
        ("ngày", *number_words(day.day).words, "tháng", *number_words(day.month).words,
         *year_words)
    )  # fmt: skip


def text_of(parts: tuple[Part | Typed, ...], prompts: dict[str, str]) -> str:
    """The parts as one Vietnamese sentence, for text-to-speech and the terminal simulator."""
    pieces: list[str] = []
    for part in parts:
        if part == PAUSE:
            if pieces:
                pieces[-1] += ","
        elif isinstance(part, Prompt):
            pieces.append(prompts[part.key])
        elif isinstance(part, Words):
            pieces.append(" ".join(part.words))
        elif isinstance(part, Typed):
            pieces.append(part.text)
    return " ".join(piece for piece in pieces if piece)
