from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class CallbackRequest(Base):
    """A caller staff must phone back: the IVR could not help, or the operator was away."""

    __tablename__ = "callback_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("ivr_call.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    phone: Mapped[str | None] = mapped_column(String(16))
    # failures:<step> (too many wrong answers there); operator_closed, operator_busy,
    # operator_no_answer (why no person took the call); duplicate (an open dossier for the same
    # vessel and procedure, and a citizen id that does not match it)
    reason: Mapped[str] = mapped_column(String(80))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recording.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    closed_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
