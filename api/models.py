"""The API's tables: its clients, and the events each client has had applied."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class ApiScope(StrEnum):
    READ = "read"  # read dossiers and their recordings
    WRITE = "write"  # also send events

    @property
    def may_write(self) -> bool:
        return self is ApiScope.WRITE


class ApiClient(Base):
    """A processing system allowed to call the API, with its own secret.

    The secret signs every request (HMAC-SHA256), so we need the secret itself, not a hash of
    it: it is stored encrypted with the key in TONGDAI_API_SECRETS_KEY (api/clients.py)."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the client sends as X-Tongdai-Client.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    scope: Mapped[ApiScope] = mapped_column(str_enum(ApiScope, 8))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # Requests per minute; None: `[api] rate_per_minute`.
    rate_per_minute: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(80))
    last_used_at: Mapped[dt.datetime | None]
    # The rate limit's current one-minute window and the requests counted in it.
    window_started_at: Mapped[dt.datetime | None]
    window_count: Mapped[int] = mapped_column(default=0)


class ApiEvent(Base):
    """An event a client had applied, by the id the client chose: the same id again gets the
    same answer (this row's), never a second change."""

    __tablename__ = "api_event"
    __table_args__ = (UniqueConstraint("client_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"))
    event_id: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the body as canonical JSON: the same id with another body is refused.
    body_sha256: Mapped[str] = mapped_column(String(64))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"), index=True)
    dossier_event_id: Mapped[int | None] = mapped_column(ForeignKey("dossier_event.id"))
    # The answer given when it was applied, given again to a retry.
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
