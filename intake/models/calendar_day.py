from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class CalendarDayKind(StrEnum):
    HOLIDAY = "holiday"  # an extra day off the package does not know
    WORKING = "working"  # a weekend day worked in exchange for a bridge day off
    NOT_HOLIDAY = "not_holiday"  # a package holiday the government did not give this year


class CalendarDay(Base):
    """The centre's corrections to the public-holiday calendar, shared by every process."""

    __tablename__ = "calendar_day"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    kind: Mapped[CalendarDayKind] = mapped_column(str_enum(CalendarDayKind, 16))
    note: Mapped[str] = mapped_column(String(200), default="")
    # "config" when seeded from config.toml, else the staff user name who added it.
    source: Mapped[str] = mapped_column(String(64), default="config")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
