"""What a notice call says: the voice templates of `[notice_calls.voice]` (config.toml), as parts.

A template's fixed text becomes recorded pieces (prompt keys `notice_<name>_<n>`, built into
audio by `tongdai prompts build` like every other prompt); dates are read in number words; the
dossier code is read in groups. Text staff typed (the missing papers, a reason, a tracking
number) cannot be recorded in advance: it is a `Typed` part (ivr/speech.py), said by a speech
fallback: Twilio's <Say>, on Asterisk a file espeak-ng synthesises (ivr/asterisk/speech_files.py).
The stripped SMS text is never read out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from intake.codes import spoken_part
from ivr.flow import code_parts
from ivr.speech import Part, Prompt, Typed, date_words
from plumbing.settings import VOICE_FRAME, VOICE_PLACEHOLDERS  # noqa: F401 (one list)

PLACEHOLDER = re.compile(r"\{(\w+)\}")
DATES = frozenset({"due", "new_due"})  # the rest of VOICE_PLACEHOLDERS is typed text


NoticePart = Part | Typed


def dossier_code_groups(code: str) -> tuple[Part, ...]:
    """The code as the phone line reads it everywhere (`ivr.flow.code_parts`): the
    receipt date, a pause, the sequence: `...-261201-0099` -> hai sáu một hai không một,
    không không chín chín."""
    return code_parts(spoken_part(code))


def voice_keys(name: str, template: str) -> dict[str, str]:
    """The recorded pieces of one template: key -> Vietnamese text."""
    pieces = PLACEHOLDER.split(template)[::2]  # split keeps the names at odd positions
    return {
        f"notice_{name}_{index}": piece.strip()
        for index, piece in enumerate(pieces)
        if piece.strip()
    }


def voice_catalogue(voice: Mapping[str, str]) -> dict[str, str]:
    """Every recorded piece of every voice template (for `tongdai prompts build`)."""
    catalogue: dict[str, str] = {}
    for name, template in voice.items():
        catalogue.update(voice_keys(name, template))
    return catalogue


def template_parts(name: str, template: str, values: Mapping[str, Any]) -> tuple[NoticePart, ...]:
    """One template as parts: its fixed pieces by key, its placeholders spoken."""
    parts: list[NoticePart] = []
    for index, piece in enumerate(PLACEHOLDER.split(template)):
        if index % 2 == 0:
            if piece.strip():
                parts.append(Prompt(f"notice_{name}_{index // 2}"))
            continue
        value = values.get(piece)
        if value in (None, ""):
            continue
        if piece in DATES:
            parts.append(date_words(_date(value)))
        else:
            parts.append(Typed(", ".join(value) if isinstance(value, list) else str(value)))
    return tuple(parts)


def notice_parts(
    voice: Mapping[str, str], kind: str, code: str | None, values: Mapping[str, Any]
) -> tuple[NoticePart, ...]:
    """Who is calling, the dossier code in groups, the notice, then the menu."""
    parts: list[NoticePart] = list(template_parts("intro", voice["intro"], values))
    if code:
        parts.extend(dossier_code_groups(code))
    parts.extend(template_parts(kind, voice[kind], values))
    parts.extend(template_parts("menu", voice["menu"], values))
    return tuple(parts)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    text = str(value)
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return dt.datetime.strptime(text, "%d/%m/%Y").date()
