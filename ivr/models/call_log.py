from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class CallLog(Base):
    """A channel as Asterisk's manager reported it: start, end, duration, hang-up cause.

    Kept from AMI events, independent of the IVR (also transfers and call-backs). Keys pressed
    are only counted: what callers type includes citizen-id numbers.
    """

    __tablename__ = "call_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str] = mapped_column(String(64), default="", index=True)
    channel: Mapped[str] = mapped_column(String(120), default="")
    caller: Mapped[str] = mapped_column(String(40), default="")
    exten: Mapped[str] = mapped_column(String(40), default="")
    context: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    ended_at: Mapped[dt.datetime | None]
    duration_seconds: Mapped[float | None]
    cause: Mapped[int | None]
    cause_txt: Mapped[str] = mapped_column(String(80), default="")
    dtmf_count: Mapped[int] = mapped_column(default=0)
