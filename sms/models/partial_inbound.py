from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class PartialInbound(Base):
    """The parts received so far of a citizen's long (concatenated) SMS, kept until the last one
    arrives or `[sms.smpp] concat_expiry_minutes` pass (sms/smpp_deliveries.py).

    One row per message: (provider, sender, recipient, reference, total) as the parts carry them.
    The row is locked while a part is added, so parts arriving at once on two binds cannot both
    miss the other. `handled_at` is set when the whole (or what came of it) went to
    `handle_inbound`; the row is kept a while after, so a part the SMSC delivers again is
    recognised rather than started as a new message."""

    __tablename__ = "partial_inbound"
    __table_args__ = (
        UniqueConstraint("provider", "sender", "recipient", "reference", "total"),
        # The expiry sweep: unhandled rows, oldest first.
        Index("ix_partial_inbound_handled_at_first_at", "handled_at", "first_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(20))
    reference: Mapped[int]
    total: Mapped[int]
    # Part number (as text: JSON keys) -> its text.
    parts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[dt.datetime | None]
