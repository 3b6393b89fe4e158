"""A complete dossier, and the legal clock that starts from it.

The procedures count their time limit from the reception of a *complete, valid* dossier; a phone
call cannot give everything (a certificate number with letters and slashes, the gear's name), so
a phone dossier is received at the call and completed by staff afterwards. The rule, with its
sources, is in docs/domain.md ("When the time limit starts"):

- at the call the dossier is received (code, receipt time); when nothing required is missing it
  is complete at once and its due date counts from the reception;
- otherwise it has no due date yet: staff must complete it (or request the papers as a
  supplement) within `completeness_check_days` working days after the reception day
  (`Dossier.completeness_due`), and the due date counts from the moment it becomes complete,
  with the same cut-off rule as a reception (`WorkingCalendar.due_date`);
- "complete" means every required field of the procedure (config.toml) is answered; a spoken
  answer (the owner's name, the address) counts as given, since staff transcribe it from the
  recording; a vessel shorter than the procedure's `min_vessel_length_m` is not a valid dossier
  for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.dossier_commands import form_values, record_event
from intake.errors import InvalidInput
from intake.forms import fields_for
from intake.models import Dossier, Vessel
from intake.statuses import DossierStatus
from intake.vessel_length import meets_minimum, vessel_band
from plumbing.settings import Settings

# Required answers a caller gives by voice: the recording is the answer until staff type it.
ANSWERED_BY_RECORDING = {"owner_name": "owner_name_recording", "address": "address_recording"}
# The missing item of a vessel shorter than the procedure's minimum length.
VESSEL_LENGTH = "vessel_length"


@dataclass(frozen=True)
class MissingItem:
    key: str  # a form field's key, or VESSEL_LENGTH
    label: str  # as staff read it


def working_days_for(settings: Settings, procedure: str, variant: str | None) -> int:
    variants = settings.procedures[procedure].variants
    if variant is None:
        if len(variants) != 1:
            raise InvalidInput("Cần chọn cấp mới hay cấp lại.")
        variant = next(iter(variants))
    if variant not in variants:
        raise InvalidInput(f"Loại thủ tục không tồn tại: {variant!r}")
    return variants[variant].days


def missing_items(settings: Settings, dossier: Dossier, vessel: Vessel | None) -> list[MissingItem]:
    """What stands between this dossier and a complete, valid one, in the form's order."""
    values = form_values(dossier)
    keyed = (dossier.form or {}).get("ivr", {})
    items = [
        MissingItem(field.key, field.label)
        for field in fields_for(settings, dossier.procedure, dossier.variant)
        if field.required
        and not values.get(field.key)
        and not keyed.get(ANSWERED_BY_RECORDING.get(field.key, ""))
    ]
    minimum = settings.procedures[dossier.procedure].min_vessel_length_m
    if meets_minimum(vessel, minimum) is False:
        band = vessel_band(vessel)
        said = f" (đã khai: {band.label.lower()})" if band else ""
        items.append(
            MissingItem(
                VESSEL_LENGTH, f"Chiều dài tàu: thủ tục áp dụng cho tàu từ {minimum:g} m{said}"
            )
        )
    return items


def completeness_deadline(
    settings: Settings, calendar: WorkingCalendar, dossier: Dossier
) -> dt.date:
    """The day an incomplete dossier must be completed by: `completeness_check_days` working
    days after its reception day (the reception day itself when that is 0)."""
    days = settings.procedures[dossier.procedure].completeness_check_days
    start = calendar.receipt_day(dossier.received_at)
    return calendar.add_working_days(start, days) if days else start


def start_clock_if_complete(
    session: Session,
    dossier: Dossier,
    *,
    settings: Settings,
    calendar: WorkingCalendar,
    actor,
    now: dt.datetime,
) -> bool:
    """When a received dossier has nothing missing and its clock has not started: start it now
    (completed_at, due date). Returns whether it started. A dossier completed after its
    reception gets a `completed` event, which sends the citizen the due date by SMS."""
    if dossier.received_at is None or dossier.completed_at is not None:
        return False
    vessel = session.get(Vessel, dossier.vessel_id) if dossier.vessel_id else None
    if missing_items(settings, dossier, vessel):
        return False
    days = working_days_for(settings, dossier.procedure, dossier.variant)
    dossier.completed_at = now
    dossier.due_date = calendar.due_date(now, days)
    dossier.updated_at = now
    if dossier.status is DossierStatus.SUPPLEMENT_REQUESTED:
        # Completed while waiting for papers: the wait that moves the due date starts now, not
        # before the clock existed.
        dossier.supplement_requested_at = now
    if now != dossier.received_at:
        record_event(
            session,
            dossier,
            actor=actor,
            now=now,
            reason="Hồ sơ đã đủ thông tin",
            details={"action": "completed", "due": dossier.due_date.isoformat()},
        )
    return True


def due_date_reason(settings: Settings, calendar: WorkingCalendar, dossier: Dossier) -> str:
    """Why the dossier's due date is what it is (or why it has none yet), for staff."""
    if dossier.received_at is None:
        return ""
    if dossier.completed_at is None:
        deadline = dossier.completeness_due
        by = (
            f"; cần hoàn thiện hoặc yêu cầu bổ sung trước hết ngày {deadline:%d/%m/%Y}"
            if deadline
            else ""
        )
        return (
            "Chưa tính hạn: hồ sơ chưa đủ thông tin. Thời hạn giải quyết tính từ khi hồ sơ "
            f"đầy đủ{by}."
        )
    days = working_days_for(settings, dossier.procedure, dossier.variant)
    local = calendar.local(dossier.completed_at)
    start = calendar.receipt_day(dossier.completed_at)
    when = (
        "đủ ngay khi tiếp nhận"
        if dossier.completed_at == dossier.received_at
        else f"đủ thông tin lúc {local:%H:%M %d/%m/%Y}"
    )
    shifted = (
        f" (sau {settings.calendar.cutoff} hoặc ngày nghỉ: tính như nhận ngày {start:%d/%m/%Y})"
        if start != local.date()
        else ""
    )
    text = f"Hồ sơ {when}{shifted}; hạn là ngày làm việc thứ {days} sau ngày {start:%d/%m/%Y}."
    if dossier.due_date != calendar.add_working_days(start, days):
        text += " Đã cộng thêm những ngày chờ công dân bổ sung hồ sơ."
    return text
