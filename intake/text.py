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
