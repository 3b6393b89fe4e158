"""Creating dossiers: a draft while the call goes on, then a coded dossier with its due date."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from intake.calendar import WorkingCalendar
from intake.codes import allocate_sequence, format_code
from intake.completeness import (
    completeness_deadline,
    missing_items,
    start_clock_if_complete,
    working_days_for,
)
from intake.errors import ConcurrentEdit, InvalidInput
from intake.lifecycle import Actor, change_status
from intake.models import Dossier, Vessel
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


def submit(
    session: Session,
    draft: Dossier,
    *,
    settings: Settings,
    calendar: WorkingCalendar,
    actor: Actor,
    now: dt.datetime,
) -> Dossier:
    """Turn a finished draft into a received dossier: code, receipt time, event. The legal due
    date is set only if nothing required is missing; otherwise it waits for the dossier to be
    complete (intake/completeness.py), which staff must see to by the completeness deadline.

    The code is taken last: from the counter's upsert to the commit every other submit of the
    day waits on the counter's row (intake/codes.py), so everything that does not need the code
    is read and written before it, and after it come only the writes that carry the code (the
    dossier's row and its "received" event). The caller should commit soon after."""
    working_days_for(settings, draft.procedure, draft.variant)  # a known variant, or refuse
    local_day = calendar.local(now).date()
    # Held here, so the reads below find it in the session instead of asking the database again.
    vessel = session.get(Vessel, draft.vessel_id) if draft.vessel_id else None
    draft.received_at = now
    details = {}
    if not start_clock_if_complete(
        session, draft, settings=settings, calendar=calendar, actor=actor, now=now
    ):
        draft.completeness_due = completeness_deadline(settings, calendar, draft)
        # What was missing at the reception, as the receipt SMS says it (whenever it is sent).
        details["missing"] = [item.label for item in missing_items(settings, draft, vessel)]
    session.flush()
    onestop = settings.onestop
    sequence = allocate_sequence(
        session,
        settings.centre.agency_id,
        local_day,
        onestop.sequence_first,
        onestop.sequence_last,
    )
    draft.code = format_code(settings.centre.agency_id, local_day, sequence)
    change_status(
        session,
        draft,
        DossierStatus.RECEIVED,
        actor=actor,
        now=now,
        calendar=calendar,
        details=details,
    )
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
