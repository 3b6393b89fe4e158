from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class StaffAlert(Base):
    """Something a supervisor must look at (shown on the dashboard, optionally by SMS)."""

    __tablename__ = "staff_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # auto_apology, notice_failed, ...
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
