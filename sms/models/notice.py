from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class NoticeStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at (also while held for quiet hours)
    SENDING = "sending"  # claimed by a dispatcher; the gateway call is under way
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"  # permanent error or retries exhausted; `error` says why
    UNKNOWN = "unknown"  # found in `sending` after a crash, until settled from the provider

    @property
    def rank(self) -> int:
        """Progress order: a status never moves to a lower rank (receipts come out of order)."""
        return _RANK[self]


_RANK = {
    NoticeStatus.PENDING: 0,
    NoticeStatus.SENDING: 1,
    NoticeStatus.UNKNOWN: 1,
    NoticeStatus.SENT: 2,
    NoticeStatus.DELIVERED: 3,
    NoticeStatus.UNDELIVERED: 3,
    NoticeStatus.FAILED: 3,
}


class Notice(Base):
    """One SMS in the outbox. `enqueue` creates it; only the dispatcher sends it."""

    __tablename__ = "notice"
    __table_args__ = (
        # The dispatcher's query: due pending rows, oldest first.
        Index("ix_notice_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Makes a rule idempotent: `<dossier>:<kind>[:<n>]`. A rule that fires twice (a retried
    # scan, two leaders for a moment) inserts nothing the second time.
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    text: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int]
    # Receipts and replies go at once; notices the centre initiates wait out quiet hours.
    urgent: Mapped[bool] = mapped_column(default=False)
    status: Mapped[NoticeStatus] = mapped_column(str_enum(NoticeStatus, 16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    settled_at: Mapped[dt.datetime | None]
    gateway: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
