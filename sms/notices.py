"""The notices the citizen gets about their own dossier, built from the dossier's fields."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from intake.models import Dossier
from sms.models import Notice
from sms.outbox import enqueue
from tongdai.settings import Settings


def queue_receipt(
    session: Session, settings: Settings, dossier: Dossier, now: dt.datetime
) -> Notice | None:
    """The receipt SMS of a newly submitted dossier (None when its number cannot get SMS)."""
    phone = dossier.notify_phone or dossier.caller_phone or ""
    values = {
        "code": dossier.code,
        "procedure_short": settings.procedures[dossier.procedure].short_name,
        "due": dossier.due_date,
    }
    return enqueue(session, settings, kind="receipt", phone=phone, values=values, now=now,
                   dossier=dossier, dedupe_key=f"{dossier.id}:receipt")  # fmt: skip
