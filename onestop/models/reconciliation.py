from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class Reconciliation(Base):
    """One nightly comparison of our dossiers with the portal's (TraCuuHoSo), for staff."""

    __tablename__ = "onestop_reconciliation"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date]  # the local day whose changed dossiers were compared
    ran_at: Mapped[dt.datetime]
    checked: Mapped[int] = mapped_column(default=0)
    # [{"code": ..., "problem": ...}] in Vietnamese, one per dossier that differs.
    mismatches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
