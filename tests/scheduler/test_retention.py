"""Retention on a fake clock: recordings and abandoned drafts go, the centre's records stay."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from intake import audit
from intake.models import Applicant, AuditEvent, Dossier
from intake.runtime import Runtime
from intake.statuses import DossierStatus
from ivr.models import CallbackRequest, IvrCall, Recording, RecordingStatus
from ivr.recording_fetch import DELETE_FAILED, DELETE_PENDING, GONE, Gone, ProviderError
from scheduler.process import build_scheduler, retention_tick
from scheduler.retention import RetentionReport, run_retention
from sms.models import InboundMessage
from tests.factories import (
    create_call,
    create_callback_request,
    create_dossier,
    create_draft,
    create_recording,
)
from tests.fakes import RecordingGateway

PHONE = "+84912345678"
MASKED_PHONE = "+8491****678"
CITIZEN_ID = "051234567890"
ASTERISK_DIR = "/var/spool/asterisk/recording/tongdai"  # as Asterisk sees it
DAY = dt.timedelta(days=1)


class FakeTwilio:
    """Twilio's recordings: remembers each delete; `failures[sid]` are raised first, in order."""

    def __init__(self, failures: dict[str, list[Exception]] | None = None) -> None:
        self.calls: list[str] = []
        self.failures = failures or {}

    def delete(self, sid: str) -> None:
        self.calls.append(sid)
        if self.failures.get(sid):
            raise self.failures[sid].pop(0)


class FakeLeadership:
    def __init__(self, leader: bool) -> None:
        self.leader = leader

    def is_leader(self) -> bool:
        return self.leader


@dataclass
class Stored:
    id: int
    ours: Path  # under the data folder
    spool: Path | None  # Asterisk's WAV, as this process sees it


@pytest.fixture
def centre(runtime: Runtime, tmp_path: Path) -> Runtime:
    spool = tmp_path / "spool"
    spool.mkdir()
    asterisk = runtime.settings.asterisk.model_copy(
        update={"recording_dir": ASTERISK_DIR, "recording_dir_local": str(spool)}
    )
    runtime.settings = runtime.settings.model_copy(
        update={"data_dir": tmp_path / "data", "asterisk": asterisk}
    )
    return runtime


def run(runtime: Runtime, twilio: FakeTwilio | None = None, **kwargs) -> RetentionReport:
    return run_retention(runtime.sessions, runtime.settings, runtime.clock, twilio=twilio, **kwargs)


def add_call(runtime: Runtime, *, dossier_id: int | None = None, provider: str = "asterisk") -> int:
    with runtime.sessions() as session, session.begin():
        return create_call(
            session,
            provider=provider,
            dossier_id=dossier_id,
            started_at=runtime.clock.now() - 100 * DAY,
            state={"node": "owner_name", "answers": {"citizen_id": "012345678901"}},
        ).id


def asterisk_recording(
    runtime: Runtime, *, age: dt.timedelta, dossier_id: int | None = None
) -> Stored:
    """A recording as the AGI server leaves it: Asterisk's WAV in the spool, our MP3 copy."""
    call_id = add_call(runtime, dossier_id=dossier_id)
    name = f"{call_id}-{uuid.uuid4().hex[:12]}"
    spool = Path(runtime.settings.asterisk.recording_dir_local) / f"{name}.wav"
    spool.write_bytes(b"RIFF wav")
    ours = runtime.settings.data_dir / "recordings" / f"asterisk-{name}.mp3"
    ours.parent.mkdir(parents=True, exist_ok=True)
    ours.write_bytes(b"ID3 mp3")
    with runtime.sessions() as session, session.begin():
        recording = create_recording(
            session,
            call_id=call_id,
            dossier_id=dossier_id,
            provider="asterisk",
            provider_ref=f"{ASTERISK_DIR}/{name}.wav",
            seconds=4.5,
            path=f"recordings/{ours.name}",
            created_at=runtime.clock.now() - age,
        )
        return Stored(recording.id, ours, spool)


def twilio_recording(
    runtime: Runtime,
    *,
    sid: str,
    status: RecordingStatus,
    error: str | None = None,
    age: dt.timedelta = 91 * DAY,
) -> Stored:
    call_id = add_call(runtime, provider="twilio")
    ours = runtime.settings.data_dir / "recordings" / f"twilio-{sid}.mp3"
    stored = status is RecordingStatus.STORED
    if stored:
        ours.parent.mkdir(parents=True, exist_ok=True)
        ours.write_bytes(b"ID3 mp3")
    with runtime.sessions() as session, session.begin():
        recording = create_recording(
            session,
            call_id=call_id,
            purpose="address_recording",
            provider_ref=sid,
            status=status,
            path=f"recordings/{ours.name}" if stored else None,
            error=error,
            created_at=runtime.clock.now() - age,
        )
        return Stored(recording.id, ours, None)


def abandoned_draft(runtime: Runtime, *, idle: dt.timedelta) -> int:
    with runtime.sessions() as session, session.begin():
        form = {"ivr": {"citizen_id": CITIZEN_ID}, "citizen_id": CITIZEN_ID, "mobile": PHONE}
        return create_draft(session, runtime, now=runtime.clock.now() - idle, form=form).id


def recording_row(runtime: Runtime, recording_id: int) -> Recording:
    with runtime.sessions() as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        return recording


def audit_events(runtime: Runtime) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# ---- recordings ----------------------------------------------------------------------------


def test_a_recording_91_days_old_is_deleted_everywhere_and_one_89_days_old_is_kept(centre):
    old = asterisk_recording(centre, age=91 * DAY)
    young = asterisk_recording(centre, age=89 * DAY)

    report = run(centre)

    assert report.recordings_deleted == [old.id]
    assert not old.ours.exists()
    assert not old.spool.exists()
    row = recording_row(centre, old.id)
    assert row.status is RecordingStatus.DELETED
    assert row.deleted_at == centre.clock.now()
    assert row.path is None
    # What the dossier shows stays: that there was a 4.5 s answer for the owner's name.
    assert (row.purpose, row.seconds, row.call_id) == ("owner_name_recording", 4.5, row.call_id)
    assert young.ours.exists() and young.spool.exists()
    assert recording_row(centre, young.id).status is RecordingStatus.STORED
    [event] = audit_events(centre)
    assert (event.actor, event.action, event.target_type, event.target_id) == (
        "scheduler",
        "recording.deleted",
        "recording",
        str(old.id),
    )
    assert event.at == centre.clock.now()
    assert event.details["reason"] == "retention"


def test_a_recording_whose_files_are_already_gone_is_still_marked_deleted(centre):
    old = asterisk_recording(centre, age=91 * DAY)
    old.ours.unlink()
    old.spool.unlink()

    report = run(centre)

    assert report.recordings_deleted == [old.id]
    assert recording_row(centre, old.id).status is RecordingStatus.DELETED


def test_twilio_copies_still_at_twilio_are_deleted_there_and_a_404_counts_as_deleted(centre):
    pending = twilio_recording(centre, sid="RE01", status=RecordingStatus.PENDING_FETCH)
    stored_pending = twilio_recording(
        centre, sid="RE02", status=RecordingStatus.STORED, error=f"{DELETE_PENDING}: HTTP 503"
    )
    stored_refused = twilio_recording(
        centre, sid="RE03", status=RecordingStatus.STORED, error=f"{DELETE_FAILED}: HTTP 403"
    )
    failed = twilio_recording(centre, sid="RE04", status=RecordingStatus.FAILED, error="HTTP 403")
    already_deleted = twilio_recording(centre, sid="RE05", status=RecordingStatus.STORED)
    never_there = twilio_recording(
        centre, sid="RE06", status=RecordingStatus.FAILED, error=f"{GONE} (absent)"
    )
    twilio = FakeTwilio({"RE04": [Gone(GONE)]})

    report = run(centre, twilio)

    assert sorted(twilio.calls) == ["RE01", "RE02", "RE03", "RE04"]
    everything = [pending, stored_pending, stored_refused, failed, already_deleted, never_there]
    assert sorted(report.recordings_deleted) == sorted(r.id for r in everything)
    for recording in everything:
        row = recording_row(centre, recording.id)
        assert row.status is RecordingStatus.DELETED
        assert row.error is None
    assert not stored_pending.ours.exists() and not already_deleted.ours.exists()
    at_provider = {e.target_id: e.details["at_provider"] for e in audit_events(centre)}
    assert at_provider[str(pending.id)] == "deleted"
    assert at_provider[str(failed.id)] == "already gone"
    assert at_provider[str(already_deleted.id)] is None


def test_a_twilio_delete_that_fails_keeps_the_row_with_the_error_and_is_retried_next_run(centre):
    recording = twilio_recording(
        centre, sid="RE07", status=RecordingStatus.STORED, error=DELETE_PENDING
    )
    twilio = FakeTwilio({"RE07": [ProviderError("HTTP 503: try later")]})

    first = run(centre, twilio)

    assert first.recordings_kept == [recording.id] and first.recordings_deleted == []
    row = recording_row(centre, recording.id)
    assert row.status is RecordingStatus.STORED
    assert row.error == f"{DELETE_FAILED}: HTTP 503: try later"
    # Our own copy does not wait for Twilio.
    assert not recording.ours.exists() and row.path is None
    assert audit_events(centre) == []

    centre.clock.advance(6 * dt.timedelta(hours=1))
    second = run(centre, twilio)

    assert twilio.calls == ["RE07", "RE07"]
    assert second.recordings_deleted == [recording.id]
    assert recording_row(centre, recording.id).status is RecordingStatus.DELETED
    assert [e.target_id for e in audit_events(centre)] == [str(recording.id)]


def test_without_a_twilio_client_a_copy_at_twilio_keeps_its_row_for_a_later_run(centre):
    recording = twilio_recording(centre, sid="RE08", status=RecordingStatus.PENDING_FETCH)

    report = run(centre, twilio=None)

    assert report.recordings_kept == [recording.id]
    assert recording_row(centre, recording.id).status is RecordingStatus.PENDING_FETCH
    assert run(centre, FakeTwilio()).recordings_deleted == [recording.id]


def test_a_run_deletes_at_most_one_batch_and_the_next_run_continues(centre):
    ids = [asterisk_recording(centre, age=(91 + n) * DAY).id for n in range(3)]

    first = run(centre, batch=2)
    second = run(centre, batch=2)

    assert first.recordings_deleted == ids[:2]
    assert second.recordings_deleted == ids[2:]


def test_recordings_twilio_keeps_refusing_do_not_take_the_place_of_the_others(centre):
    refused = [
        twilio_recording(centre, sid=f"RF{n}", status=RecordingStatus.PENDING_FETCH).id
        for n in range(2)
    ]
    twilio = FakeTwilio({f"RF{n}": [ProviderError("HTTP 500")] * 5 for n in range(2)})
    assert run(centre, twilio, batch=2).recordings_kept == refused
    other = asterisk_recording(centre, age=91 * DAY)

    report = run(centre, twilio, batch=2)

    assert other.id in report.recordings_deleted


# ---- drafts --------------------------------------------------------------------------------


def test_an_abandoned_draft_is_deleted_with_its_recordings_while_calls_and_callbacks_stay(centre):
    draft_id = abandoned_draft(centre, idle=31 * DAY)
    recording = asterisk_recording(centre, age=31 * DAY, dossier_id=draft_id)
    call_id = recording_row(centre, recording.id).call_id
    with centre.sessions() as session, session.begin():
        callback = create_callback_request(
            session,
            call_id=call_id,
            dossier_id=draft_id,
            reason="failures:vessel",
            recording_id=recording.id,
        )
        sms = InboundMessage(
            provider="twilio",
            provider_id="SM1",
            sender=PHONE,
            recipient="8100",
            body="TT",
            dossier_id=draft_id,
        )
        session.add(sms)
    recent_draft = abandoned_draft(centre, idle=29 * DAY)

    report = run(centre)

    assert report.drafts_deleted == [draft_id]
    assert report.recordings_deleted == [recording.id]
    assert not recording.ours.exists() and not recording.spool.exists()
    with centre.sessions() as session:
        assert session.get(Dossier, draft_id) is None
        assert session.get(Dossier, recent_draft) is not None
        assert session.get(IvrCall, call_id).dossier_id is None
        assert session.get(IvrCall, call_id).state == {}  # the typed answers went with the draft
        kept_callback = session.get(CallbackRequest, callback.id)
        assert (kept_callback.dossier_id, kept_callback.recording_id) == (None, recording.id)
        assert session.get(InboundMessage, sms.id).dossier_id is None
        row = session.get(Recording, recording.id)
        assert (row.status, row.dossier_id) == (RecordingStatus.DELETED, None)
    draft_event = next(e for e in audit_events(centre) if e.action == "draft.deleted")
    assert (draft_event.target_type, draft_event.target_id) == ("dossier", str(draft_id))
    assert draft_event.details["caller_phone"] == MASKED_PHONE
    assert draft_event.details["unlinked"]["calls"] == [call_id]


def test_a_draft_whose_recording_is_still_at_twilio_waits_for_it(centre):
    draft_id = abandoned_draft(centre, idle=31 * DAY)
    call_id = add_call(centre, dossier_id=draft_id, provider="twilio")
    with centre.sessions() as session, session.begin():
        recording = create_recording(
            session,
            call_id=call_id,
            dossier_id=draft_id,
            purpose="address_recording",
            provider_ref="RE09",
            status=RecordingStatus.PENDING_FETCH,
            created_at=centre.clock.now() - 31 * DAY,
        )
    twilio = FakeTwilio({"RE09": [ProviderError("network: timeout")]})

    first = run(centre, twilio)
    second = run(centre, twilio)

    assert first.drafts_kept == [draft_id] and first.drafts_deleted == []
    assert second.drafts_deleted == [draft_id]
    assert recording_row(centre, recording.id).dossier_id is None


def test_a_submitted_dossier_keeps_what_staff_transcribed_when_its_recordings_are_deleted(
    centre, session
):
    long_ago = centre.clock.now() - 200 * DAY
    owner = {"owner_name": "Nguyễn Văn Ba", "address": "Thôn 3, Bình Sơn", "citizen_id": CITIZEN_ID}
    dossier = create_dossier(session, centre, now=long_ago, **owner)
    form = dict(dossier.form)
    dossier.updated_at = long_ago
    session.commit()
    recording = asterisk_recording(centre, age=91 * DAY, dossier_id=dossier.id)

    report = run(centre)

    assert report.recordings_deleted == [recording.id] and report.drafts_deleted == []
    with centre.sessions() as other:
        kept = other.get(Dossier, dossier.id)
        assert kept.status is DossierStatus.RECEIVED
        assert kept.form == form
        kept_applicant = other.get(Applicant, dossier.applicant_id)
        assert (kept_applicant.name, kept_applicant.address, kept_applicant.citizen_id) == (
            "Nguyễn Văn Ba",
            "Thôn 3, Bình Sơn",
            CITIZEN_ID,
        )
        # The dossier still shows that the caller recorded their name.
        row = other.get(Recording, recording.id)
        assert (row.dossier_id, row.status) == (dossier.id, RecordingStatus.DELETED)


# ---- stray spool files ---------------------------------------------------------------------


def test_old_spool_wavs_no_recording_knows_are_deleted_and_nothing_else_in_the_folder(centre):
    spool = Path(centre.settings.asterisk.recording_dir_local)
    now = centre.clock.now().timestamp()
    stray = spool / "17-0123456789ab.wav"  # an answer under a second: never stored as a row
    recent = spool / "18-0123456789ab.wav"
    foreign = spool / "greeting.wav"
    for path, age in ((stray, 91 * DAY), (recent, 89 * DAY), (foreign, 400 * DAY)):
        path.write_bytes(b"RIFF")
        os.utime(path, (now - age.total_seconds(),) * 2)
    known = asterisk_recording(centre, age=89 * DAY)
    os.utime(known.spool, (now - 95 * DAY.total_seconds(),) * 2)

    report = run(centre)

    assert report.spool_files_deleted == [stray.name]
    assert not stray.exists()
    assert recent.exists() and foreign.exists() and known.spool.exists()
    [event] = audit_events(centre)
    assert (event.action, event.target_type, event.target_id) == (
        "recording.deleted",
        "spool_file",
        stray.name,
    )


# ---- the audit log and the run as a whole --------------------------------------------------


def test_audit_events_carry_masked_phone_numbers_and_citizen_ids_never_full_ones(centre):
    abandoned_draft(centre, idle=31 * DAY)
    with centre.sessions() as session, session.begin():
        audit.record(
            session,
            actor="staff:lan",
            action="citizen_id.viewed",
            target_type="dossier",
            target_id=1,
            details={"phone": "0912 345 678".replace(" ", ""), "note": f"cccd {CITIZEN_ID}"},
            now=centre.clock.now(),
        )

    run(centre)

    events = audit_events(centre)
    assert {e.action for e in events} == {"draft.deleted", "citizen_id.viewed"}
    logged = json.dumps([[e.target_id, e.details] for e in events], ensure_ascii=False)
    assert MASKED_PHONE in logged
    assert PHONE not in logged and "0912345678" not in logged
    assert CITIZEN_ID not in logged and "**********90" in logged


def test_running_twice_changes_nothing_the_second_time(centre):
    asterisk_recording(centre, age=91 * DAY)
    asterisk_recording(centre, age=10 * DAY, dossier_id=abandoned_draft(centre, idle=40 * DAY))
    twilio_recording(centre, sid="RE10", status=RecordingStatus.PENDING_FETCH)
    twilio = FakeTwilio()
    first = run(centre, twilio)
    assert first.changed

    def snapshot() -> tuple:
        with centre.sessions() as session:
            recordings = session.execute(
                select(Recording.id, Recording.status, Recording.path, Recording.deleted_at)
            ).all()
            return (
                sorted(recordings),
                session.scalar(select(func.count(Dossier.id))),
                session.scalar(select(func.count(AuditEvent.id))),
                sorted(p for p in centre.settings.data_dir.parent.rglob("*") if p.is_file()),
            )

    before = snapshot()
    centre.clock.advance(dt.timedelta(hours=6))
    second = run(centre, twilio)

    assert second == RetentionReport()
    assert snapshot() == before
    assert twilio.calls == ["RE10"]


def test_audit_events_cannot_be_updated_or_deleted(centre, session):
    event = audit.record(
        session,
        actor="staff:lan",
        action="recording.viewed",
        target_type="recording",
        target_id=7,
        now=centre.clock.now(),
    )
    session.commit()

    event.actor = "staff:someone-else"
    with pytest.raises(RuntimeError, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(event)
    with pytest.raises(RuntimeError, match="append-only"):
        session.commit()
    session.rollback()
    assert [e.actor for e in audit_events(centre)] == ["staff:lan"]


# ---- the scheduler -------------------------------------------------------------------------


def test_the_scheduler_runs_retention_every_run_hours_in_the_leader_only(centre):
    leadership = FakeLeadership(leader=True)
    scheduler = build_scheduler(centre, RecordingGateway(), background=True, leadership=leadership)
    job = scheduler.get_job("retention")
    assert job.trigger.interval == dt.timedelta(hours=centre.settings.retention.run_hours)
    old = asterisk_recording(centre, age=91 * DAY)

    retention_tick(centre, FakeLeadership(leader=False), None)
    assert recording_row(centre, old.id).status is RecordingStatus.STORED

    job.func(*job.args)
    assert recording_row(centre, old.id).status is RecordingStatus.DELETED


def test_nothing_is_past_retention_so_nothing_changes(centre):
    young = asterisk_recording(centre, age=30 * DAY)
    abandoned_draft(centre, idle=29 * DAY)

    assert run(centre, FakeTwilio()) == RetentionReport()
    assert young.ours.exists() and young.spool.exists()
    assert audit_events(centre) == []
