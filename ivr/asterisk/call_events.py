"""Keeps the call log from AMI events, and the AMI heartbeat /healthz reports.

Events are written by one worker in arrival order (a Hangup must never be applied before its
Newchannel), each write in a worker thread so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket

from sqlalchemy import select

from ivr.asterisk.ami import AmiAddress, AmiClient, Message
from ivr.models import CallLog
from tongdai.heartbeat import beat
from tongdai.runtime import Runtime

log = logging.getLogger(__name__)
LOGGED_EVENTS = frozenset({"Newchannel", "Hangup", "DTMFEnd"})
HEARTBEAT_SECONDS = 10.0


class CallEventLogger:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
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
        if not uniqueid:
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


class AmiService:
    """The AMI connection of the AGI process: call log, heartbeat, and originate."""

    def __init__(self, runtime: Runtime, url: str) -> None:
        self.runtime = runtime
        self.client = AmiClient(AmiAddress.parse(url))
        self.logger = CallEventLogger(runtime)
        self.client.on_event(self.logger.handle)
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.client.run_forever(), name="ami"),
            asyncio.create_task(self.logger.run(), name="ami-log"),
            asyncio.create_task(self._heartbeat(), name="ami-heartbeat"),
        ]

    async def _heartbeat(self) -> None:
        while True:
            state = {
                "connected": self.client.connected.is_set(),
                "connections": self.client.connections,
                "logged": self.logger.written,
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
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
