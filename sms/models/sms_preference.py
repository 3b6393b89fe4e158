from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class SmsPreference(Base):
    """Opt-out of surveys and reminders per phone (never of legally required notices)."""

    __tablename__ = "sms_preference"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
