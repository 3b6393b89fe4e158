from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class ProcedureEntry(Base):
    """A procedure's entry in the national catalogue (LayThuTuc), kept so a portal outage does
    not stop the sync; refreshed daily."""

    __tablename__ = "onestop_procedure"

    national_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text)  # TENTTHC
    sector_code: Mapped[str] = mapped_column(String(40), default="")  # MALINHVUC
    sector_name: Mapped[str] = mapped_column(Text, default="")  # TENLINHVUC
    agency_name: Mapped[str] = mapped_column(Text, default="")  # COQUANTHUCHIEN[0].TENDONVI
    fetched_at: Mapped[dt.datetime]
