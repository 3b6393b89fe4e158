from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class Vessel(Base):
    """A fishing vessel by its normalised registration number (`QNg-90617-TS`).

    `province_code` is empty when a caller said "another province" on the keypad: staff complete
    it from the recording.
    """

    __tablename__ = "vessel"
    __table_args__ = (UniqueConstraint("province_code", "digits"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str | None] = mapped_column(String(8))
    digits: Mapped[str] = mapped_column(String(5), index=True)
    # The exact length in metres, when staff know it (it wins over the band).
    length_m: Mapped[float | None]
    # The band a caller chose on the keypad (intake.vessel_length.LengthBand); ask
    # `intake.vessel_length.vessel_band` for the vessel's band, never this column alone.
    length_band: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def registration_number(self) -> str:
        return f"{self.province_code or '?'}-{self.digits}-TS"
