"""Retention of personal data: call recordings and abandoned drafts, deleted when their time is up.

A run, in the scheduler's leader every `retention.run_hours`, does three things, each bounded to
`batch` items so a backlog is worked off over several runs:

    recordings  older than `retention.recording_days` (by created_at), not yet deleted: our file
                under the data folder, Asterisk's spool WAV, and Twilio's copy when it may still
                be there. The row stays (call, purpose, seconds: the dossier still shows that a
                recording existed) as status `deleted`, without `path`.
    drafts      still drafts, untouched for `retention.draft_days` (by updated_at): their
                recordings as above (whatever their age), then the draft itself. Rows that point
                at it (calls, call-backs, SMS, alerts, recordings) stay, with dossier_id NULL.
    spool       Asterisk WAVs named by our AGI server, older than the recording period and not
                known to any recording row (answers under a second are never stored as rows).

Each deletion writes an audit event (actor "scheduler") in the same transaction. Nothing else is
deleted: what staff transcribed into a submitted dossier (form, applicant) is never touched.
Twilio is called with no database transaction open. A failure there (other than 404: already
gone) keeps the row as it is, minus its local files, with the error, for the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import ColumnElement, case, delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from intake import audit
from intake.clock import Clock
from intake.models import Dossier, DossierEvent
from intake.phone import mask_phone
from intake.statuses import DossierStatus
from ivr.models import CallbackRequest, IvrCall, Recording, RecordingStatus
from ivr.recording_fetch import DELETE_FAILED, DELETE_PENDING, GONE, Gone, ProviderError
from plumbing.settings import Settings
from scheduler.models import StaffAlert
from sms.models import InboundMessage, Notice, SurveyRating

log = logging.getLogger(__name__)

ACTOR = "scheduler"
BATCH = 100
# The names ivr/asterisk/agi_server.py gives recordings: <call id>-<12 hex>.wav.
SPOOL_NAME = re.compile(r"\d+-[0-9a-f]{12}\.wav")


class DeletesRecordings(Protocol):
    """What retention needs of `ivr.recording_fetch.TwilioRecordings`."""

    def delete(self, sid: str) -> None: ...


@dataclass
class RetentionReport:
    recordings_deleted: list[int] = field(default_factory=list)
    # Past retention but not (fully) deleted: Twilio or the file system refused; next run.
    recordings_kept: list[int] = field(default_factory=list)
    drafts_deleted: list[int] = field(default_factory=list)
    drafts_kept: list[int] = field(default_factory=list)
    spool_files_deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.recordings_deleted or self.drafts_deleted or self.spool_files_deleted)

    def summary(self) -> str:
        return (
            f"{len(self.recordings_deleted)} recordings deleted, {len(self.recordings_kept)} "
            f"to retry; {len(self.drafts_deleted)} drafts deleted, {len(self.drafts_kept)} to "
            f"retry; {len(self.spool_files_deleted)} stray spool files deleted"
        )


@dataclass(frozen=True)
class _Claim:
    id: int
    provider: str
    provider_ref: str
    status: RecordingStatus
    path: str | None
    error: str | None
    purpose: str
    call_id: int
    dossier_id: int | None
    created_at: dt.datetime

    @property
    def at_twilio(self) -> bool:
        """Whether Twilio may still hold a copy (see the states in ivr/recording_fetch.py)."""
        if self.provider != "twilio" or not self.provider_ref:
            return False
        error = self.error or ""
        if self.status is RecordingStatus.PENDING_FETCH:
            return True
        if self.status is RecordingStatus.FAILED:
            return not error.startswith(GONE)
        return error.startswith((DELETE_PENDING, DELETE_FAILED))


def run_retention(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    *,
    twilio: DeletesRecordings | None = None,
    batch: int = BATCH,
) -> RetentionReport:
    """Delete what is past its retention period; see the module docstring."""
    report = RetentionReport()
    now = clock.now()
    recordings_cutoff = now - dt.timedelta(days=settings.retention.recording_days)
    drafts_cutoff = now - dt.timedelta(days=settings.retention.draft_days)

    with sessions() as session:
        claims = _claims(
            session,
            [
                Recording.status != RecordingStatus.DELETED,
                Recording.created_at < recordings_cutoff,
            ],
            batch,
        )
    for claim in claims:
        _delete_recording(sessions, settings, clock, twilio, claim, "retention", report)

    with sessions() as session:
        drafts = list(
            session.scalars(
                select(Dossier.id)
                .where(*_abandoned(drafts_cutoff))
                .order_by(Dossier.id)
                .limit(batch)
            )
        )
    for draft_id in drafts:
        _delete_draft(sessions, settings, clock, twilio, draft_id, drafts_cutoff, report)

    _sweep_spool(sessions, settings, clock, recordings_cutoff, batch, report)
    return report


def _claims(session: Session, where: list[ColumnElement[bool]], limit: int) -> list[_Claim]:
    # Rows Twilio keeps refusing go last, so they cannot fill every batch and starve the rest.
    refused_before = case((Recording.error.startswith(DELETE_FAILED, autoescape=True), 1), else_=0)
    rows = session.scalars(
        select(Recording).where(*where).order_by(refused_before, Recording.id).limit(limit)
    )
    return [
        _Claim(
            id=row.id,
            provider=row.provider,
            provider_ref=row.provider_ref,
            status=row.status,
            path=row.path,
            error=row.error,
            purpose=row.purpose,
            call_id=row.call_id,
            dossier_id=row.dossier_id,
            created_at=row.created_at,
        )
        for row in rows
    ]


def _abandoned(cutoff: dt.datetime) -> list[ColumnElement[bool]]:
    return [
        Dossier.status == DossierStatus.DRAFT,
        Dossier.updated_at < cutoff,
        # A draft has neither (submitting makes the first event); if one ever does, it is a
        # record of the centre and the draft is left for a person to look at.
        ~exists().where(DossierEvent.dossier_id == Dossier.id),
        ~exists().where(SurveyRating.dossier_id == Dossier.id),
    ]


# ---- recordings ------------------------------------------------------------------------------


def _local_files(settings: Settings, claim: _Claim) -> list[Path]:
    files = []
    if claim.path:
        data_dir = Path(settings.data_dir).resolve()
        ours = (data_dir / claim.path).resolve()
        if not ours.is_relative_to(data_dir):
            raise OSError(f"path {claim.path!r} is outside the data folder")
        files.append(ours)
    if claim.provider == "asterisk" and claim.provider_ref:
        # provider_ref is the path as Asterisk sees it; the same folder may be mounted elsewhere
        # here. Only the file name is taken from the row.
        asterisk = settings.asterisk
        folder = Path(asterisk.recording_dir_local or asterisk.recording_dir)
        files.append(folder / Path(claim.provider_ref).name)
    return files


def _delete_recording(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    twilio: DeletesRecordings | None,
    claim: _Claim,
    reason: str,
    report: RetentionReport,
) -> bool:
    """Delete one recording's copies and mark its row deleted; False when some copy remains."""
    try:
        removed = []
        for path in _local_files(settings, claim):
            if path.exists():
                path.unlink()
                removed.append(str(path))
    except OSError as error:
        log.error("retention: recording %d: cannot delete its file: %s", claim.id, error)
        report.recordings_kept.append(claim.id)
        return False

    at_provider: str | None = None
    failure: str | None = None
    if claim.at_twilio:
        if twilio is None:
            failure = "no Twilio credentials to delete it with"
        else:
            try:
                twilio.delete(claim.provider_ref)
                at_provider = "deleted"
            except Gone:
                at_provider = "already gone"
            except ProviderError as error:
                failure = str(error)

    same_row = [
        Recording.id == claim.id,
        Recording.status == claim.status,
        Recording.path.is_(None) if claim.path is None else Recording.path == claim.path,
    ]
    with sessions() as session, session.begin():
        if failure is not None:
            session.execute(
                update(Recording)
                .where(*same_row)
                .values(path=None, error=f"{DELETE_FAILED}: {failure}")
            )
            log.error("retention: recording %d (%s) stays at Twilio until the next run: %s",
                      claim.id, claim.provider_ref, failure)  # fmt: skip
            report.recordings_kept.append(claim.id)
            return False
        now = clock.now()
        result = session.execute(
            update(Recording)
            .where(*same_row)
            .values(status=RecordingStatus.DELETED, deleted_at=now, path=None, error=None)
        )
        if result.rowcount != 1:
            # Changed since it was read (the fetcher stored it, say): the next run sees it anew.
            report.recordings_kept.append(claim.id)
            return False
        audit.record(
            session,
            actor=ACTOR,
            action="recording.deleted",
            target_type="recording",
            target_id=claim.id,
            details={
                "reason": reason,
                "provider": claim.provider,
                "purpose": claim.purpose,
                "call_id": claim.call_id,
                "dossier_id": claim.dossier_id,
                "created_at": claim.created_at.isoformat(),
                "files": removed,
                "at_provider": at_provider,
            },
            now=now,
        )
    report.recordings_deleted.append(claim.id)
    return True


# ---- drafts ----------------------------------------------------------------------------------


def _delete_draft(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    twilio: DeletesRecordings | None,
    draft_id: int,
    cutoff: dt.datetime,
    report: RetentionReport,
) -> None:
    with sessions() as session:
        claims = _claims(
            session,
            [Recording.dossier_id == draft_id, Recording.status != RecordingStatus.DELETED],
            BATCH,
        )
    for claim in claims:
        _delete_recording(sessions, settings, clock, twilio, claim, "draft deleted", report)

    with sessions() as session, session.begin():
        draft = session.execute(
            select(
                Dossier.procedure,
                Dossier.channel,
                Dossier.caller_phone,
                Dossier.notify_phone,
                Dossier.created_at,
                Dossier.updated_at,
                Dossier.discarded_at,
            )
            .where(Dossier.id == draft_id, *_abandoned(cutoff))
            .with_for_update()
        ).one_or_none()
        if draft is None:  # resumed or submitted meanwhile
            return
        remaining = session.scalar(
            select(Recording.id).where(
                Recording.dossier_id == draft_id, Recording.status != RecordingStatus.DELETED
            )
        )
        if remaining is not None:
            # Its recordings would lose the link that gets them deleted with it.
            report.drafts_kept.append(draft_id)
            return
        unlinked: dict[str, list[int]] = {}
        for name, model in (
            ("calls", IvrCall),
            ("callbacks", CallbackRequest),
            ("recordings", Recording),
            ("notices", Notice),
            ("inbound_messages", InboundMessage),
            ("alerts", StaffAlert),
        ):
            ids = list(session.scalars(select(model.id).where(model.dossier_id == draft_id)))
            if ids:
                values = {"dossier_id": None}
                if model is IvrCall:
                    # The call's saved flow state repeats what was typed (the citizen id among
                    # it): it goes with the draft. The call itself stays in the centre's records.
                    values["state"] = {}
                session.execute(update(model).where(model.id.in_(ids)).values(**values))
                unlinked[name] = ids
        session.execute(delete(Dossier).where(Dossier.id == draft_id))
        now = clock.now()
        audit.record(
            session,
            actor=ACTOR,
            action="draft.deleted",
            target_type="dossier",
            target_id=draft_id,
            details={
                "procedure": draft.procedure,
                "channel": draft.channel.value,
                "caller_phone": mask_phone(draft.caller_phone) if draft.caller_phone else None,
                "notify_phone": mask_phone(draft.notify_phone) if draft.notify_phone else None,
                "created_at": draft.created_at.isoformat(),
                "updated_at": draft.updated_at.isoformat(),
                "discarded": draft.discarded_at is not None,
                "unlinked": unlinked,
            },
            now=now,
        )
    report.drafts_deleted.append(draft_id)


# ---- stray spool files -----------------------------------------------------------------------


def _sweep_spool(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    cutoff: dt.datetime,
    batch: int,
    report: RetentionReport,
) -> None:
    folder = Path(settings.asterisk.recording_dir_local or settings.asterisk.recording_dir)
    try:
        names = sorted(entry.name for entry in folder.iterdir() if SPOOL_NAME.fullmatch(entry.name))
    except OSError:  # no Asterisk on this machine, or the volume is not mounted
        return
    for name in names:
        if len(report.spool_files_deleted) >= batch:
            return
        path = folder / name
        try:
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        except FileNotFoundError:
            continue
        if modified >= cutoff:
            continue
        with sessions() as session, session.begin():
            known = session.scalar(
                select(Recording.id).where(
                    Recording.provider == "asterisk",
                    Recording.provider_ref.endswith(f"/{name}", autoescape=True),
                    Recording.status != RecordingStatus.DELETED,
                )
            )
            if known is not None:  # its row's own retention deletes it
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as error:
                log.error("retention: cannot delete %s: %s", path, error)
                continue
            audit.record(
                session,
                actor=ACTOR,
                action="recording.deleted",
                target_type="spool_file",
                target_id=name,
                details={"reason": "retention", "file": str(path),
                         "modified_at": modified.isoformat()},
                now=clock.now(),
            )  # fmt: skip
        report.spool_files_deleted.append(name)
