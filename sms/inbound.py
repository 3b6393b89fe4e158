"""Inbound SMS from any provider: status look-ups, survey ratings, opt-out and opt-in.

Keywords are matched ignoring case, diacritics, stray spaces and punctuation, because people type
"Tra cứu: 261201 0001", "tt2612010001", "HỦY" or "1." on feature phones.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.digits import count_digits
from intake.dossier_queries import find_dossier_by_code
from intake.errors import InvalidInput
from intake.inspections import answer_by_sms, time_text
from intake.models import Dossier
from intake.phone import mask_phone, parse_phone
from intake.text import fold
from plumbing.settings import Settings
from sms.models import InboundMessage, Notice, SmsPreference, SurveyRating
from sms.outbox import enqueue

log = logging.getLogger(__name__)

_STATUS_WORDS = ("tracuu", "tt")
_OPT_OUT = ("huy", "tuchoi")
_OPT_IN = ("dk", "dangky")
# Answers to an inspection appointment (intake/inspections.py): confirm, or ask for another date.
_CONFIRM = ("xn", "xacnhan", "dongy")
_CHANGE = ("doi", "doingay", "doilich", "doingaykhac")


@dataclass(frozen=True)
class InboundSms:
    """A provider-neutral inbound message; each provider's adapter builds one."""

    provider: str
    provider_id: str
    sender: str
    recipient: str
    body: str


@dataclass(frozen=True)
class Intent:
    name: str  # status, rating, opt_out, opt_in, inspect_yes, inspect_change, help
    argument: str = ""


def parse_intent(body: str) -> Intent:
    text = fold(body)
    compact = re.sub(r"[^a-z0-9]", "", text)
    if compact in ("1", "2", "3"):
        return Intent("rating", compact)
    if compact in _OPT_OUT:
        return Intent("opt_out")
    if compact in _OPT_IN:
        return Intent("opt_in")
    if compact in _CONFIRM:
        return Intent("inspect_yes")
    if compact in _CHANGE:
        return Intent("inspect_change")
    for word in _STATUS_WORDS:
        if compact.startswith(word) and len(compact) > len(word):
            # Keep the code's own punctuation (dots and dashes) for a full-code match.
            rest = re.sub(r"^\W*(tra\W*cuu|tt)\W*", "", text).strip(" .:;,")
            if count_digits(rest) >= 10:
                return Intent("status", rest)

    return Intent("help")


def handle_inbound(
    session: Session,
    message: InboundSms,
    *,
    settings: Settings,
    calendar: WorkingCalendar,
    now: dt.datetime,
) -> InboundMessage | None:
    """Record and answer one inbound SMS. Returns None if this provider message was seen before."""
    record = InboundMessage(
        provider=message.provider,
        provider_id=message.provider_id,
        sender=message.sender,
        recipient=message.recipient,
        body=message.body[:1000],
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        log.info("sms inbound %s already handled", message.provider_id)
        return None
    try:
        phone = parse_phone(message.sender).e164
    except InvalidInput:
        record.intent = "ignored"
        log.info("sms inbound from an unusable number %s ignored", mask_phone(message.sender))
        return record

    intent = parse_intent(message.body)
    record.intent = intent.name
    kind, values, dossier = _answer(session, intent, phone, calendar, now)
    if dossier is not None:
        record.dossier_id = dossier.id
    reply = enqueue(session, settings, kind=kind, phone=phone, values=values, now=now,
                    dossier=dossier)  # fmt: skip
    record.reply_notice_id = reply.id if reply else None
    log.info("sms inbound from %s: %s -> %s", mask_phone(phone), intent.name, kind)
    return record


def _answer(session, intent: Intent, phone: str, calendar, now):
    if intent.name == "status":
        dossier = find_dossier_by_code(session, intent.argument)
        if dossier is None or phone not in (dossier.notify_phone, dossier.caller_phone):
            # Someone else's code gets no personal data back, not even whether it exists.
            return "not_found", {}, None
        # An incomplete dossier has no due date yet: it is sent once the dossier is complete.
        due = dossier.effective_due_date or "sau khi du ho so"
        values = {"code": dossier.code, "status": dossier.status.label, "due": due}
        return "status_reply", values, dossier
    if intent.name == "rating":
        dossier = _latest_surveyed_dossier(session, phone)
        if dossier is None:
            return "help", {}, None
        rating = session.scalar(select(SurveyRating).where(SurveyRating.dossier_id == dossier.id))
        if rating is None:
            session.add(SurveyRating(dossier_id=dossier.id, phone=phone,
                                     rating=int(intent.argument), received_at=now,
                                     updated_at=now))  # fmt: skip
        else:
            rating.rating = int(intent.argument)
            rating.updated_at = now
        return "rating_thanks", {"code": dossier.code}, dossier
    if intent.name in ("inspect_yes", "inspect_change"):
        confirm = intent.name == "inspect_yes"
        answered = answer_by_sms(session, phone, confirm=confirm, now=now)
        if answered is None:
            return "help", {}, None
        appointment, dossier = answered
        values = {"code": dossier.code, "place": appointment.place,
                  "time": time_text(calendar, appointment.at)}  # fmt: skip
        return ("inspection_confirmed" if confirm else "inspection_change"), values, dossier
    if intent.name in ("opt_out", "opt_in"):
        preference = session.get(SmsPreference, phone) or SmsPreference(phone=phone)
        preference.opted_out = intent.name == "opt_out"
        preference.updated_at = now
        session.add(preference)
        return ("opted_out" if preference.opted_out else "opted_in"), {}, None
    return "help", {}, None


def _latest_surveyed_dossier(session: Session, phone: str) -> Dossier | None:
    dossier_id = session.scalar(
        select(Notice.dossier_id)
        .where(Notice.phone == phone, Notice.kind == "survey", Notice.dossier_id.is_not(None))
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(1)
    )
    return session.get(Dossier, dossier_id) if dossier_id else None


def opted_out(session: Session, phone: str) -> bool:
    """Surveys and reminders respect this; legally required notices ignore it."""
    preference = session.get(SmsPreference, phone)
    return bool(preference and preference.opted_out)
