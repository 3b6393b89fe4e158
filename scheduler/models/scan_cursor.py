from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class ScanCursor(Base):
    """How far a rule has read an append-only stream (the id of the last event handled).

    Locked FOR UPDATE while a scan runs and advanced in the same transaction as the notices it
    queues, so two scanners can never handle the same event twice.
    """

    __tablename__ = "scan_cursor"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
