from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class AppointmentStatus(StrEnum):
    PROPOSED = "proposed"  # sent to the citizen, no answer yet
    CONFIRMED = "confirmed"  # the citizen replied XN
    CHANGE_REQUESTED = "change_requested"  # the citizen replied DOI: staff set another
    REPLACED = "replaced"  # staff set a newer appointment

    @property
    def label(self) -> str:
        return {
            AppointmentStatus.PROPOSED: "Đã nhắn, chờ công dân xác nhận",
            AppointmentStatus.CONFIRMED: "Công dân đã xác nhận",
            AppointmentStatus.CHANGE_REQUESTED: "Công dân xin đổi ngày: cần hẹn lại",
            AppointmentStatus.REPLACED: "Đã thay bằng lịch hẹn mới",
        }[self]


class InspectionAppointment(Base):
    """The vessel inspection of a safety-certificate dossier: where and when, as staff set it
    after reception, and the citizen's answer by SMS. The latest `number` is the one in force."""

    __tablename__ = "inspection_appointment"
    __table_args__ = (
        UniqueConstraint("dossier_id", "number"),
        # An SMS reply finds the latest open appointment of its phone.
        Index("ix_inspection_appointment_phone_status", "phone", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    number: Mapped[int] = mapped_column(default=1)
    place: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]
    # The number the SMS went to (E.164), which a reply must come from.
    phone: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[AppointmentStatus] = mapped_column(str_enum(AppointmentStatus, 20))
    set_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[dt.datetime | None]
