"""Every piece of speech the IVR can play, by key: config prompts, province names, number words.

Keys are ASCII so they make safe file names for Asterisk and the web.
"""

from __future__ import annotations

from ivr.flow import province_key
from ivr.speech import NUMBER_ATOMS, Part, Prompt, Words
from plumbing.settings import Settings

# Number words whose diacritic-free spelling would collide (mười/mươi) get explicit keys.
WORD_KEYS = {
    "không": "khong", "một": "mot", "hai": "hai", "ba": "ba", "bốn": "bon", "năm": "nam",
    "sáu": "sau", "bảy": "bay", "tám": "tam", "chín": "chin", "mười": "muoi_10",
    "mươi": "muoi_x10", "mốt": "mot_1", "tư": "tu", "lăm": "lam", "linh": "linh",
    "trăm": "tram", "nghìn": "nghin", "triệu": "trieu", "ngày": "ngay", "tháng": "thang",
    "đồng": "dong",
}  # fmt: skip


def word_key(word: str) -> str:
    return f"word_{WORD_KEYS[word]}"


def prompt_catalogue(settings: Settings) -> dict[str, str]:
    """key -> Vietnamese text, for every sound the flow can ask a front end to play."""
    catalogue = dict(settings.prompts)
    for code, name in settings.provinces.items():
        catalogue[province_key(code)] = name
    # Per procedure and variant, from [procedures.*.variants.*]: the papers to hand in (the
    # same sentence the result SMS sends) and, when no fee is read as a number, what is paid.
    for code, procedure in settings.procedures.items():
        for name, variant in procedure.variants.items():
            catalogue[f"papers_{code}_{name}"] = variant.papers
            catalogue[f"fee_{code}_{name}"] = variant.fee_text or settings.prompts["fee_none"]
    for word in dict.fromkeys(NUMBER_ATOMS):
        catalogue[word_key(word)] = word
    return catalogue


def part_keys(parts: tuple[Part, ...]) -> list[str]:
    """The audio files to play, in order, for a sequence of parts."""
    keys: list[str] = []
    for part in parts:
        if isinstance(part, Prompt):
            keys.append(part.key)
        elif isinstance(part, Words):
            keys.extend(word_key(word) for word in part.words)
    return keys
