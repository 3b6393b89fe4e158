"""Small text helpers shared by the normalisers and keyword matching."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case ASCII without Vietnamese diacritics: 'Bình Định' -> 'binh dinh'.

    `đ/Đ` is a letter of its own (not a d with a mark), so NFD leaves it alone; map it first.
    """
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def mask_citizen_id(value: str | None, *, visible: int = 4, mark: str = "•") -> str:
    """A citizen id with all but its last `visible` digits hidden: 012345678901 -> ••••••••8901.

    Lists show four (enough to tell two owners apart on a call); the audit log keeps two.
    """
    if not value:
        return ""
    return mark * max(len(value) - visible, 0) + value[-visible:]
