"""A dossier as the API answers it: with its applicant, vessel, answers, status history and the
links to its recordings. Read in a handful of queries, whatever the page size."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from api import schemas
from intake import dossier_queries
from intake.models import Dossier, Vessel
from ivr import queries as ivr_queries
from ivr.models import RecordingStatus
from plumbing.settings import Settings

# The answers the API leaves out: the call's keyed copy (the columns hold the clean values).
HIDDEN_ANSWERS = frozenset({"ivr"})


def dossier_answers(
    session: Session,
    rows: list[Dossier],
    settings: Settings,
    recording_url: Callable[[Dossier, int], str],
) -> list[schemas.Dossier]:
    """The API's view of `rows` (in their order)."""
    if not rows:
        return []
    ids = [d.id for d in rows]
    applicants = dossier_queries.applicants_of(session, rows)
    vessels = dossier_queries.vessels_of(session, rows)
    events = dossier_queries.events_of_dossiers(session, ids)
    recordings = ivr_queries.recordings_of_dossiers(session, ids)
    answers = []
    for dossier in rows:
        applicant = applicants.get(dossier.applicant_id or 0)
        vessel: Vessel | None = vessels.get(dossier.vessel_id or 0)
        procedure = settings.procedures.get(dossier.procedure)
        answers.append(
            schemas.Dossier(
                code=dossier.code or "",
                external_code=dossier.external_code,
                procedure=dossier.procedure,
                procedure_name=procedure.name if procedure else dossier.procedure,
                variant=dossier.variant,
                channel=dossier.channel.value,
                delivery=dossier.delivery.value if dossier.delivery else None,
                status=schemas.Status(
                    name=dossier.status.value,
                    code=dossier.status.national_code,
                    label=dossier.status.label,
                ),
                received_at=dossier.received_at,
                due_date=dossier.due_date,
                new_due_date=dossier.new_due_date,
                supplement_count=dossier.supplement_count,
                apology_count=dossier.apology_count,
                applicant=schemas.Applicant(
                    name=applicant.name,
                    phone=applicant.phone,
                    citizen_id=applicant.citizen_id,
                    address=applicant.address,
                )
                if applicant
                else None,
                vessel=schemas.Vessel(
                    registration_number=vessel.registration_number, length_m=vessel.length_m
                )
                if vessel
                else None,
                answers={k: v for k, v in (dossier.form or {}).items() if k not in HIDDEN_ANSWERS},
                history=[
                    schemas.HistoryItem(
                        at=e.at,
                        from_status=e.from_status.value if e.from_status else None,
                        to_status=e.to_status.value if e.to_status else None,
                        actor=e.actor,
                        reason=e.reason,
                        override=e.override,
                        details=e.details or {},
                    )
                    for e in events.get(dossier.id, [])
                ],
                recordings=[
                    schemas.Recording(
                        id=r.id,
                        purpose=r.purpose,
                        seconds=r.seconds,
                        url=recording_url(dossier, r.id)
                        if r.status is RecordingStatus.STORED
                        else None,
                    )
                    for r in recordings.get(dossier.id, [])
                ],
                updated_at=dossier.updated_at,
                version=dossier.version,
            )
        )
    return answers
