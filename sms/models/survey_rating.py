from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class SurveyRating(Base):
    """A citizen's satisfaction answer: 1 very satisfied, 2 satisfied, 3 not satisfied.
    One per dossier; a later reply updates it."""

    __tablename__ = "survey_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"), unique=True)
    phone: Mapped[str] = mapped_column(String(16))
    rating: Mapped[int]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
