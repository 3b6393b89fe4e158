"""The writes to a dossier that more than one part makes: its events, and its answers.

`record_event` is the only place a DossierEvent is built (status changes, new dates, dispatch),
so every event row carries the same fields whichever path wrote it; the notice rules read them,
and the followers registered with `follow_events` (the portal sync) see each one as it is made.

`apply_answers` is the only place an answer lands on a dossier, whether a caller keyed it in the
IVR or staff typed it on the dossier page. Where each value lives, field by field:

| answer (IVR key / staff field) | the truth                 | also written, and why            |
|--------------------------------|---------------------------|----------------------------------|
| procedure                      | Dossier.procedure         |                                  |
| variant                        | Dossier.variant           |                                  |
| reissue_reason                 | form["reissue_reason"]    |                                  |
| vessel / vessel_number         | form["vessel_number"]     | Dossier.vessel_id: the Vessel it |
|                                | (the registration shown)  | names, which look-ups join on    |
| citizen_id                     | form["citizen_id"]        | Applicant.citizen_id, a copy     |
| date_of_birth (IVR: ddmmyyyy)  | form["date_of_birth"]     | (ISO date, as the staff form)    |
| length_band (IVR only)         | Vessel.length_band        | (intake.vessel_length answers    |
|                                |                           | the vessel's band)               |
| vessel_length_m (staff only)   | Vessel.length_m           | (the staff form reads it there)  |
| owner_name, address (staff)    | form[...]                 | Applicant.name/address, copies   |
| delivery                       | Dossier.delivery          |                                  |
| notify_phone / mobile          | Dossier.notify_phone      | Applicant.phone, a copy          |
| *_recording, operator_message  | Recording.dossier_id      |                                  |
| any other staff field          | form[key]                 |                                  |

Two other records hold answers, on purpose:
- `form["ivr"]` keeps every answer exactly as the caller keyed it (`HP:12345`, `0912345678`, a
  recording id): the audit copy of the call, and what a resumed call reloads so it asks nothing
  twice (the columns above hold normalised values the flow cannot read back);
- `IvrCall.state["answers"]` is the pure flow engine's working copy during one call.

The mobile for SMS used to be stored twice (`form["mobile"]` beside `notify_phone`); it now lives
only in the column, and `form_values` shows it in the staff form's "mobile" field. The applicant
copies follow the truth: a field staff clear is cleared on the applicant too (it used to keep the
old value).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from intake.birth_date import parse_keyed
from intake.models import Applicant, Dossier, DossierEvent, Vessel
from intake.phone import parse_phone
from intake.statuses import Delivery, DossierStatus
from intake.vessels import vessel_for

if TYPE_CHECKING:
    from intake.lifecycle import Actor

# The staff form's field for the mobile, which lives in Dossier.notify_phone.
MOBILE_FIELD = "mobile"
# The IVR answers that are form fields (the others are columns, recordings or flow markers).
_FORM_FIELDS_OF_CALLS = frozenset({"reissue_reason", "citizen_id"})
_APPLICANT_COPIES = {"owner_name": "name", "address": "address", "citizen_id": "citizen_id"}


def record_event(
    session: Session,
    dossier: Dossier,
    *,
    actor: Actor,
    now: dt.datetime,
    to_status: DossierStatus | None = None,
    reason: str = "",
    override: bool = False,
    details: Mapping[str, Any] | None = None,
    from_status: DossierStatus | None = None,
) -> DossierEvent:
    """Append one event of `dossier`: a change to `to_status`, or (without it) something that
    happened in its current status (details["action"] says what). `from_status` defaults to the
    dossier's status, so call this before changing it."""
    current = from_status if from_status is not None else dossier.status
    event = DossierEvent(
        dossier_id=dossier.id,
        at=now,
        actor=actor.name,
        from_status=current,
        to_status=to_status if to_status is not None else current,
        reason=reason,
        override=override,
        details=dict(details or {}),
    )
    session.add(event)
    for follower in EVENT_FOLLOWERS.values():
        follower(session, dossier, event)
    return event


# Parts above the domain that act on every event, in the event's own transaction (the portal
# sync queues its records here: onestop/sync.py). Registered by the process's start-up
# (tongdai/startup.py) when enabled, by name, so registering twice replaces.
EventFollower = Callable[[Session, Dossier, DossierEvent], None]
EVENT_FOLLOWERS: dict[str, EventFollower] = {}


def follow_events(name: str, follower: EventFollower | None) -> None:
    """Call `follower` after every recorded event (None: stop calling the one named so)."""
    if follower is None:
        EVENT_FOLLOWERS.pop(name, None)
    else:
        EVENT_FOLLOWERS[name] = follower


def apply_answers(
    session: Session,
    dossier: Dossier,
    answers: Mapping[str, Any],
    *,
    now: dt.datetime,
    keyed: bool = False,
) -> None:
    """Store validated answers where each one lives (the table in this module's docstring).

    `keyed=True` for answers as the IVR takes them (`vessel` as `province:digits`, the phone as
    typed), which are also kept in `form["ivr"]`; otherwise they are the staff form's clean values
    (intake.forms.validate).
    """
    form = dict(dossier.form or {})
    if keyed:
        form["ivr"] = {**form.get("ivr", {}), **answers}
    for key, value in answers.items():
        if key == "procedure":
            dossier.procedure = value
        elif key == "variant":
            dossier.variant = value
        elif key == "delivery":
            dossier.delivery = Delivery(value)
        elif key in ("notify_phone", MOBILE_FIELD):
            dossier.notify_phone = parse_phone(value).e164 if value else None
            form.pop(MOBILE_FIELD, None)  # the column holds it (older dossiers had a copy here)
        elif key in ("vessel", "vessel_number"):
            if key == "vessel":
                province, digits = value.split(":")
            elif value:
                province, digits, _ = value.split("-")
            else:  # staff cleared it: no vessel, rather than a link the page no longer shows
                dossier.vessel_id = None
                form["vessel_number"] = value
                continue
            vessel = vessel_for(session, province or None, digits)
            dossier.vessel_id = vessel.id
            form["vessel_number"] = vessel.registration_number
        elif key == "date_of_birth" and keyed:
            born = parse_keyed(value)
            form[key] = born.isoformat() if born else ""
        elif key == "vessel_length_m":
            vessel = session.get(Vessel, dossier.vessel_id) if dossier.vessel_id else None
            if vessel is not None:
                vessel.length_m = float(value) if value else None
        elif key == "length_band":
            vessel = session.get(Vessel, dossier.vessel_id) if dossier.vessel_id else None
            if vessel is not None:
                vessel.length_band = value or None
        elif keyed and key not in _FORM_FIELDS_OF_CALLS:
            continue  # recordings and flow markers: the call service links them
        else:
            form[key] = value
    dossier.form = form
    dossier.updated_at = now
    _copy_to_applicant(session, dossier, form)


def _copy_to_applicant(session: Session, dossier: Dossier, form: Mapping[str, Any]) -> None:
    if dossier.applicant_id is None:
        return
    applicant = session.get(Applicant, dossier.applicant_id)
    if applicant is None:
        return
    _copy_answers(applicant, dossier, form)


def _copy_answers(applicant: Applicant, dossier: Dossier, form: Mapping[str, Any]) -> None:
    for field, column in _APPLICANT_COPIES.items():
        if field in form:
            setattr(applicant, column, form[field] or None)
    applicant.phone = dossier.notify_phone


def create_applicant(session: Session, dossier: Dossier, now: dt.datetime) -> Applicant:
    """The applicant record of a dossier being submitted, with the copies of its answers.

    Inserted at the next flush, together with the dossier's other changes (its id is not known
    until then): one INSERT and the dossier's one UPDATE, not an INSERT, an UPDATE of the new
    row and an UPDATE of the dossier for its id alone."""
    applicant = Applicant(created_at=now)
    _copy_answers(applicant, dossier, dossier.form or {})
    session.add(applicant)
    dossier.applicant = applicant
    return applicant


def form_values(dossier: Dossier) -> dict[str, Any]:
    """The dossier's answers as the staff form and its completeness check read them: the form,
    with the fields that live in columns filled in from there."""
    values = dict(dossier.form or {})
    values.pop(MOBILE_FIELD, None)
    if dossier.notify_phone:
        values[MOBILE_FIELD] = dossier.notify_phone
    return values
