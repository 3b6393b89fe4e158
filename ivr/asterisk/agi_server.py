"""The FastAGI server (`tongdai agi`, port 4573, path /intake): the flow over Asterisk.

One asyncio task per call. The flow engine and the database run in worker threads (the call
service is synchronous SQLAlchemy); the event loop only waits on sockets, so hundreds of calls
share one process and a slow or silent peer holds nothing but its own task.

Mapping of the engine's actions to AGI:
- Play with a question: ONE `EXEC Read` that plays every file of the question (read-backs word
  by word, pauses, the question) and collects the answer in the same command: the first key
  stops the playing, a number runs to `#`, its longest length or the silence timeout; then
  GET VARIABLE TONGDAI_KEYS. Asterisk drops a key that arrives while no command listens, so a
  question never plays as several commands (ivr/asterisk/agi.py).
- Play without a question (the greeting, a status read out): one `EXEC Playback`, which takes
  no keys (these cannot be skipped, as on Twilio), the files of consecutive ones together.
- RecordAnswer: the prompt as one `EXEC Playback`, then RECORD FILE with a beep, ended by `#` or
  silence.
- Connect: the words as one Playback, SET VARIABLE TONGDAI_NEXT=operator and
  TONGDAI_OPERATOR_NUMBER, then return to the dialplan, which dials and comes back with
  `?event=transfer_failed&status=${DIALSTATUS}` if nobody answers (BUSY is a busy operator;
  anything else, no answer).
- Hangup: the goodbye as one Playback, TONGDAI_NEXT=hangup, return.
A hang-up at any point ends the task; every answer given so far is already on the draft. At the
end of each call one log line gives its deaf time (the gaps between commands, p50/p95/max) and
the flow steps behind them: the time each waited for a thread, and the time it then ran.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import shutil
import threading
import time
import uuid
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from intake.runtime import Runtime
from ivr import engine
from ivr.asterisk.agi import (
    AgiChannel,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    read_headers,
)
from ivr.asterisk.notice_agi import NOTICE_PATH, run_notice_call
from ivr.call_service import CallService
from ivr.models import IvrCall
from ivr.prompts import part_keys
from ivr.speech import Playback
from plumbing.db import retry_if_disconnected

log = logging.getLogger(__name__)
R = TypeVar("R")
SAMPLES_PER_SECOND = 8000  # endpos counts 8 kHz samples for our WAV recordings


class _Connection:
    """What one FastAGI connection knows about its call (for the clean-up after a hang-up, and
    the figures logged then)."""

    call_id: int | None = None
    channel: AgiChannel | None = None

    def __init__(self) -> None:
        # Each flow step: seconds queued for a step thread, then seconds running in it (engine
        # and database, the wait for the GIL and a core included).
        self.queued_seconds: list[float] = []
        self.step_seconds: list[float] = []


@dataclass(frozen=True)
class _Taken:
    """A recording Asterisk has written (`name`.wav in its spool), not yet stored: the step
    that stores it also runs the flow with it (`AgiServer._handle_recording`)."""

    name: str
    endpos: int | None


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


class AgiServer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.service = CallService(runtime)
        self.settings = runtime.settings.asterisk
        self.active = 0
        self.served = 0
        # The flow steps' own threads, as many as the database pool keeps connections: each step
        # holds one connection from start to commit, so with fewer threads a burst of answers
        # queues while pooled connections sit idle, and with more the extra steps would open
        # and close an overflow connection each (a PostgreSQL backend started per step) or
        # wait for one inside the thread, where nobody sees it. More threads do not make the
        # Python of the steps faster either (one GIL): they only overlap the database round
        # trips. Not asyncio's default executor (min(32, cores + 4) threads: 6 on 2 cores),
        # which the AMI call log shares. The queue wait is logged per call apart from the run.
        self._steps = ThreadPoolExecutor(
            max_workers=_pool_size(runtime), thread_name_prefix="agi-step"
        )
        # One ffmpeg at a time, beside the flow steps' threads rather than among them.
        self._conversions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agi-mp3")

    async def start(self, host: str, port: int) -> asyncio.Server:
        server = await asyncio.start_server(self._connection, host, port, limit=16384)
        log.info("agi: listening on agi://%s:%d/intake", host, port)
        return server

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:  # fmt: skip
        self.active += 1
        this = _Connection()
        try:
            headers = await read_headers(
                reader, self.settings.header_timeout_seconds, self.settings.header_max_bytes
            )
            channel = AgiChannel(reader, writer, timeout=self.settings.command_timeout_seconds)
            this.channel = channel
            await self._run(channel, headers, this)
        except AgiHangup as exc:
            if this.call_id is None:
                # No call was opened: a port probe (the container health check connects and
                # closes every few seconds), not worth a line in the operator's log.
                log.debug("agi: connection closed before a call (%s)", exc)
            else:
                log.info("agi: call %s hung up (%s)", this.call_id, exc)
            await self._end(this, "hangup")
        except AgiError as exc:
            log.warning("agi: call %s stopped: %s", this.call_id or "?", exc)
            await self._end(this, "agi_error")
        except Exception:
            log.exception("agi: call %s failed", this.call_id or "?")
            await self._end(this, "server_error")
        finally:
            self.active -= 1
            self.served += 1
            self._report_deaf_time(this)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    def _report_deaf_time(self, this: _Connection) -> None:
        """One line per call: the gaps in which a key typed ahead would be lost (from the end
        of one command that plays or listens to the start of the next) and the flow steps
        behind them, queued for a thread apart from running. Operators read these lines;
        bench/agi_calls.py measures the same gaps from Asterisk's side and reads the steps."""
        gaps = this.channel.deaf_gaps if this.channel is not None else []
        if this.call_id is None or not gaps:
            return
        steps, queued = this.step_seconds, this.queued_seconds
        log.info(
            "agi: call %s deaf time: %d gaps, p50 %.1f ms, p95 %.1f ms, max %.1f ms; "
            "flow steps p95 %.1f ms, max %.1f ms; queued for a thread p95 %.1f ms, max %.1f ms",
            this.call_id, len(gaps), 1000 * percentile(gaps, 0.5), 1000 * percentile(gaps, 0.95),
            1000 * max(gaps), 1000 * percentile(steps, 0.95), 1000 * max(steps, default=0.0),
            1000 * percentile(queued, 0.95), 1000 * max(queued, default=0.0),
        )  # fmt: skip

    async def _in_step_thread(self, this: _Connection | None, work: Callable[..., R],
                              *args: object) -> R:  # fmt: skip
        """`work(*args)` on a step thread (with the caller's context variables, as
        `asyncio.to_thread`), its time queued and its time running noted on `this`."""
        submitted = time.perf_counter()
        started = finished = submitted

        def timed() -> R:
            nonlocal started, finished
            started = time.perf_counter()
            try:
                return work(*args)
            finally:
                finished = time.perf_counter()

        context = contextvars.copy_context()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._steps, context.run, timed)
        finally:
            if this is not None and finished > submitted:
                this.queued_seconds.append(started - submitted)
                this.step_seconds.append(finished - started)

    async def _end(self, this: _Connection, reason: str) -> None:
        if this.call_id is not None:
            await self._in_step_thread(None, self._ended, this.call_id, reason)

    async def _run(self, channel: AgiChannel, headers: dict[str, str], this: _Connection) -> None:
        request = urlsplit(headers.get("agi_request", ""))
        if request.path.strip("/") == NOTICE_PATH:  # a notice call the citizen answered
            await run_notice_call(channel, self.runtime, request.query)
            return
        if request.path.rstrip("/") not in ("/intake", "intake"):
            log.warning("agi: unknown script %r", request.path)
            await channel.set_variable("TONGDAI_NEXT", "hangup")
            return
        query = parse_qs(request.query)
        event_name = query.get("event", [""])[0]
        uniqueid = headers.get("agi_uniqueid", "") or uuid.uuid4().hex
        if len(uniqueid) > 64:  # Asterisk's are like 1764100000.12
            raise AgiProtocolError("agi_uniqueid longer than 64 characters")
        caller = headers.get("agi_callerid", "")
        if event_name == "transfer_failed":
            busy = query.get("status", [""])[0].upper() == "BUSY"
            first: engine.Event = engine.TransferFailed("busy" if busy else "no_answer")
        else:
            first = engine.Start()
        this.call_id, actions = await self._in_step_thread(
            this, self._open, uniqueid, caller, first
        )
        while True:
            event = await self._perform(channel, this, actions)
            if event is None:
                return
            if isinstance(event, _Taken):
                actions, recording_id = await self._in_step_thread(
                    this, self._handle_recording, this.call_id, event
                )
                if recording_id is not None:
                    # The MP3 for staff follows the next question: ffmpeg takes some hundred
                    # ms a recording, in which the caller would hear silence and a key typed
                    # would be lost.
                    self._conversions.submit(self._compress, recording_id)
            else:
                actions = await self._in_step_thread(this, self._handle, this.call_id, event)

    # ---- database work (in threads) --------------------------------------------------------

    @retry_if_disconnected
    def _open(self, uniqueid: str, caller: str, first: engine.Event):
        with self.runtime.sessions() as session, session.begin():
            call, _created = self.service.open_call(session, "asterisk", uniqueid, caller)
            return call.id, self.service.handle(session, call, first)

    @retry_if_disconnected
    def _handle(self, call_id: int, event: engine.Event) -> list[engine.Action]:
        with self.runtime.sessions() as session, session.begin():
            call = self.service.lock_call(session, call_id)
            return self.service.handle(session, call, event)

    @retry_if_disconnected
    def _ended(self, call_id: int, reason: str) -> None:
        with self.runtime.sessions() as session, session.begin():
            self.service.ended(session, session.get(IvrCall, call_id), reason)

    @retry_if_disconnected
    def _handle_recording(
        self, call_id: int, taken: _Taken
    ) -> tuple[list[engine.Action], int | None]:
        """The recording's row and the flow step it answers in one transaction, as a Twilio
        webhook does: one trip to a step thread and one commit, as after a key. (Two in a row
        made the commands after a recording the slowest on the FastAGI ladder.) Returns the
        step's actions and the new recording's id (None under a second: nothing recorded)."""
        seconds = self._seconds(taken.name, taken.endpos)
        kept = self._keep_recording(taken.name) if seconds >= 1 else None  # before the lock
        with self.runtime.sessions() as session, session.begin():
            call = self.service.lock_call(session, call_id)
            recording_id = None
            if seconds >= 1:
                recording_id = self.service.add_recording(
                    session, call, provider_ref=f"{self.settings.recording_dir}/{taken.name}.wav",
                    seconds=seconds, path=kept,
                ).id  # fmt: skip
            event = engine.Recorded(str(recording_id or ""), seconds)
            return self.service.handle(session, call, event), recording_id

    def _keep_recording(self, name: str) -> str | None:
        """Copy Asterisk's WAV into our data folder (milliseconds): the recording is ours and
        playable on the admin page from now on; `_compress` makes it an MP3 later."""
        source = self._local_recording(name)
        if source is None:
            return None
        folder = self.runtime.settings.data_dir / "recordings"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"asterisk-{name}.wav"
        shutil.copyfile(source, target)
        return str(target.relative_to(self.runtime.settings.data_dir))

    @retry_if_disconnected
    def _compress(self, recording_id: int) -> None:
        """Our WAV copy of a recording as MP3 (a tenth of the size), the row pointed at it, then
        the WAV removed. Any failure keeps the WAV, which plays as well; a process that stops
        first leaves the WAV too."""
        from ivr.audio import AudioError, convert_recording
        from ivr.models import Recording

        data_dir = self.runtime.settings.data_dir
        with self.runtime.sessions() as session:
            recording = session.get(Recording, recording_id)
            wav = recording.path if recording is not None else None
        if not wav or not wav.endswith(".wav") or not (data_dir / wav).is_file():
            return
        mp3 = str(Path(wav).with_suffix(".mp3"))
        try:
            convert_recording(data_dir / wav, data_dir / mp3)
        except (AudioError, OSError) as exc:
            log.warning("agi: could not convert %s (%s); keeping the WAV", wav, exc)
            return
        with self.runtime.sessions() as session, session.begin():
            recording = session.get(Recording, recording_id, with_for_update=True)
            if recording is None or recording.path != wav:  # deleted meanwhile (retention)
                (data_dir / mp3).unlink(missing_ok=True)
                return
            recording.path = mp3
        (data_dir / wav).unlink(missing_ok=True)

    def _local_recording(self, name: str) -> Path | None:
        folder = Path(self.settings.recording_dir_local or self.settings.recording_dir)
        path = folder / f"{name}.wav"
        return path if path.is_file() else None

    # ---- telephony ---------------------------------------------------------------------------

    async def _perform(self, channel: AgiChannel, this: _Connection,
                       actions: list[engine.Action]) -> engine.Event | _Taken | None:  # fmt: skip
        """Carry out one step's actions. A question is one Read, its read-backs included, so
        no key typed ahead falls between two commands. Words said without a question (the
        greeting, a status) cannot be skipped, as on Twilio: they are one Playback."""
        files: list[str] = []  # said without a question, not played yet
        for action in actions:
            if isinstance(action, engine.Play) and action.gather is None:
                files += self._files(action.parts)
            elif isinstance(action, engine.Play):
                await channel.playback(files)
                question = self._files(action.parts)
                return engine.Keys(await self._gather(channel, question, action.gather))
            elif isinstance(action, engine.RecordAnswer):
                await channel.playback(files + self._files(action.parts))
                return await self._record(channel, this, action)
            elif isinstance(action, engine.Connect):
                await channel.playback(files + self._files(action.parts))
                await channel.set_variable("TONGDAI_OPERATOR_NUMBER", action.number)
                await channel.set_variable("TONGDAI_NEXT", "operator")
                return None
            elif isinstance(action, engine.Hangup):
                await channel.playback(files + self._files(action.parts))
                await channel.set_variable("TONGDAI_NEXT", "hangup")
                return None
        await channel.playback(files)
        await channel.set_variable("TONGDAI_NEXT", "hangup")
        return None

    def _files(self, parts) -> list[str]:
        """The sound files of `parts`, as Asterisk names them: our prompts and number words
        under the sounds prefix; a caller's recording played back by its own path."""
        files: list[str] = []
        for part in parts:
            if isinstance(part, Playback):
                files += [part.location] if part.location else []
            else:
                files += [f"{self.settings.sounds_prefix}/{key}" for key in part_keys((part,))]
        return files

    async def _gather(self, channel: AgiChannel, files: list[str], gather: engine.Gather) -> str:
        """The prompt and the whole answer in one Read: a menu key, or a number ended by `#`,
        by its longest length, or by silence (what was typed so far, as Twilio does)."""
        return await channel.read_keys(files, max_digits=gather.max_digits,
                                       timeout=gather.timeout)  # fmt: skip

    async def _record(self, channel: AgiChannel, this: _Connection,
                      action: engine.RecordAnswer) -> engine.Event | _Taken:  # fmt: skip
        name = f"{this.call_id}-{uuid.uuid4().hex[:12]}"
        reply = await channel.record_file(f"{self.settings.recording_dir}/{name}",
                                          max_seconds=action.max_seconds)  # fmt: skip
        if reply.result == -1:
            log.warning("agi: recording failed (%s)", reply.data)
            return engine.Recorded("", 0.0)
        return _Taken(name, reply.endpos)

    def _seconds(self, name: str, endpos: int | None) -> float:
        source = self._local_recording(name)
        if source is not None:
            try:
                with wave.open(str(source)) as audio:
                    return audio.getnframes() / audio.getframerate()
            except (wave.Error, EOFError, OSError):
                pass
        return (endpos or 0) / SAMPLES_PER_SECOND


def _pool_size(runtime: Runtime) -> int:
    """How many connections the database pool keeps (SQLAlchemy's QueuePool: 10, plumbing/db.py);
    for a pool without a size (SQLite's), asyncio's default on two cores."""
    size = getattr(runtime.engine.pool, "size", None)
    return size() if callable(size) else 6


async def serve_asterisk_side(
    runtime: Runtime,
    host: str,
    port: int,
    stop: asyncio.Event,
    started: Callable[[], None] = lambda: None,
) -> None:
    """FastAGI, plus the AMI call log when TONGDAI_AMI_URL is set, until `stop` is set."""
    from ivr.asterisk.call_events import AmiService

    server = await AgiServer(runtime).start(host, port)
    ami = AmiService(runtime, runtime.settings.ami_url) if runtime.settings.ami_url else None
    if ami is not None:
        await ami.start()
    else:
        log.info("ami: off (TONGDAI_AMI_URL is not set)")
    started()
    try:
        async with server:
            await stop.wait()
    finally:
        if ami is not None:
            await ami.stop()


def serve_agi(runtime: Runtime, host: str, port: int) -> None:
    """Run the FastAGI server (and AMI) until interrupted."""

    async def main() -> None:
        await serve_asterisk_side(runtime, host, port, asyncio.Event())

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        log.info("agi: stopping")


class AgiThread:
    """The FastAGI server (and AMI) on its own event loop in a background thread."""

    def __init__(self, runtime: Runtime, host: str, port: int) -> None:
        self.runtime, self.host, self.port = runtime, host, port
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="fastagi", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await serve_asterisk_side(
                self.runtime, self.host, self.port, self._stop, started=self._ready.set
            )
        except OSError as exc:
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)
