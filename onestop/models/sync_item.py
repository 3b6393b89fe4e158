from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class SyncKind(StrEnum):
    SNAPSHOT = "snapshot"  # the whole dossier (DongBoHoSoMC), built when it is sent
    PROGRESS = "progress"  # one step (CapNhatTienDoHoSoMC), frozen when the event happened


class SyncStatus(StrEnum):
    PENDING = "pending"  # waiting for next_attempt_at (and for the dossier's earlier items)
    SENDING = "sending"  # claimed by a worker; the portal call is under way
    SENT = "sent"  # the portal answered error_code 0
    REFUSED = "refused"  # the portal refused the content; `error` is its message
    FAILED = "failed"  # retries exhausted (`[onestop] retry_hours`); `error` says why
    # The call went out and no answer came (time-out, crash): settled by a look-up at the
    # portal before anything is sent again.
    UNKNOWN = "unknown"
    SKIPPED = "skipped"  # the province system pushes this dossier now (after_registration)


# Items that hold back the later items of their dossier: progress keeps its order, and nothing
# is sent after a refused or failed item until staff sync it again.
UNSETTLED = (
    SyncStatus.PENDING,
    SyncStatus.SENDING,
    SyncStatus.UNKNOWN,
    SyncStatus.REFUSED,
    SyncStatus.FAILED,
)


class SyncItem(Base):
    """One record to push to the portal, in the sync queue beside the SMS outbox
    (onestop/sync.py). A dossier's items go strictly in `id` order."""

    __tablename__ = "onestop_sync"
    __table_args__ = (
        # The claim: due pending items, oldest first.
        Index("ix_onestop_sync_status_next_attempt_at", "status", "next_attempt_at"),
        # "Has this dossier an earlier unsettled item?" and the dossier page's sync state.
        Index("ix_onestop_sync_dossier_id_id", "dossier_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    kind: Mapped[SyncKind] = mapped_column(str_enum(SyncKind, 16))
    # A progress record as the portal gets it; empty for a snapshot (built at sending time, so
    # a newer state replaces an unsent older one).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[SyncStatus] = mapped_column(str_enum(SyncStatus, 16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    # The portal's message (refused) or what went wrong (retrying, failed), for staff.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
