"""The AGI protocol over one FastAGI connection: headers in, commands out, replies parsed.

Asterisk opens a TCP connection per call, sends `agi_*: value` header lines ending with a blank
line, then answers each command with `200 result=<n> [(<data>)] [endpos=<n>]`. When the caller
hangs up it may send a bare `HANGUP` line, and commands on a dead channel get
`511 result=-1 ...`. Every read has a timeout, so a silent or slow peer cannot hold the server.

Asterisk drops a key (DTMF) that arrives while no AGI command is listening for one: between two
commands it reads the channel's frames and throws them away (res_agi.c, run_agi). So a prompt
that takes keys is one `EXEC Read` (app_read: it plays `&`-joined files and collects the whole
number, `#`-terminated, in one command); the channel measures the gaps between the end of one
command that plays or listens and the start of the next (`deaf_gaps`): the time a caller who
types ahead would lose keys in.

Read rather than one WAV composed from the pieces: Read also collects the rest of a number in
the same command (a composed file still needs a WAIT FOR DIGIT per key, with a gap before
each), ends it with `#`, plays a caller's recording by its own path, and returns -1 on a
hang-up like STREAM FILE; it needs no folder shared for writing and no cache of composed files.
Its cost: app_read waits 50 ms for a key after each file but the last (Asterisk's
main/app.c, the getdata loop over `&`), so the words of a read-back are 50 ms further apart;
and a missing file is skipped with only a line in Asterisk's log (STREAM FILE answered -1).
Text nobody recorded still needs a written file (ivr/asterisk/speech_files.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

# DEBUG shows the whole AGI conversation ("agi> command", "agi< reply"): how the replay
# transcripts under tests/ivr/asterisk/transcripts were recorded from a real Asterisk.
log = logging.getLogger(__name__)

_REPLY = re.compile(r"^(\d{3})[ -]result=(-?\d+)(?: \(([^)]*)\))?(?: endpos=(\d+))?")
DIGITS = "0123456789*#"
KEYS_VARIABLE = "TONGDAI_KEYS"  # where Read leaves the keys it collected
# Commands during which Asterisk plays to the caller or listens for keys; between two of them
# the caller hears nothing and a key is lost.
_AUDIO_COMMANDS = ("EXEC Read ", "EXEC Playback ", "STREAM FILE ", "WAIT FOR DIGIT ",
                   "RECORD FILE ")  # fmt: skip


class AgiError(Exception):
    """The AGI conversation cannot go on."""


class AgiHangup(AgiError):
    """The caller hung up (HANGUP line, result -1 on a channel command, 511, closed socket)."""


class AgiTimeout(AgiError):
    """Asterisk did not answer in time."""


class AgiProtocolError(AgiError):
    """Asterisk answered something we do not understand (520 usage errors, garbage)."""


@dataclass(frozen=True)
class Reply:
    code: int
    result: int
    data: str = ""
    endpos: int | None = None

    @property
    def digit(self) -> str:
        """The key pressed (result is its ASCII code), or "" for none."""
        return chr(self.result) if self.result > 0 and chr(self.result) in DIGITS else ""


async def read_headers(
    reader: asyncio.StreamReader, timeout: float, max_bytes: int = 16384
) -> dict[str, str]:
    """The header block, which must arrive whole within `timeout` seconds and `max_bytes` bytes:
    a peer trickling one line at a time, or sending one endless line, is dropped."""
    deadline = asyncio.get_running_loop().time() + timeout
    headers: dict[str, str] = {}
    received = 0
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AgiTimeout(f"AGI headers not complete within {timeout:g} s")
        try:
            line = await _read_line(reader, left)
        except AgiTimeout as exc:
            raise AgiTimeout(f"AGI headers not complete within {timeout:g} s") from exc
        received += len(line) + 1
        if received > max_bytes:
            raise AgiProtocolError(f"AGI headers longer than {max_bytes} bytes")
        if line == "":
            return headers
        key, _, value = line.partition(":")
        headers[key.strip()] = value.strip()
        log.debug("agi< %s", line)
        if len(headers) > 100:
            raise AgiProtocolError("too many AGI headers")


async def _read_line(reader: asyncio.StreamReader, timeout: float) -> str:
    try:
        raw = await asyncio.wait_for(reader.readline(), timeout)
    except TimeoutError as exc:
        raise AgiTimeout(f"no data from Asterisk within {timeout:.0f} s") from exc
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise AgiHangup("connection lost") from exc
    except ValueError as exc:  # longer than the reader's limit, with no newline in it
        raise AgiProtocolError("AGI line too long") from exc
    if not raw:
        raise AgiHangup("connection closed")
    if len(raw) > 8192:
        raise AgiProtocolError("AGI line too long")
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def _playing_time(files: list[str]) -> float:
    """A generous bound on how long `files` take to play (a prompt is seconds, a word less than
    one): beyond it plus the command timeout, Asterisk is taken for gone."""
    return 30.0 + 5.0 * len(files)


class AgiChannel:
    """Commands for one call. Methods raise AgiHangup when the caller is gone."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 *, timeout: float = 10.0) -> None:  # fmt: skip
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self.hung_up = False
        self.commands = 0
        # Seconds from the reply to one audio command to the sending of the next one.
        self.deaf_gaps: list[float] = []
        self._silent_since: float | None = None

    async def command(self, text: str, *, expect_seconds: float = 0.0) -> Reply:
        """Send one command; wait for its reply (plus the time the operation itself takes)."""
        if self.hung_up:
            raise AgiHangup("channel already hung up")
        audio = text.startswith(_AUDIO_COMMANDS)
        if audio and self._silent_since is not None:
            self.deaf_gaps.append(time.perf_counter() - self._silent_since)
            self._silent_since = None
        try:
            self.writer.write(text.encode("utf-8") + b"\n")
            await self.writer.drain()
        except ConnectionError as exc:
            raise AgiHangup("connection lost") from exc
        self.commands += 1
        log.debug("agi> %s", text)
        while True:
            line = await _read_line(self.reader, self.timeout + expect_seconds)
            log.debug("agi< %s", line)
            if line.startswith("HANGUP"):
                # Asterisk tells a FastAGI script the channel hung up; the reply still follows.
                self.hung_up = True
                continue
            break
        if audio:
            self._silent_since = time.perf_counter()
        if line.startswith("511"):
            # Asterisk 22 sends "511 Command Not Permitted on a dead channel or intercept
            # routine", without a result= field.
            self.hung_up = True
            raise AgiHangup(f"{text.split()[0]}: channel is gone")
        match = _REPLY.match(line)
        if line.startswith("520"):
            await self._skip_usage(line)
            raise AgiProtocolError(f"Asterisk refused {text.split()[0]!r}: {line}")
        if match is None:
            raise AgiProtocolError(f"unexpected AGI reply {line!r} to {text!r}")
        reply = Reply(int(match[1]), int(match[2]), match[3] or "",
                      int(match[4]) if match[4] else None)  # fmt: skip
        # result=-1 alone is ambiguous: STREAM FILE answers it for a missing sound file too
        # (res_agi.c), so only an explicit hang-up counts here; callers judge the rest.
        if reply.data == "hangup":
            self.hung_up = True
            raise AgiHangup(f"{text.split()[0]}: channel is gone")
        if reply.code != 200:
            raise AgiProtocolError(f"AGI reply {line!r} to {text!r}")
        return reply

    async def _skip_usage(self, first: str) -> None:
        line = first
        while line.startswith("520-"):
            line = await _read_line(self.reader, self.timeout)

    async def stream_file(self, name: str, escape: str = "", seconds: float = 30.0) -> Reply:
        return await self.command(f'STREAM FILE {name} "{escape}"', expect_seconds=seconds)

    async def read_keys(self, files: list[str], *, max_digits: int, timeout: float) -> str:
        """Play `files` one after the other and collect keys in the same command: the first key
        stops the playing; up to `max_digits` keys, ended early by `#` or by `timeout` seconds
        of silence. Returns the keys (without the `#`; a lone `#` is returned as "#"), or "" for
        silence."""
        names = "&".join(files)
        reply = await self.command(
            f'EXEC Read "{KEYS_VARIABLE},{names},{max_digits},,1,{timeout:g}"',
            expect_seconds=_playing_time(files) + timeout * (max_digits + 1),
        )
        if reply.result == -1:  # Read returns -1 only when the caller hung up
            self.hung_up = True
            raise AgiHangup("Read: channel is gone")
        if reply.result == -2:
            raise AgiProtocolError("Asterisk has no Read application (load app_read.so)")
        return await self.get_variable(KEYS_VARIABLE)

    async def playback(self, files: list[str]) -> None:
        """Play `files` one after the other, listening for nothing (what precedes a recording,
        a transfer or the goodbye)."""
        if not files:
            return
        reply = await self.command(f'EXEC Playback "{"&".join(files)}"',
                                   expect_seconds=_playing_time(files))  # fmt: skip
        if reply.result == -1:
            self.hung_up = True
            raise AgiHangup("Playback: channel is gone")
        if reply.result == -2:
            raise AgiProtocolError("Asterisk has no Playback application (load app_playback.so)")

    async def get_variable(self, name: str) -> str:
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == 1 else ""

    async def wait_for_digit(self, timeout_ms: int) -> str:
        reply = await self.command(f"WAIT FOR DIGIT {timeout_ms}",
                                   expect_seconds=timeout_ms / 1000)  # fmt: skip
        if reply.result == -1:  # the only failure WAIT FOR DIGIT has is a dead channel
            self.hung_up = True
            raise AgiHangup("WAIT FOR DIGIT: channel is gone")
        return reply.digit

    async def record_file(self, path: str, *, max_seconds: int, silence: int = 4) -> Reply:
        # `#` ends the recording; BEEP first; stop after `silence` seconds of silence.
        # A hang-up during the beep comes back as "(randomerror)", during the recording as
        # "(hangup)" or "(waitfor)" (res_agi.c); the next command then gets 511.
        return await self.command(
            f'RECORD FILE {path} wav "#" {max_seconds * 1000} BEEP s={silence}',
            expect_seconds=max_seconds + 5,
        )

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(f'SET VARIABLE {name} "{value}"')

    async def verbose(self, message: str) -> None:
        await self.command(f'VERBOSE "{message}" 3')
