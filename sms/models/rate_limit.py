from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from plumbing.db import Base


class RateLimit(Base):
    """The next free sending slot per gateway, shared by every dispatcher process."""

    __tablename__ = "rate_limit"

    gateway: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_free_at: Mapped[dt.datetime]


def lock_row(session: Session, name: str, now: dt.datetime) -> RateLimit:
    """The row `name`, created when missing, locked until the transaction ends: what processes
    sharing one capacity (a gateway's rate, the trunk's lines, the day's alerts) wait on."""
    row = session.get(RateLimit, name, with_for_update=True)
    if row is None:
        session.add(RateLimit(gateway=name, next_free_at=now))
        session.flush()
        row = session.get(RateLimit, name, with_for_update=True)
    return row
