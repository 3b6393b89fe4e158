from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class CallOrderKind(StrEnum):
    STAFF_CALLBACK = "staff_callback"  # a staff member pressed "Gọi lại công dân"


class CallOrderStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at
    DIALING = "dialing"  # claimed by a process holding the AMI connection; Originate under way
    DONE = "done"  # Asterisk accepted the Originate: the citizen's phone is being rung
    FAILED = "failed"  # refused, or retries exhausted; `result` says why
    # Found still dialing after the window: the process died during the Originate, and whether
    # Asterisk placed the call cannot be asked afterwards. Not retried (no second ringing).
    UNKNOWN = "unknown"


class CallOrder(Base):
    """An outbound call the AGI process places through AMI Originate. The web page only inserts
    the order; a process holding the AMI connection claims it (ivr/call_orders.py)."""

    __tablename__ = "call_order"
    __table_args__ = (
        # The claim query: due pending rows, oldest first.
        Index("ix_call_order_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # a CallOrderKind
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    phone: Mapped[str] = mapped_column(String(16))  # E.164
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    status: Mapped[CallOrderStatus] = mapped_column(str_enum(CallOrderStatus, 16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
