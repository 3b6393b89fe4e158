"""The outbox: `enqueue` (a template's notice) and `enqueue_written` (a text staff wrote) are the
only ways to send an SMS (sms/dispatch.py sends them); both go through `_queue`, the one place a
Notice row is built."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.errors import InvalidInput
from intake.models import Dossier
from intake.phone import PhoneNumber, mask_phone, parse_phone
from plumbing.settings import Settings
from sms.encoding import Measure
from sms.models import Notice, NoticeStatus
from sms.notice_calls import is_called, queue_notice_call
from sms.quiet_hours import next_sending_time
from sms.templates import render

log = logging.getLogger(__name__)

# Notices that answer something the citizen just did: they are awake and waiting for it.
URGENT_KINDS = frozenset(
    {
        "receipt",
        "receipt_incomplete",
        "status_reply",
        "not_found",
        "help",
        "opted_out",
        "opted_in",
        "rating_thanks",
        "inspection_confirmed",
        "inspection_change",
    }
)
# Answers to a message the citizen sent: they leave from the two-way number, not the brandname.
REPLY_KINDS = URGENT_KINDS - {"receipt"}


def enqueue(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    phone: str,
    values: Mapping[str, object],
    now: dt.datetime,
    dossier: Dossier | None = None,
    dedupe_key: str | None = None,
) -> Notice | None:
    """Render and queue one SMS. Returns None (and flags the dossier) for a number that cannot
    receive SMS, so staff phone the citizen instead (or, for a landline and a kind that is
    called, queues the notice call instead), and None when a notice with the same `dedupe_key`
    exists already (a rule that fires twice queues once). A notice of a kind that is called
    gets its call queued `held` beside it (sms/notice_calls.py)."""
    call = {"settings": settings, "kind": kind, "values": values, "now": now, "dossier": dossier}
    landline = _landline(phone)
    if landline is not None and is_called(settings, kind):
        # No SMS can reach it: the notice is said by phone (sms/notice_calls.py).
        queue_notice_call(session, number=landline, notice=None, dedupe_key=dedupe_key, **call)
        return None
    number = _sms_number(kind, phone, dossier)
    if number is None:
        return None
    urgent = kind in URGENT_KINDS
    notice = _queue(
        session,
        kind=kind,
        number=number,
        measure=render(settings, kind, values).measure,
        urgent=urgent,
        next_attempt_at=now if urgent else next_sending_time(settings, now),
        now=now,
        dossier=dossier,
        dedupe_key=dedupe_key,
    )
    if notice is not None:
        # Held beside the SMS, called only if the SMS does not reach the citizen.
        queue_notice_call(session, number=number, notice=notice, dedupe_key=dedupe_key, **call)
    return notice


def enqueue_written(
    session: Session,
    *,
    kind: str,
    phone: str,
    measure: Measure,
    now: dt.datetime,
    dedupe_key: str | None = None,
) -> Notice | None:
    """Queue a text a staff member wrote and previewed (`sms.encoding.prepare` measured it), to
    go at once: they chose to send it now. None as for `enqueue` (no SMS number, or a repeat)."""
    number = _sms_number(kind, phone, None)
    if number is None:
        return None
    return _queue(session, kind=kind, number=number, measure=measure, urgent=True,
                  next_attempt_at=now, now=now, dossier=None, dedupe_key=dedupe_key)  # fmt: skip


def _landline(phone: str) -> PhoneNumber | None:
    try:
        number = parse_phone(phone)
    except InvalidInput:
        return None
    return None if number.can_receive_sms else number


def _sms_number(kind: str, phone: str, dossier: Dossier | None) -> PhoneNumber | None:
    try:
        number = parse_phone(phone)
    except InvalidInput:
        number = None
    if number is None or not number.can_receive_sms:
        log.info("sms: %s not queued, %s cannot receive SMS", kind, mask_phone(phone))
        if dossier is not None:
            dossier.needs_phone_call = True
        return None
    return number


def _queue(
    session: Session,
    *,
    kind: str,
    number: PhoneNumber,
    measure: Measure,
    urgent: bool,
    next_attempt_at: dt.datetime,
    now: dt.datetime,
    dossier: Dossier | None,
    dedupe_key: str | None,
) -> Notice | None:
    notice = Notice(
        dossier_id=dossier.id if dossier is not None else None,
        kind=kind,
        phone=number.e164,
        text=measure.text,
        encoding=str(measure.encoding),
        segments=measure.segments,
        urgent=urgent,
        status=NoticeStatus.PENDING,
        next_attempt_at=next_attempt_at,
        created_at=now,
        updated_at=now,
        dedupe_key=dedupe_key,
    )
    return add_once(session, notice)


def add_once(session: Session, notice: Notice) -> Notice | None:
    """Add `notice` to the outbox, or return None when one with its `dedupe_key` is there."""
    if notice.dedupe_key is None:
        session.add(notice)
        session.flush()
        return notice
    if session.scalar(select(Notice.id).where(Notice.dedupe_key == notice.dedupe_key)) is not None:
        return None
    try:
        with session.begin_nested():
            session.add(notice)
            session.flush()
    except IntegrityError:  # another scanner queued it between our check and our insert
        return None
    return notice
