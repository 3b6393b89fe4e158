"""The longest free text staff pages accept where no database column bounds it.

Checked before any work is done on the text (measuring an SMS, searching, rendering). Every other
text a staff page reads is also capped by `[web] max_text_chars` (tongdai/limits.py).
"""

from __future__ import annotations

# A code, a phone number or a vessel number: a few dozen characters at most.
SEARCH_MAX_CHARS = 100
# Five SMS parts are at most 5 x 160 characters; twice that leaves room for spaces and marks the
# SMS preparation removes, and no more.
MANUAL_SMS_MAX_CHARS = 1600
# A document named in a supplement request (it goes into the citizen's SMS and letter).
DOCUMENT_MAX_CHARS = 200


def too_long(what: str, limit: int) -> str:
    """The message staff read, e.g. "Nội dung tin nhắn tối đa 1.600 ký tự."."""
    return f"{what} tối đa {limit:,} ký tự.".replace(",", ".")
