from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class IvrCall(Base):
    """One phone call, whatever the front end. Its flow state is saved after every step, so a
    webhook retry or a crashed worker picks up exactly where the caller was."""

    __tablename__ = "ivr_call"
    __table_args__ = (UniqueConstraint("provider", "provider_call_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))  # twilio, asterisk, console
    provider_call_id: Mapped[str] = mapped_column(String(64))
    # E.164 when it is a Vietnamese number; None when hidden or unusable.
    caller: Mapped[str | None] = mapped_column(String(16), index=True)
    caller_raw: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(32))
    duration_seconds: Mapped[int | None]
    node: Mapped[str] = mapped_column(String(40), default="start")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Webhook idempotency: the step number the next request must carry, and our last answer.
    seq: Mapped[int] = mapped_column(default=0)
    last_response: Mapped[str] = mapped_column(Text, default="")
    # The draft (later the dossier) this call filled in, if any.
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    # submitted, status, operator, callback, abandoned (set when the call ends).
    outcome: Mapped[str | None] = mapped_column(String(16))
