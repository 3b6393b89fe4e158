"""Callers' recordings at Twilio: fetch the audio into the data folder, then delete it at Twilio.

The voice webhook stores a `Recording` row (`pending_fetch`, RecordingSid in `provider_ref`) at
once; `fetch_pending`, run by the scheduler, does the rest, with no database session open during
network calls or conversion. A run has two steps, each claiming the rows that are due:

    fetch   pending_fetch -> stored, error "delete pending at provider"   (audio in our folder)
            pending_fetch -> pending_fetch, error = last reason   (not ready yet, 5xx, 429,
                                                                   401, network: retried later)
            pending_fetch -> failed, error "gave up after 8 attempts: ..."
            pending_fetch -> failed, error "gone at provider" (404, absent), "HTTP 403: ..."
                             (other refusals) or "audio unreadable: ..."; never retried
    delete  stored + "delete pending at provider..." -> stored, error None   (deleted, or 404)
            stored + "delete pending at provider..." -> stored + "delete pending at provider: ..."
            stored + "delete pending at provider..." -> stored + "delete failed at provider: ..."
                                                         (refused, or 8 attempts: a person acts)

The delete waits for the end of the call: until then the caller may ask to hear the recording
back (the review after each spoken answer, ivr/flow.py), and Twilio's copy is what <Play> plays.
A call whose end never reached us (no status callback) releases it after KEEP_DURING_CALL.

`attempts` counts the tries of the step in progress: the fetch while `pending_fetch`, the delete
once stored (it restarts at 0 when the audio is stored). Try n (n = attempts so far) is due at
`created_at` (fetch) or `stored_at` (delete) + RETRY_OFFSETS[n]. The claim adds 1 to `attempts`
and commits before any network call, so the row is not due again for a while: that is the lease
that keeps two schedulers from fetching it at the same time, and a crash mid-try leaves a row
that is simply retried at its next offset.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient

from intake.clock import Clock
from ivr.audio import AudioError, AudioToolMissing, convert_recording
from ivr.models import IvrCall, Recording, RecordingStatus
from plumbing.settings import Settings
from plumbing.twilio_client import TWILIO_API, rest_client

log = logging.getLogger(__name__)

PROVIDER = "twilio"
RECORDINGS_FOLDER = "recordings"  # under settings.data_dir
# From created_at (fetch) or stored_at (delete); the length is the number of tries. The first
# gap is longer than one try can take (three calls of TIMEOUT each), or the lease would lapse.
RETRY_OFFSETS = tuple(
    dt.timedelta(minutes=minutes) for minutes in (0, 2, 10, 30, 60, 180, 480, 1440)
)
MAX_ATTEMPTS = len(RETRY_OFFSETS)
KEEP_DURING_CALL = dt.timedelta(hours=1)
TIMEOUT = 30.0

DELETE_PENDING = "delete pending at provider"
DELETE_FAILED = "delete failed at provider"
GONE = "gone at provider"
# Statuses of a Recording resource (twilio_api_v2010.json, recording_enum_status). The <Record>
# action callback can come before the audio is ready, so these mean "later", not "never".
NOT_READY = frozenset({"in-progress", "paused", "stopped", "processing"})


class ProviderError(Exception):
    """A try at Twilio failed; a later try may succeed."""

    retry = True


class Refused(ProviderError):
    """Twilio refused the request in a way no retry fixes."""

    retry = False


class Gone(Refused):
    """Twilio has no such recording (any more)."""


def _refusal(status: int, text: str) -> ProviderError:
    if status == 404:
        return Gone(GONE)
    if status == 401:
        log.error("recordings: Twilio refused our credentials; check TWILIO_AUTH_TOKEN")
        return ProviderError(f"HTTP 401: {text}")
    if 400 <= status < 500 and status != 429:
        return Refused(f"HTTP {status}: {text}")
    return ProviderError(f"HTTP {status}: {text}")


def _network(error: Exception) -> ProviderError:
    cause = error
    if isinstance(error, TwilioException) and not isinstance(error, TwilioRestException):
        cause = error.__cause__ or error.__context__ or error
    kind = "timeout" if isinstance(cause, requests.exceptions.Timeout) else "network"
    return ProviderError(f"{kind}: {type(cause).__name__}: {cause}")


class TwilioRecordings:
    """Recording resources of one Twilio account: their status, their audio, their deletion.

    `http_client` carries the REST calls (the `twilio` package); `media_session` the audio
    download, from `api_base` (Twilio itself unless a test points it at a fake)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        http_client: HttpClient | None = None,
        media_session: requests.Session | None = None,
        api_base: str = TWILIO_API,
        timeout: float = TIMEOUT,
    ) -> None:
        self.account_sid = account_sid
        self._auth = (account_sid, auth_token)
        self._client = rest_client(account_sid, auth_token, http_client, timeout)
        self._media = media_session or requests.Session()
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def status(self, sid: str) -> str:
        """The resource's status: processing, completed, absent ... (GET Recordings/{Sid}.json)."""
        try:
            return str(self._client.api.v2010.account.recordings(sid).fetch().status)
        except (TwilioRestException, TwilioServiceException) as error:
            raise _refusal(int(error.status), _message(error)) from error
        except (requests.exceptions.RequestException, TwilioException) as error:
            raise _network(error) from error

    def media_url(self, sid: str) -> str:
        # Twilio's spec describes only the .json resource; its `media_url` is the same path
        # without extension, which Twilio serves as WAV (8 kHz mono PCM for calls), or as MP3
        # with .mp3. We take the lossless WAV and build the URL ourselves so that our
        # credentials go to api.twilio.com over HTTPS only (the spec's own example media_url
        # is http://; a webhook's RecordingUrl is not trusted with them either).
        return f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}.wav"

    def media(self, sid: str) -> bytes:
        """The recording's audio as WAV bytes."""
        # Not through the twilio HttpClient: its Response keeps only `requests`' decoded text,
        # which mangles binary audio.
        try:
            response = self._media.get(self.media_url(sid), auth=self._auth, timeout=self.timeout)
        except requests.exceptions.RequestException as error:
            raise _network(error) from error
        if response.status_code != 200:
            raise _refusal(response.status_code, response.text[:200])
        if not response.content:
            raise ProviderError("empty audio")
        return response.content

    def delete(self, sid: str) -> None:
        """Delete the recording (audio and resource) at Twilio; a 404 raises Gone."""
        try:
            self._client.api.v2010.account.recordings(sid).delete()
        except (TwilioRestException, TwilioServiceException) as error:
            raise _refusal(int(error.status), _message(error)) from error
        except (requests.exceptions.RequestException, TwilioException) as error:
            raise _network(error) from error


def _message(error: TwilioRestException | TwilioServiceException) -> str:
    if isinstance(error, TwilioServiceException):
        return f"{error.title}: {error.detail}" if error.detail else str(error.title)
    return str(error.msg)


def recordings_from_settings(settings: Settings) -> TwilioRecordings | None:
    """The Twilio recordings client, or None when the Twilio credentials are not set."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    return TwilioRecordings(settings.twilio_account_sid, settings.twilio_auth_token)


@dataclass
class FetchReport:
    stored: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    delete_retrying: list[int] = field(default_factory=list)
    delete_failed: list[int] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return sum(
            len(ids)
            for ids in (
                self.stored,
                self.retrying,
                self.failed,
                self.deleted,
                self.delete_retrying,
                self.delete_failed,
            )
        )

    def summary(self) -> str:
        return (
            f"{len(self.stored)} stored, {len(self.retrying)} to retry, {len(self.failed)} failed; "
            f"at Twilio {len(self.deleted)} deleted, {len(self.delete_retrying)} to retry, "
            f"{len(self.delete_failed)} not deleted"
        )


@dataclass(frozen=True)
class _Claim:
    id: int
    sid: str
    attempts: int  # after the claim


def _due(since: ColumnElement[dt.datetime], now: dt.datetime) -> ColumnElement[bool]:
    # One clause per attempt count keeps the date arithmetic in Python, the same on every backend.
    return or_(
        *(
            and_(Recording.attempts == tries, since <= now - offset)
            for tries, offset in enumerate(RETRY_OFFSETS)
        )
    )


def _call_over() -> ColumnElement[bool]:
    return exists().where(IvrCall.id == Recording.call_id, IvrCall.ended_at.is_not(None))


def _claim(session: Session, where: list[ColumnElement[bool]], limit: int) -> list[_Claim]:
    query = (
        select(Recording)
        .where(Recording.provider == PROVIDER, *where)
        .order_by(Recording.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(query))
    for row in rows:
        row.attempts += 1
    return [_Claim(row.id, row.provider_ref, row.attempts) for row in rows]


def fetch_pending(
    sessions: sessionmaker[Session],
    recordings_client: TwilioRecordings,
    settings: Settings,
    clock: Clock,
    *,
    limit: int = 20,
) -> FetchReport:
    """Fetch the due recordings into `<data_dir>/recordings/<id>.mp3`, then delete them at
    Twilio; see the module docstring for the states."""
    report = FetchReport()
    folder = Path(settings.data_dir) / RECORDINGS_FOLDER
    if shutil.which("ffmpeg") is None:
        # Checked before claiming, so a missing tool does not use up the rows' attempts.
        log.error("recordings: ffmpeg is not installed; Twilio recordings are not fetched")
    else:
        now = clock.now()
        with sessions() as session, session.begin():
            where = [
                Recording.status == RecordingStatus.PENDING_FETCH,
                _due(Recording.created_at, now),
            ]
            claims = _claim(session, where, limit)
        for claim in claims:
            _fetch_one(sessions, recordings_client, folder, clock, claim, report)
    now = clock.now()
    with sessions() as session, session.begin():
        where = [
            Recording.status == RecordingStatus.STORED,
            Recording.error.startswith(DELETE_PENDING, autoescape=True),
            _due(Recording.stored_at, now),
            or_(_call_over(), Recording.created_at <= now - KEEP_DURING_CALL),
        ]
        claims = _claim(session, where, limit)
    for claim in claims:
        _delete_one(sessions, recordings_client, clock, claim, report)
    return report


def _download(recordings_client: TwilioRecordings, sid: str) -> bytes:
    status = recordings_client.status(sid)
    if status in NOT_READY:
        raise ProviderError(f"not ready at provider ({status})")
    if status != "completed":  # absent (nothing was recorded) or deleted
        raise Gone(f"{GONE} ({status})")
    return recordings_client.media(sid)


def _fetch_one(
    sessions: sessionmaker[Session],
    recordings_client: TwilioRecordings,
    folder: Path,
    clock: Clock,
    claim: _Claim,
    report: FetchReport,
) -> None:
    target = folder / f"{claim.id}.mp3"
    try:
        audio = _download(recordings_client, claim.sid)
        folder.mkdir(parents=True, exist_ok=True)
        # The WAV is personal data too: it stays on the data volume, and only while converted.
        with tempfile.TemporaryDirectory(dir=folder, prefix=".fetch-") as scratch:
            wav = Path(scratch) / "twilio.wav"
            wav.write_bytes(audio)
            converted = Path(scratch) / target.name
            seconds = convert_recording(wav, converted)
            # The MP3 moves into place only while the row is still ours and locked by the
            # update: if retention purged it meanwhile, the audio goes with the scratch folder
            # instead of staying behind as a file no row knows about.
            stored = _update_if_still_claimed(
                sessions,
                claim,
                RecordingStatus.PENDING_FETCH,
                then=lambda: os.replace(converted, target),
                status=RecordingStatus.STORED,
                path=f"{RECORDINGS_FOLDER}/{target.name}",
                seconds=round(seconds, 3),
                stored_at=clock.now(),
                attempts=0,
                error=DELETE_PENDING,
            )
    except ProviderError as error:
        _fetch_failed(sessions, claim, str(error), error.retry, clock.now(), report)
        return
    except AudioToolMissing as error:
        _fetch_failed(sessions, claim, str(error), True, clock.now(), report)
        return
    except AudioError as error:
        _fetch_failed(sessions, claim, f"audio unreadable: {error}", False, clock.now(), report)
        return
    except OSError as error:  # disk full, permissions: an operator fixes it, the retry succeeds
        _fetch_failed(sessions, claim, f"cannot store: {error}", True, clock.now(), report)
        return
    if not stored:
        log.warning("recordings: %d changed while it was fetched; left as it is", claim.id)
        return
    report.stored.append(claim.id)
    log.info("recordings: %d stored (%.1f s) from %s", claim.id, seconds, claim.sid)


def _update_if_still_claimed(
    sessions: sessionmaker[Session],
    claim: _Claim,
    claimed_as: RecordingStatus,
    then: Callable[[], object] | None = None,
    **values: object,
) -> bool:
    """Write `values` only if the row is still `claimed_as` at the attempt we claimed it at (a
    retention run or another fetcher may have moved it meanwhile). True when it was written.
    `then` runs after a successful write, before the commit (the row is locked until then); if it
    raises, nothing is written."""
    with sessions() as session, session.begin():
        result = session.execute(
            update(Recording)
            .where(
                Recording.id == claim.id,
                Recording.status == claimed_as,
                Recording.attempts == claim.attempts,
            )
            .values(**values)
        )
        written = result.rowcount == 1
        if written and then is not None:
            then()
    return written


def _fetch_failed(
    sessions: sessionmaker[Session],
    claim: _Claim,
    reason: str,
    retry: bool,
    now: dt.datetime,
    report: FetchReport,
) -> None:
    values: dict[str, object] = {"error": reason}
    if not retry:
        values["status"] = RecordingStatus.FAILED
    elif claim.attempts >= MAX_ATTEMPTS:
        values.update(
            status=RecordingStatus.FAILED,
            error=f"gave up after {claim.attempts} attempts: {reason}",
        )
    if not _update_if_still_claimed(sessions, claim, RecordingStatus.PENDING_FETCH, **values):
        return
    if "status" in values:
        report.failed.append(claim.id)
        log.warning("recordings: %d (%s) failed for good: %s", claim.id, claim.sid, values["error"])
    else:
        report.retrying.append(claim.id)
        log.info("recordings: %d (%s) will be retried: %s", claim.id, claim.sid, reason)


def _delete_one(
    sessions: sessionmaker[Session],
    recordings_client: TwilioRecordings,
    clock: Clock,
    claim: _Claim,
    report: FetchReport,
) -> None:
    try:
        recordings_client.delete(claim.sid)
        error: str | None = None
    except Gone:  # already deleted (by an earlier try whose answer was lost, or by a person)
        error = None
    except ProviderError as failure:
        gave_up = not failure.retry or claim.attempts >= MAX_ATTEMPTS
        error = f"{DELETE_FAILED if gave_up else DELETE_PENDING}: {failure}"
    if not _update_if_still_claimed(sessions, claim, RecordingStatus.STORED, error=error):
        return
    if error is None:
        report.deleted.append(claim.id)
        log.info("recordings: %d deleted at Twilio (%s)", claim.id, claim.sid)
    elif error.startswith(DELETE_PENDING):
        report.delete_retrying.append(claim.id)
        log.info("recordings: %d (%s) %s", claim.id, claim.sid, error)
    else:
        report.delete_failed.append(claim.id)
        log.error(
            "recordings: %d (%s) stays at Twilio, delete it by hand: %s", claim.id, claim.sid, error
        )
