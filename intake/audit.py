"""The audit log: who viewed a recording or a citizen id, who changed what, and when.

Supervisors read it; so it must not become a copy of the personal data it guards: every string
in the details (and the target id) has phone numbers and citizen ids masked before it is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from intake.models import AuditEvent
from intake.phone import mask_phone
from intake.text import mask_citizen_id

# A citizen id (CCCD) is 12 digits; phones are +84 plus 9-10 digits, or 0 plus 9-10 digits.
# Runs of digits inside a word (a Twilio SID, a file name's hex) are not numbers people have.
_E164 = re.compile(r"(?<![0-9A-Za-z])\+84\d{9,10}(?![0-9A-Za-z])")
_CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")
_E164_BARE = re.compile(r"(?<![0-9A-Za-z+])84\d{9,10}(?![0-9A-Za-z])")
_NATIONAL = re.compile(r"(?<![0-9A-Za-z])0\d{9,10}(?![0-9A-Za-z])")


def mask_text(text: str) -> str:
    """The text with every phone number and citizen id in it masked."""
    # E.164 first: a +84 landline has as many digits as a citizen id.
    text = _E164.sub(lambda match: mask_phone(match.group(0)), text)
    text = _CITIZEN_ID.sub(lambda match: mask_citizen_id(match.group(0), visible=2, mark="*"), text)
    text = _E164_BARE.sub(lambda match: mask_phone("+" + match.group(0)), text)
    return _NATIONAL.sub(lambda match: mask_phone("+84" + match.group(0)[1:]), text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    details: dict[str, Any] | None = None,
    now: dt.datetime,
) -> AuditEvent:
    """Add one audit event to the session (the caller's transaction commits it)."""
    event = AuditEvent(
        at=now,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=mask_text(str(target_id)),
        details=_masked(details or {}),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilters:
    """The audit log's filters; empty or None leaves a filter out."""

    actor: str = ""  # "staff:lan", "scheduler", or a bare username meaning either form
    action: str = ""  # an exact code, or a family such as "recording" for every recording.*
    since: dt.datetime | None = None  # UTC, included
    until: dt.datetime | None = None  # UTC, excluded


def audit_page(
    session: Session, filters: AuditFilters, *, before: int | None, limit: int
) -> list[AuditEvent]:
    """Audit events newest first, by keyset on the id (`before`: the last id of the last page)."""
    query = select(AuditEvent)
    if filters.actor:
        who = filters.actor.lower()
        names = [who] if ":" in who else [who, f"staff:{who}"]
        query = query.where(AuditEvent.actor.in_(names))
    if filters.action:
        action = filters.action.lower().rstrip(".")
        query = query.where(
            or_(
                AuditEvent.action == action,
                AuditEvent.action.startswith(f"{action}.", autoescape=True),
            )
        )
    if filters.since is not None:
        query = query.where(AuditEvent.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.at < filters.until)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
