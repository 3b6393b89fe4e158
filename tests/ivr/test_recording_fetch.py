"""ivr.recording_fetch: Twilio recordings fetched into the data folder, then deleted at Twilio.

Prism serves Twilio's OpenAPI spec (the recording's .json fetch and its delete). The spec does not
describe the audio download, so `FakeTwilio` serves it through a requests adapter, while its REST
calls go through ContractHttpClient, which checks them against the spec, for the error paths.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import io
import json
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from pydub import AudioSegment
from pydub.generators import Sine

import ivr.recording_fetch
from intake.clock import FixedClock
from intake.runtime import Runtime
from ivr.models import IvrCall, Recording, RecordingStatus
from ivr.recording_fetch import (
    DELETE_FAILED,
    DELETE_PENDING,
    KEEP_DURING_CALL,
    MAX_ATTEMPTS,
    RETRY_OFFSETS,
    Gone,
    ProviderError,
    TwilioRecordings,
    fetch_pending,
)
from plumbing.twilio_client import TWILIO_API
from scheduler.process import RECORDINGS_SECONDS, build_scheduler
from tests.conftest import missing_service
from tests.contract.twilio_contract import (
    ContractHttpClient,
    RedirectingHttpClient,
    Reply,
    SentRequest,
    http_status,
    twilio_error,
    twilio_spec,
)
from tests.factories import create_recording
from tests.fakes import RecordingGateway

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SID = "RE" + "fedcba9876543210" * 2
RECORDING_JSON = "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json"
REST_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+)\.json$")
MEDIA_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+)\.wav$")
TONE_SECONDS = 2.0


@functools.cache
def tone_wav() -> bytes:
    """What Twilio serves for a call recording: 8 kHz mono 16-bit PCM WAV, here a 440 Hz tone."""
    tone = Sine(440, sample_rate=8000, bit_depth=16).to_audio_segment(
        duration=TONE_SECONDS * 1000, volume=-6
    )
    buffer = io.BytesIO()
    tone.set_channels(1).export(buffer, format="wav")
    return buffer.getvalue()


def example_recording() -> dict[str, object]:
    responses = twilio_spec()["paths"][RECORDING_JSON]["get"]["responses"]
    examples = responses["200"]["content"]["application/json"]["examples"]
    return copy.deepcopy(examples["fetch"]["value"])


class FakeTwilio:
    """Recordings of one account. REST calls arrive through ContractHttpClient (so they are
    checked against the spec), the audio through a requests adapter. `fail[operation]` holds
    replies or exceptions served, in order, before the normal answer: operation is "fetch",
    "media" or "delete"."""

    def __init__(self, contract: ContractHttpClient) -> None:
        self.status: dict[str, str] = {}
        self.audio: dict[str, bytes] = {}
        self.fail: dict[str, list[Reply | BaseException]] = {"fetch": [], "media": [], "delete": []}
        self.calls: list[tuple[str, str]] = []
        contract.respond_with(self._rest)
        session = requests.Session()
        session.mount(TWILIO_API, _MediaAdapter(self))
        self.client = TwilioRecordings(
            ACCOUNT_SID, AUTH_TOKEN, http_client=contract, media_session=session
        )

    def add(self, sid: str = SID, *, status: str = "completed", audio: bytes | None = None) -> None:
        self.status[sid] = status
        self.audio[sid] = tone_wav() if audio is None else audio

    def operations(self, sid: str = SID) -> list[str]:
        return [operation for operation, called in self.calls if called == sid]

    def answer(self, operation: str, sid: str) -> Reply | None:
        self.calls.append((operation, sid))
        if self.fail[operation]:
            failure = self.fail[operation].pop(0)
            if isinstance(failure, BaseException):
                raise failure
            return failure
        if sid not in self.status:
            return twilio_error(404, 20404, f"The requested resource {sid} was not found")
        return None

    def _rest(self, request: SentRequest) -> Reply:
        match = REST_PATH.match(request.path)
        assert match, f"unexpected REST call {request.method} {request.path}"
        account, sid = match.groups()
        operation = "fetch" if request.method == "GET" else "delete"
        reply = self.answer(operation, sid)
        if reply is not None:
            return reply
        if operation == "delete":
            del self.status[sid], self.audio[sid]
            return Reply(204, "", "")
        resource = example_recording()
        uri = f"/2010-04-01/Accounts/{account}/Recordings/{sid}"
        resource.update(
            account_sid=account,
            sid=sid,
            status=self.status[sid],
            uri=f"{uri}.json",
            media_url=f"{TWILIO_API}{uri}",
            encryption_details=None,
        )
        return Reply(200, json.dumps(resource))


class _MediaAdapter(requests.adapters.BaseAdapter):
    def __init__(self, twilio: FakeTwilio) -> None:
        super().__init__()
        self.twilio = twilio

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        path = requests.utils.urlparse(request.url).path
        match = MEDIA_PATH.match(path)
        assert match and match.group(1) == ACCOUNT_SID, f"unexpected audio request {request.url}"
        credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        assert request.headers.get("Authorization") == f"Basic {credentials}"
        sid = match.group(2)
        reply = self.twilio.answer("media", sid)
        response = requests.Response()
        response.request = request
        response.url = request.url or ""
        if reply is None:
            response.status_code = 200
            response.headers["Content-Type"] = "audio/x-wav"
            response._content = self.twilio.audio[sid]
        else:
            response.status_code = reply.status
            response.headers["Content-Type"] = reply.content_type
            response._content = reply.body.encode()
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def ffmpeg() -> None:
    if shutil.which("ffmpeg") is None:
        missing_service("ffmpeg")


@pytest.fixture
def fetch_runtime(runtime: Runtime, tmp_path: Path) -> Runtime:
    runtime.settings = runtime.settings.model_copy(update={"data_dir": tmp_path})
    return runtime


@pytest.fixture
def twilio(contract_http: ContractHttpClient) -> Iterator[FakeTwilio]:
    yield FakeTwilio(contract_http)


def pending_recording(runtime: Runtime, sid: str = SID, *, call_over: bool = True) -> int:
    """A recording as the Twilio voice webhook leaves it: metadata only, audio still at Twilio;
    by default on a call that has ended (the caller can no longer ask to hear it back)."""
    with runtime.sessions() as session, session.begin():
        return create_recording(
            session,
            provider_call_id="CA" + sid[2:],
            ended_at=runtime.clock.now() if call_over else None,
            provider_ref=sid,
            provider_url=f"{TWILIO_API}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}",
            status=RecordingStatus.PENDING_FETCH,
            created_at=runtime.clock.now(),
        ).id


def run(runtime: Runtime, twilio: FakeTwilio) -> ivr.recording_fetch.FetchReport:
    return fetch_pending(runtime.sessions, twilio.client, runtime.settings, runtime.clock)


def row(runtime: Runtime, recording_id: int) -> Recording:
    with runtime.sessions() as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        return recording


def advance_to_next_try(runtime: Runtime, attempts: int) -> None:
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    clock.advance(RETRY_OFFSETS[attempts] - RETRY_OFFSETS[attempts - 1])


# --- against Prism -------------------------------------------------------------------------------


def prism_recordings(prism_url: str) -> tuple[TwilioRecordings, ContractHttpClient]:
    recorder = ContractHttpClient(forward_to=prism_url)
    session = requests.Session()
    return (
        TwilioRecordings(ACCOUNT_SID, AUTH_TOKEN, http_client=recorder, media_session=session,
                         api_base=prism_url),
        recorder,
    )  # fmt: skip


def test_prism_answers_the_recording_fetch_with_the_spec_example_which_is_completed(
    prism_url: str,
) -> None:
    recordings, recorder = prism_recordings(prism_url)

    assert recordings.status(SID) == "completed"
    assert recorder.last.method == "GET"
    assert recorder.last.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{SID}.json"
    assert not recorder.violations


def test_prism_accepts_the_recording_delete(prism_url: str) -> None:
    recordings, recorder = prism_recordings(prism_url)

    recordings.delete(SID)

    assert recorder.last.method == "DELETE"
    assert recorder.last.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{SID}.json"
    assert not recorder.violations


def test_prism_has_no_route_for_the_wav_audio_which_the_client_reports_as_gone(
    prism_url: str,
) -> None:
    recordings, _ = prism_recordings(prism_url)

    with pytest.raises(Gone):
        recordings.media(SID)


def test_a_rest_call_prism_refuses_for_lack_of_credentials_is_retried_not_given_up(
    prism_url: str,
) -> None:
    recordings = TwilioRecordings(
        ACCOUNT_SID, "", http_client=RedirectingHttpClient(prism_url, timeout=10)
    )

    with pytest.raises(ProviderError) as raised:
        recordings.status(SID)

    assert raised.value.retry
    assert str(raised.value).startswith("HTTP 401")


# --- the fetch job, against the in-process contract client --------------------------------------


def test_a_pending_recording_is_stored_as_mp3_in_the_data_folder_then_deleted_at_twilio(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()

    report = run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert report.stored == [recording_id] and report.deleted == [recording_id]
    assert recording.status is RecordingStatus.STORED
    assert recording.path == f"recordings/{recording_id}.mp3"
    assert recording.stored_at == fetch_runtime.clock.now()
    assert recording.error is None
    mp3 = fetch_runtime.settings.data_dir / recording.path
    assert AudioSegment.from_file(mp3, format="mp3").duration_seconds == pytest.approx(
        TONE_SECONDS, abs=0.1
    )
    assert recording.seconds == pytest.approx(TONE_SECONDS, abs=0.1)  # measured, not Twilio's 3
    assert twilio.operations() == ["fetch", "media", "delete"]
    assert SID not in twilio.status
    assert [p.name for p in mp3.parent.iterdir()] == [mp3.name]  # no WAV left behind


def test_a_recording_purged_while_it_was_converted_leaves_no_audio_behind(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retention (or staff) may delete the row meanwhile: the audio must not stay on disk as
    personal data no row knows about."""
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    convert = ivr.recording_fetch.convert_recording

    def convert_then_purge(source: Path, target: Path) -> float:
        seconds = convert(source, target)
        with fetch_runtime.sessions() as session, session.begin():
            session.get(Recording, recording_id).status = RecordingStatus.DELETED
        return seconds

    monkeypatch.setattr(ivr.recording_fetch, "convert_recording", convert_then_purge)
    report = run(fetch_runtime, twilio)

    assert report.stored == [] and report.deleted == []
    assert row(fetch_runtime, recording_id).path is None
    folder = fetch_runtime.settings.data_dir / "recordings"
    assert list(folder.iterdir()) == []


def test_a_recording_unknown_at_twilio_fails_as_gone_at_provider(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)

    report = run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert report.failed == [recording_id]
    assert recording.status is RecordingStatus.FAILED
    assert recording.error == "gone at provider"
    assert recording.path is None
    assert twilio.operations() == ["fetch"]


def test_audio_gone_between_the_status_and_the_download_fails_as_gone_at_provider(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["media"].append(twilio_error(404, 20404, "not found"))

    run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert (recording.status, recording.error) == (RecordingStatus.FAILED, "gone at provider")
    assert "delete" not in twilio.operations()


def test_a_server_error_is_retried_after_the_backoff_and_then_stored(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["media"].append(http_status(500, "<html>Internal Server Error</html>"))

    first = run(fetch_runtime, twilio)
    too_soon = run(fetch_runtime, twilio)
    waiting = row(fetch_runtime, recording_id)
    advance_to_next_try(fetch_runtime, 1)
    later = run(fetch_runtime, twilio)

    assert first.retrying == [recording_id]
    assert (waiting.status, waiting.attempts) == (RecordingStatus.PENDING_FETCH, 1)
    assert waiting.error.startswith("HTTP 500")
    assert too_soon.claimed == 0
    assert later.stored == [recording_id] and later.deleted == [recording_id]
    assert twilio.operations() == ["fetch", "media", "fetch", "media", "delete"]
    assert row(fetch_runtime, recording_id).status is RecordingStatus.STORED


def test_a_timeout_at_twilio_is_retried_later(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["fetch"].append(requests.exceptions.ReadTimeout("read timed out"))

    report = run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert report.retrying == [recording_id]
    assert recording.status is RecordingStatus.PENDING_FETCH
    assert recording.error.startswith("timeout")


def test_a_recording_still_processing_at_twilio_is_not_downloaded_yet(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add(status="processing")

    report = run(fetch_runtime, twilio)

    assert report.retrying == [recording_id]
    assert row(fetch_runtime, recording_id).error == "not ready at provider (processing)"
    assert twilio.operations() == ["fetch"]


def test_transient_failures_give_up_after_the_last_attempt(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["fetch"].extend(http_status(503) for _ in range(MAX_ATTEMPTS + 1))

    run(fetch_runtime, twilio)
    for attempts in range(1, MAX_ATTEMPTS):
        advance_to_next_try(fetch_runtime, attempts)
        run(fetch_runtime, twilio)
    fetch_runtime.clock.advance(dt.timedelta(days=30))
    after = run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert recording.status is RecordingStatus.FAILED
    assert recording.error.startswith(f"gave up after {MAX_ATTEMPTS} attempts: HTTP 503")
    assert twilio.operations() == ["fetch"] * MAX_ATTEMPTS
    assert after.claimed == 0


def test_audio_that_cannot_be_decoded_fails_and_stays_at_twilio(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add(audio=b"<html>not audio</html>")

    report = run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert report.failed == [recording_id]
    assert recording.status is RecordingStatus.FAILED
    assert recording.error.startswith("audio unreadable")
    assert SID in twilio.status


def test_a_failed_delete_keeps_the_file_and_only_the_delete_is_retried_on_a_later_run(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["delete"].append(http_status(500))

    first = run(fetch_runtime, twilio)
    kept = row(fetch_runtime, recording_id)
    advance_to_next_try(fetch_runtime, 1)
    later = run(fetch_runtime, twilio)

    assert first.stored == [recording_id] and first.delete_retrying == [recording_id]
    assert kept.status is RecordingStatus.STORED
    assert (fetch_runtime.settings.data_dir / kept.path).is_file()
    assert kept.error.startswith(f"{DELETE_PENDING}: HTTP 500")
    assert later.deleted == [recording_id] and later.stored == []
    assert row(fetch_runtime, recording_id).error is None
    assert twilio.operations() == ["fetch", "media", "delete", "delete"]
    assert SID not in twilio.status


def test_a_delete_refused_for_good_is_left_to_a_person(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["delete"].append(twilio_error(403, 20403, "Permission denied"))

    report = run(fetch_runtime, twilio)
    fetch_runtime.clock.advance(dt.timedelta(days=30))
    run(fetch_runtime, twilio)

    recording = row(fetch_runtime, recording_id)
    assert report.delete_failed == [recording_id]
    assert recording.status is RecordingStatus.STORED
    assert recording.error.startswith(f"{DELETE_FAILED}: HTTP 403")
    assert twilio.operations().count("delete") == 1


def test_a_delete_answered_not_found_counts_as_deleted(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    twilio.fail["delete"].append(twilio_error(404, 20404, "not found"))

    report = run(fetch_runtime, twilio)

    assert report.deleted == [recording_id]
    assert row(fetch_runtime, recording_id).error is None


def test_without_ffmpeg_nothing_is_claimed_so_no_attempt_is_used_up(
    fetch_runtime: Runtime,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recording_id = pending_recording(fetch_runtime)
    twilio.add()
    monkeypatch.setattr(ivr.recording_fetch.shutil, "which", lambda tool: None)

    with caplog.at_level(logging.ERROR, "ivr.recording_fetch"):
        report = run(fetch_runtime, twilio)

    assert report.claimed == 0
    assert row(fetch_runtime, recording_id).attempts == 0
    assert twilio.calls == []
    assert "ffmpeg is not installed" in caplog.text


# --- the scheduler ---------------------------------------------------------------------------


def test_the_scheduler_fetches_recordings_every_30_seconds_when_twilio_is_configured(
    runtime: Runtime,
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"twilio_account_sid": ACCOUNT_SID, "twilio_auth_token": AUTH_TOKEN}
    )

    scheduler = build_scheduler(runtime, RecordingGateway(), background=True)

    job = scheduler.get_job("recordings")
    assert job is not None
    assert (
        job.trigger.interval == dt.timedelta(seconds=RECORDINGS_SECONDS) == dt.timedelta(seconds=30)
    )
    assert isinstance(job.args[1], TwilioRecordings)


def test_without_twilio_credentials_the_scheduler_says_once_that_fetching_is_off(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"twilio_account_sid": None, "twilio_auth_token": None}
    )

    with caplog.at_level(logging.INFO, "scheduler.process"):
        scheduler = build_scheduler(runtime, RecordingGateway(), background=True)

    assert scheduler.get_job("recordings") is None
    assert scheduler.get_job("dispatch") is not None
    assert caplog.text.count("Twilio recordings are not fetched") == 1


def test_a_recording_stays_at_twilio_while_its_call_lasts_so_it_can_be_played_back(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime, call_over=False)
    twilio.add()
    first = run(fetch_runtime, twilio)
    assert first.stored == [recording_id] and first.deleted == []
    with fetch_runtime.sessions() as session, session.begin():
        session.get(
            IvrCall, row(fetch_runtime, recording_id).call_id
        ).ended_at = fetch_runtime.clock.now()
    assert run(fetch_runtime, twilio).deleted == [recording_id]
    assert twilio.operations() == ["fetch", "media", "delete"]


def test_a_call_whose_end_never_came_releases_its_recording_after_an_hour(
    fetch_runtime: Runtime, twilio: FakeTwilio, ffmpeg: None
) -> None:
    recording_id = pending_recording(fetch_runtime, call_over=False)
    twilio.add()
    assert run(fetch_runtime, twilio).deleted == []
    fetch_runtime.clock.advance(KEEP_DURING_CALL)
    assert run(fetch_runtime, twilio).deleted == [recording_id]
