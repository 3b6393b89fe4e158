from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class RecordingStatus(StrEnum):
    PENDING_FETCH = "pending_fetch"  # still at the provider (Twilio); a job fetches it
    STORED = "stored"  # in our data folder
    FAILED = "failed"
    DELETED = "deleted"  # removed after the retention period


class Recording(Base):
    """A spoken answer (name, address, province, message). Personal data: served only to staff,
    deleted after the retention period."""

    __tablename__ = "recording"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("ivr_call.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    # The answer it gives: owner_name_recording, address_recording, ...
    purpose: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str] = mapped_column(String(255), default="")  # RecordingSid or file
    provider_url: Mapped[str] = mapped_column(String(500), default="")
    seconds: Mapped[float] = mapped_column(default=0.0)
    status: Mapped[RecordingStatus] = mapped_column(str_enum(RecordingStatus, 16))
    path: Mapped[str | None] = mapped_column(String(255))  # relative to the data folder
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stored_at: Mapped[dt.datetime | None]
    deleted_at: Mapped[dt.datetime | None]
