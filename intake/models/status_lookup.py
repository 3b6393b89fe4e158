from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class DossierLookupAttempt(Base):
    """One check of the last 4 citizen-id digits a caller gave to hear a dossier's status.

    Only callers who are not the dossier's own phone take that check (intake/status_lookup.py).
    """

    __tablename__ = "dossier_lookup_attempt"
    __table_args__ = (
        # "Failures of this dossier in the window": the only query that reads these rows.
        Index("ix_dossier_lookup_attempt_dossier_id_at", "dossier_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a code or vessel number that matched no dossier (recorded so that such a check
    # costs what a real one does: see record_unknown in intake/status_lookup.py).
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    at: Mapped[dt.datetime]
    # The calling number, masked (+8498****321), or "hidden": enough for staff, no more.
    caller: Mapped[str] = mapped_column(String(20))
    # "ok", "wrong", "blocked" (refused while the dossier was blocked, right or wrong), or
    # "unknown" (no such dossier).
    result: Mapped[str] = mapped_column(String(8))


class DossierLookupBlock(Base):
    """The latest block of a dossier's phone status look-up from numbers other than its own.

    In force while `blocked_until` is in the future and staff have not lifted it.
    """

    __tablename__ = "dossier_lookup_block"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"), primary_key=True)
    blocked_at: Mapped[dt.datetime]
    blocked_until: Mapped[dt.datetime]
    lifted_at: Mapped[dt.datetime | None]
    # "staff:<username>" who lifted it.
    lifted_by: Mapped[str | None] = mapped_column(String(80))

    def in_force(self, now: dt.datetime) -> bool:
        return self.lifted_at is None and self.blocked_until > now
