from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class DossierCodeCounter(Base):
    """The last sequence number handed out per agency and local day.

    Incremented with INSERT ... ON CONFLICT DO UPDATE inside the transaction that creates the
    dossier: the row lock serialises concurrent callers and a rolled-back dossier rolls its number
    back, so sequences are unique and gap-free.
    """

    __tablename__ = "dossier_code_counter"

    agency_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    last_seq: Mapped[int]
