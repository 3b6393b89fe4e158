from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from intake.statuses import DossierStatus
from plumbing.columns import utcnow
from plumbing.db import Base, str_enum

_STATUS = str_enum(DossierStatus, 24)


class DossierEvent(Base):
    """One change of a dossier: append-only, never updated."""

    __tablename__ = "dossier_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # "ivr", "scheduler", "sms", or "staff:<username>".
    actor: Mapped[str] = mapped_column(String(80))
    from_status: Mapped[DossierStatus | None] = mapped_column(_STATUS)
    to_status: Mapped[DossierStatus | None] = mapped_column(_STATUS)
    reason: Mapped[str] = mapped_column(Text, default="")
    override: Mapped[bool] = mapped_column(default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(DossierEvent, "before_update")
def _refuse_update(_mapper, _connection, target: DossierEvent) -> None:
    raise RuntimeError(f"dossier events are append-only (event {target.id})")
