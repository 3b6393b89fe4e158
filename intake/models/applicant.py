from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class Applicant(Base):
    """The boat owner who applies. Name and address are often transcribed later by staff."""

    __tablename__ = "applicant"

    id: Mapped[int] = mapped_column(primary_key=True)
    # E.164 (+84...). Not unique: families and crews share phones.
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    citizen_id: Mapped[str | None] = mapped_column(String(12), index=True)
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
