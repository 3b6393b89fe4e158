"""Creating dossiers: a draft while the call goes on, then a coded dossier with its due date."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from intake.calendar import WorkingCalendar
from intake.codes import allocate_sequence, format_code
from intake.errors import ConcurrentEdit, InvalidInput
from intake.lifecycle import Actor, change_status
from intake.models import Dossier
from intake.statuses import Channel, DossierStatus
from plumbing.settings import Settings


def start_draft(
    session: Session,
    *,
    procedure: str,
    channel: Channel,
    settings: Settings,
    caller_phone: str | None = None,
    now: dt.datetime,
) -> Dossier:
    if procedure not in settings.procedures:
        raise InvalidInput(f"Thủ tục không tồn tại: {procedure!r}")
    draft = Dossier(
        procedure=procedure,
        channel=channel,
        status=DossierStatus.DRAFT,
        caller_phone=caller_phone,
        created_at=now,
        updated_at=now,
        form={},
    )
    session.add(draft)
    session.flush()
    return draft


def working_days_for(settings: Settings, procedure: str, variant: str | None) -> int:
    variants = settings.procedures[procedure].variants
    if variant is None:
        if len(variants) != 1:
            raise InvalidInput("Cần chọn cấp mới hay cấp lại.")
        variant = next(iter(variants))
    if variant not in variants:
        raise InvalidInput(f"Loại thủ tục không tồn tại: {variant!r}")
    return variants[variant].days


def submit(
    session: Session,
    draft: Dossier,
    *,
    settings: Settings,
    calendar: WorkingCalendar,
    actor: Actor,
    now: dt.datetime,
) -> Dossier:
    """Turn a complete draft into a dossier: code, receipt time, legal due date, event."""
    days = working_days_for(settings, draft.procedure, draft.variant)
    local_day = calendar.local(now).date()
    onestop = settings.onestop
    sequence = allocate_sequence(
        session,
        settings.centre.agency_id,
        local_day,
        onestop.sequence_first,
        onestop.sequence_last,
    )
    draft.code = format_code(settings.centre.agency_id, local_day, sequence)
    draft.received_at = now
    draft.due_date = calendar.due_date(now, days)
    change_status(session, draft, DossierStatus.RECEIVED, actor=actor, now=now, calendar=calendar)
    session.flush()
    return draft


def flush_edits(session: Session) -> None:
    """Write the session's changes now, inside the caller's `session.begin()` block (which then
    commits), turning SQLAlchemy's stale-version error into the domain's ConcurrentEdit: a
    second editor working from an old copy is told, and the block rolls back."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConcurrentEdit(
            "Hồ sơ vừa được người khác cập nhật; thay đổi của bạn chưa được lưu. Vui lòng tải lại."
        ) from exc
