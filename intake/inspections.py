"""The vessel inspection of a safety-certificate dossier (Circular 23/2018/TT-BNNPTNT as the
procedure is published: the registry agrees the inspection's time and place with the owner within
1 working day of a complete dossier; docs/domain.md, "The vessel inspection").

After reception staff set the place, date and time on the dossier (`set_appointment`); its event
sends the `inspection` SMS. The citizen answers by SMS to the two-way number: `XN` confirms, `DOI`
asks for another date (`answer_by_sms`, called by sms/inbound.py); the dossier page shows the
answer, and staff set a new appointment, which replaces the old one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.dossier_commands import record_event
from intake.errors import ForbiddenTransition, InvalidInput
from intake.lifecycle import Actor
from intake.models import AppointmentStatus, Dossier, InspectionAppointment
from intake.statuses import IN_WORK_STATUSES

PLACE_MAX_CHARS = 200
# Appointments an SMS answer can still change (a replaced one cannot).
ANSWERABLE = (
    AppointmentStatus.PROPOSED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.CHANGE_REQUESTED,
)


def time_text(calendar: WorkingCalendar, at: dt.datetime) -> str:
    """'08:30 ngày 10/12/2026', local time, as the SMS and the page say it."""
    local = calendar.local(at)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def set_appointment(
    session: Session,
    dossier: Dossier,
    *,
    place: str,
    at: dt.datetime,
    actor: Actor,
    now: dt.datetime,
    calendar: WorkingCalendar,
) -> InspectionAppointment:
    """Set (or re-set) where and when the vessel is inspected; the citizen gets an SMS."""
    if dossier.status not in IN_WORK_STATUSES:
        raise ForbiddenTransition(f"Không thể hẹn kiểm tra tàu cho hồ sơ «{dossier.status.label}».")
    place = " ".join(place.split())
    if not place:
        raise InvalidInput("Cần ghi nơi kiểm tra tàu.")
    if len(place) > PLACE_MAX_CHARS:
        raise InvalidInput(f"Nơi kiểm tra tối đa {PLACE_MAX_CHARS} ký tự.")
    if at <= now:
        raise InvalidInput("Giờ hẹn kiểm tra phải sau thời điểm hiện tại.")
    previous = session.scalars(
        select(InspectionAppointment).where(
            InspectionAppointment.dossier_id == dossier.id,
            InspectionAppointment.status.in_(ANSWERABLE),
        )
    ).all()
    for old in previous:
        old.status = AppointmentStatus.REPLACED
    number = 1 + (
        session.scalar(
            select(func.max(InspectionAppointment.number)).where(
                InspectionAppointment.dossier_id == dossier.id
            )
        )
        or 0
    )
    appointment = InspectionAppointment(
        dossier_id=dossier.id,
        number=number,
        place=place,
        at=at,
        phone=dossier.notify_phone or dossier.caller_phone,
        status=AppointmentStatus.PROPOSED,
        set_by=actor.name,
        created_at=now,
    )
    session.add(appointment)
    dossier.updated_at = now
    record_event(
        session,
        dossier,
        actor=actor,
        now=now,
        details={
            "action": "inspection",
            "number": number,
            "place": place,
            "at": at.isoformat(),
            "time_text": time_text(calendar, at),
        },
    )
    session.flush()
    return appointment


def answer_by_sms(
    session: Session, phone: str, *, confirm: bool, now: dt.datetime
) -> tuple[InspectionAppointment, Dossier] | None:
    """The citizen's `XN` (confirm) or `DOI` (another date, please) from `phone`: applies to the
    latest appointment sent to that phone that is still in force. None when there is none."""
    appointment = session.scalar(
        select(InspectionAppointment)
        .where(InspectionAppointment.phone == phone, InspectionAppointment.status.in_(ANSWERABLE))
        .order_by(InspectionAppointment.created_at.desc(), InspectionAppointment.id.desc())
        .limit(1)
        .with_for_update()
    )
    if appointment is None:
        return None
    dossier = session.get(Dossier, appointment.dossier_id)
    appointment.status = (
        AppointmentStatus.CONFIRMED if confirm else AppointmentStatus.CHANGE_REQUESTED
    )
    appointment.answered_at = now
    record_event(
        session,
        dossier,
        actor=Actor.system("sms"),
        now=now,
        details={"action": "inspection_answer", "number": appointment.number,
                 "answer": appointment.status.value},
    )  # fmt: skip
    return appointment, dossier


def latest_appointment(session: Session, dossier_id: int) -> InspectionAppointment | None:
    return session.scalar(
        select(InspectionAppointment)
        .where(InspectionAppointment.dossier_id == dossier_id)
        .order_by(InspectionAppointment.number.desc())
        .limit(1)
    )
