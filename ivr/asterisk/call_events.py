"""Keeps the call log from AMI events, the AMI heartbeat /healthz reports, and places the call
orders staff queue (ivr/call_orders.py).

Events are written by one worker in arrival order (a Hangup must never be applied before its
Newchannel), each write in a worker thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import socket

from sqlalchemy import select

from intake.runtime import Runtime
from ivr.asterisk.ami import AmiAddress, AmiClient, AmiError, AmiTimeout, Message
from ivr.call_orders import CallError, OriginateRequest, carry_out_due
from ivr.models import CallLog
from ivr.notice_calls import (
    NOTICE_CONTEXT,
    ORIGINATE_OUTCOMES,
    NoticeCallError,
    PlacedCall,
    place_due,
    record_outcome,
)
from plumbing.heartbeat import beat
from plumbing.leader import Leadership
from sms.models import NoticeCallOutcome

log = logging.getLogger(__name__)
LOGGED_EVENTS = frozenset({"Newchannel", "Hangup", "DTMFEnd"})
# Every AGI replica sees every AMI event; only the holder of this lock writes the call log, or
# each call would be logged (and each key counted) once per replica. "tongdai" + 1.
CALL_LOG_LOCK = 8664325
HEARTBEAT_SECONDS = 10.0
# The Uniqueid our notice-call Originates give their channel: <prefix><call id>-<attempt>.
NOTICE_CHANNEL_PREFIX = "tongdai-notice-"


class CallEventLogger:
    """Writes the call log, in the one AGI process holding CALL_LOG_LOCK (another takes over
    within one event of the holder's death; the events in between are not logged)."""

    def __init__(self, runtime: Runtime, leadership: Leadership | None = None) -> None:
        self.runtime = runtime
        self.leadership = leadership or Leadership(runtime.engine, CALL_LOG_LOCK, "ami call log")
        self.queue: asyncio.Queue[tuple[Message, dt.datetime]] = asyncio.Queue(maxsize=10000)
        self.written = 0

    def handle(self, message: Message) -> None:
        if message.get("Event") in LOGGED_EVENTS:
            try:
                # Stamped on arrival: the writer may run behind under load.
                self.queue.put_nowait((message, self.runtime.clock.now()))
            except asyncio.QueueFull:
                log.error("ami: call log queue full; dropping %s", message.get("Event"))

    async def run(self) -> None:
        while True:
            message, received = await self.queue.get()
            try:
                await asyncio.to_thread(self.write, message, received)
                self.written += 1
            except Exception:
                log.exception("ami: could not log %s", message.get("Event"))
            finally:
                self.queue.task_done()

    def write(self, message: Message, now: dt.datetime) -> None:
        uniqueid = message.get("Uniqueid", "")
        if not uniqueid or not self.leadership.is_leader():
            return
        with self.runtime.sessions() as session, session.begin():
            row = session.scalar(select(CallLog).where(CallLog.uniqueid == uniqueid))
            if row is None:
                row = CallLog(uniqueid=uniqueid, started_at=now)
                session.add(row)
            event = message["Event"]
            if event == "Newchannel":
                row.linkedid = message.get("Linkedid", "")
                row.channel = message.get("Channel", "")[:120]
                row.caller = message.get("CallerIDNum", "")[:40]
                row.exten = message.get("Exten", "")[:40]
                row.context = message.get("Context", "")[:80]
            elif event == "Hangup":
                row.ended_at = now
                row.duration_seconds = (now - row.started_at).total_seconds()
                cause = message.get("Cause", "")
                row.cause = int(cause) if cause.lstrip("-").isdigit() else None
                row.cause_txt = message.get("Cause-txt", "")[:80]
            elif event == "DTMFEnd" and message.get("Direction") == "Received":
                row.dtmf_count += 1


class CallOrderWorker:
    """Places due call orders through this process's AMI connection, every
    `[asterisk] callback_poll_seconds`.

    A batch runs in a worker thread (its database work must not block the event loop); the
    thread hands each Originate to the event loop that owns the connection and waits for
    Asterisk's answer, bounded by `timeout`. Several AGI processes may run one each: the claim
    skips rows another process holds.
    """

    def __init__(self, runtime: Runtime, client: AmiClient, *, timeout: float = 10.0) -> None:
        self.runtime = runtime
        self.client = client
        self.timeout = timeout
        self.placed = 0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.run_once(loop)
            except Exception:
                log.exception("ami: call orders not carried out this round")
            await asyncio.sleep(self.runtime.settings.asterisk.callback_poll_seconds)

    async def run_once(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        loop = loop or asyncio.get_running_loop()

        def originate(request: OriginateRequest) -> None:
            future = asyncio.run_coroutine_threadsafe(self.originate(request), loop)
            try:
                future.result(self.timeout + 5)  # self.originate is bounded by self.timeout
            except concurrent.futures.TimeoutError as exc:  # the event loop itself is stuck
                future.cancel()
                raise CallError("tổng đài Asterisk không trả lời kịp") from exc

        # Claimed orders wait their turn in the batch; the whole batch must end well inside
        # the stuck window, or another process would take an order not yet dialled for stuck.
        stuck = self.runtime.settings.asterisk.callback_stuck_seconds
        limit = max(1, int(stuck // (2 * (self.timeout + 5))))
        report = await asyncio.to_thread(
            carry_out_due,
            self.runtime.sessions,
            self.runtime.settings,
            self.runtime.clock.now,
            originate,
            limit=limit,
        )
        self.placed += len(report.done)
        if self.runtime.settings.notice_calls.enabled:
            await self.place_notice_calls(loop)

    async def place_notice_calls(self, loop: asyncio.AbstractEventLoop) -> None:
        """Due notice calls, on the lines free (ivr/notice_calls.py), each an Originate into
        `tongdai-notice`; how an unanswered one ended comes back as an OriginateResponse."""
        settings = self.runtime.settings

        def place(call: PlacedCall) -> str:
            channel_id = f"{NOTICE_CHANNEL_PREFIX}{call.call_id}-{call.attempt}"
            request = OriginateRequest(
                order_id=call.call_id,
                channel=settings.notice_calls.dial.format(number=call.national),
                context=NOTICE_CONTEXT,
                caller_id=call.caller_id,
                variables={"TONGDAI_NOTICE_CALL": str(call.call_id)},
            )
            ring_ms = settings.notice_calls.ring_seconds * 1000
            originate = self.originate(request, channel_id, ring_ms)
            future = asyncio.run_coroutine_threadsafe(originate, loop)
            try:
                future.result(self.timeout + 5)
            except concurrent.futures.TimeoutError as exc:
                future.cancel()
                raise NoticeCallError("tổng đài Asterisk không trả lời kịp") from exc
            except CallError as exc:
                raise NoticeCallError(str(exc)) from exc
            return channel_id

        report = await asyncio.to_thread(
            place_due, self.runtime.sessions, settings, self.runtime.calendar(),
            self.runtime.clock.now, place,
        )  # fmt: skip
        self.placed += len(report.placed)

    def notice_call_ended(self, message: Message) -> None:
        """An Originate of ours that never reached the AGI: busy, no answer or failed."""
        uniqueid = message.get("Uniqueid", "")
        if message.get("Event") != "OriginateResponse" or message.get("Response") == "Success":
            return
        if not uniqueid.startswith(NOTICE_CHANNEL_PREFIX):
            return
        call_id, _, attempt = uniqueid.removeprefix(NOTICE_CHANNEL_PREFIX).partition("-")
        if not (call_id.isdigit() and attempt.isdigit()):
            return
        outcome = ORIGINATE_OUTCOMES.get(message.get("Reason", ""), NoticeCallOutcome.FAILED)
        runtime = self.runtime
        with runtime.sessions() as session, session.begin():
            record_outcome(session, runtime.settings, runtime.calendar(), int(call_id), outcome,
                           runtime.clock.now(), attempt=int(attempt),
                           detail=f"Asterisk: {message.get('Reason', '?')}")  # fmt: skip

    async def originate(
        self, request: OriginateRequest, channel_id: str = "", ring_ms: int = 30000
    ) -> None:
        """Raises CallError with a reason staff can read (shown on the dossier page)."""
        if not self.client.connected.is_set():
            # Not waited for: the order is retried later, perhaps by another AGI process.
            raise CallError("chưa kết nối được tới tổng đài Asterisk")
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.originate(
                    request.channel,
                    context=request.context,
                    exten="s",
                    caller_id=request.caller_id,
                    variables=request.variables,
                    channel_id=channel_id,
                    timeout_ms=ring_ms,
                )
        except (TimeoutError, AmiTimeout) as exc:
            raise CallError(
                f"tổng đài Asterisk không trả lời trong {self.timeout:.0f} giây"
            ) from exc
        except AmiError as exc:
            raise CallError(f"tổng đài Asterisk từ chối cuộc gọi ({exc})") from exc
        except (ConnectionError, OSError) as exc:
            raise CallError(f"mất kết nối tới tổng đài Asterisk ({exc})") from exc


class AmiService:
    """The AMI connection of the AGI process: call log, heartbeat, and originate."""

    def __init__(self, runtime: Runtime, url: str) -> None:
        self.runtime = runtime
        self.client = AmiClient(AmiAddress.parse(url))
        self.logger = CallEventLogger(runtime)
        self.client.on_event(self.logger.handle)
        self.orders = CallOrderWorker(runtime, self.client)
        self.client.on_event(self._notice_event)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.client.run_forever(), name="ami"),
            asyncio.create_task(self.logger.run(), name="ami-log"),
            asyncio.create_task(self._heartbeat(), name="ami-heartbeat"),
            asyncio.create_task(self.orders.run(), name="ami-call-orders"),
        ]

    async def _notice_event(self, message: Message) -> None:
        if message.get("Event") == "OriginateResponse":
            await asyncio.to_thread(self.orders.notice_call_ended, message)

    async def _heartbeat(self) -> None:
        while True:
            state = {
                "connected": self.client.connected.is_set(),
                "connections": self.client.connections,
                "logged": self.logger.written,
                "call_orders_placed": self.orders.placed,
            }
            try:
                await asyncio.to_thread(self._beat, state)
            except Exception:
                log.exception("ami: heartbeat not written")
            await asyncio.sleep(HEARTBEAT_SECONDS)

    def _beat(self, state: dict) -> None:
        with self.runtime.sessions() as session, session.begin():
            beat(session, "ami", self.holder, state, self.runtime.clock.now())

    async def stop(self) -> None:
        await self.client.stop()
        # The call log's lock goes to another replica now, not when this process exits.
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.logger.leadership.release)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
