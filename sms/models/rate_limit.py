from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class RateLimit(Base):
    """The next free sending slot per gateway, shared by every dispatcher process."""

    __tablename__ = "rate_limit"

    gateway: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_free_at: Mapped[dt.datetime]
