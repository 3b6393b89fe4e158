"""A small asyncio client for the Asterisk Manager Interface (AMI).

Why not the PyPI `asterisk-ami` package: against Asterisk 22 its reader
thread dies after a few seconds without events (later events are lost silently), an exception in
a callback kills the reader, callbacks run on the reader thread so waiting for a response inside
one deadlocks, and timeouts return None instead of raising (see README, "Asterisk"). This client
is a few hundred lines with none of that:
- one reader task; event handlers run as their own tasks, and their errors are logged, never
  fatal to the reader;
- responses are matched by ActionID to futures, with timeouts that raise;
- a Ping every `keepalive` seconds detects a half-dead TCP connection;
- on any loss it reconnects with exponential backoff (capped) and logs in again, forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)
Message = dict[str, str]
Handler = Callable[[Message], Awaitable[None] | None]


class AmiError(Exception):
    """The manager refused an action or the connection failed."""


class AmiTimeout(AmiError):
    pass


@dataclass(frozen=True)
class AmiAddress:
    host: str
    port: int
    username: str
    secret: str

    @classmethod
    def parse(cls, url: str) -> AmiAddress:
        """`ami://user:secret@host:5038`."""
        parts = urlsplit(url)
        if parts.scheme != "ami" or not parts.hostname or not parts.username:
            raise ValueError("TONGDAI_AMI_URL must look like ami://user:secret@host:5038")
        return cls(
            parts.hostname,
            parts.port or 5038,
            unquote(parts.username),
            unquote(parts.password or ""),
        )


def encode(fields: Message) -> bytes:
    return "".join(f"{key}: {value}\r\n" for key, value in fields.items()).encode() + b"\r\n"


async def read_message(reader: asyncio.StreamReader) -> Message:
    """One AMI message: `Key: Value` lines up to a blank line."""
    message: Message = {}
    while True:
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("AMI connection closed")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if message:
                return message
            continue
        key, _, value = line.partition(":")
        if key in message:  # repeated keys (Output:, ChanVariable:) are joined
            message[key] += "\n" + value.strip()
        else:
            message[key] = value.strip()


class AmiClient:
    def __init__(
        self,
        address: AmiAddress,
        *,
        keepalive: float = 20.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        action_timeout: float = 10.0,
    ) -> None:
        self.address = address
        self.keepalive = keepalive
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.action_timeout = action_timeout
        self.connected = asyncio.Event()
        self.connections = 0  # successful log-ins so far (a reconnect makes it 2, ...)
        self._handlers: list[Handler] = []
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._ids = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task] = set()

    def on_event(self, handler: Handler) -> None:
        self._handlers.append(handler)

    # ---- the connection loop -----------------------------------------------------------------

    async def run_forever(self) -> None:
        delay = self.reconnect_min
        while not self._stopping:
            before = self.connections
            try:
                await self._session()
            except (OSError, ConnectionError, AmiError, asyncio.IncompleteReadError) as exc:
                if self.connections > before:
                    delay = self.reconnect_min  # it was up: start the backoff afresh
                if not self._stopping:
                    log.warning("ami: %s; reconnecting in %.1f s", exc, delay)
            finally:
                self._lost()
            if self._stopping:
                break
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.reconnect_max)

    async def _session(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.address.host, self.address.port), self.action_timeout
        )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._writer = writer
        try:
            banner = await asyncio.wait_for(reader.readline(), self.action_timeout)
            if not banner.startswith(b"Asterisk Call Manager"):
                raise AmiError(f"not an Asterisk manager: {banner[:40]!r}")
            reading = asyncio.create_task(self._read(reader))
            try:
                await self._login()
                self.connections += 1
                self.connected.set()
                log.info("ami: connected to %s:%d", self.address.host, self.address.port)
                await self._keep_alive(reading)
            finally:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reading
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            message = await read_message(reader)
            action_id = message.get("ActionID")
            if "Response" in message and action_id in self._pending:
                future = self._pending.pop(action_id)
                if not future.done():
                    future.set_result(message)
            elif "Event" in message:
                for handler in self._handlers:
                    self._spawn(handler, message)

    def _spawn(self, handler: Handler, message: Message) -> None:
        async def run() -> None:
            try:
                result = handler(message)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("ami: event handler failed on %s", message.get("Event"))

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep_alive(self, reading: asyncio.Task) -> None:
        while True:
            done, _ = await asyncio.wait({reading}, timeout=self.keepalive)
            if done:
                reading.result()  # raises what ended the reader
                raise ConnectionError("AMI reader stopped")
            await self.action("Ping")  # raises AmiTimeout on a half-dead connection

    async def _login(self) -> None:
        reply = await self.action(
            "Login", Username=self.address.username, Secret=self.address.secret, Events="on"
        )
        if reply.get("Response") != "Success":
            raise AmiError(f"AMI login refused: {reply.get('Message', 'no reason')}")

    def _lost(self) -> None:
        self.connected.clear()
        self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("AMI connection lost"))
        self._pending.clear()

    # ---- actions -----------------------------------------------------------------------------

    async def action(self, name: str, **fields: str) -> Message:
        if self._writer is None:
            raise AmiError("not connected to Asterisk")
        action_id = f"tongdai-{next(self._ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        self._writer.write(encode({"Action": name, "ActionID": action_id, **fields}))
        await self._writer.drain()
        try:
            return await asyncio.wait_for(future, self.action_timeout)
        except TimeoutError as exc:
            self._pending.pop(action_id, None)
            raise AmiTimeout(f"no answer to {name} within {self.action_timeout:.0f} s") from exc

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        priority: int = 1,
        caller_id: str = "",
        variables: dict[str, str] | None = None,
        timeout_ms: int = 30000,
        channel_id: str = "",
    ) -> Message:
        """Place a call (staff "call back", outbound notices). Async: returns once queued.
        `channel_id` becomes the channel's Uniqueid, which the OriginateResponse event carries."""
        fields = {
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": str(priority),
            "Timeout": str(timeout_ms),
            "Async": "true",
        }
        if caller_id:
            fields["CallerID"] = caller_id
        if channel_id:
            fields["ChannelId"] = channel_id
        if variables:
            fields["Variable"] = ",".join(f"{k}={v}" for k, v in variables.items())
        reply = await self.action("Originate", **fields)
        if reply.get("Response") != "Success":
            raise AmiError(f"Originate refused: {reply.get('Message', 'no reason')}")
        return reply

    async def stop(self) -> None:
        self._stopping = True
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.action("Logoff"), 2)
            writer.close()
