"""Asterisk's side of one FastAGI call, scripted: headers, then an answer to every command.

The script is a queue of what the caller does:
- a key ("1", "#", ...): pressed during the next prompt that takes keys (`EXEC Read`, or a STREAM
  FILE with escape digits), or at WAIT FOR DIGIT; Read goes on taking keys as app_read does, up
  to its maximum or a `#` (left out of the keys, unless it is the only one);
- SILENCE: the Read (or one WAIT FOR DIGIT) times out;
- Speak(seconds) / MUTE: the next RECORD FILE records a tone that long / nothing;
- Meanwhile(action): `action()` runs before the next command is answered;
- Think(seconds): a paced caller waits this long before the next key or speech;
- when the queue runs out the caller hangs up (as a HANGUP line, a 511, or a closed socket).

Paced calls (benchmarks: `durations` set) take the time a real call takes: each STREAM FILE plays
for its file's length and is heard to the end, keys come at WAIT FOR DIGIT (or GET DATA) after
the caller's Think, silence lasts the command's timeout and a Speak lasts its seconds.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# What Asterisk 22 answers on a dead channel (seen against the real one: no result= field).
DEAD_CHANNEL = "511 Command Not Permitted on a dead channel or intercept routine"
SILENCE = "T"
MUTE = "M"


@dataclass(frozen=True)
class Speak:
    seconds: float


@dataclass(frozen=True)
class Think:
    """Paced calls only: the caller waits `seconds` before the next key or speech."""

    seconds: float


@dataclass(frozen=True)
class Meanwhile:
    """Something that happens in the world at this point of the script (not a caller action)."""

    action: Callable[[], object]


def keys(*inputs) -> list:
    """'90617#' -> ['9', '0', '6', '1', '7', '#']; other items are kept as they are."""
    queue: list = []
    for item in inputs:
        queue.extend(
            list(item) if isinstance(item, str) and item not in (SILENCE, MUTE) else [item]
        )
    return queue


@dataclass
class FakeAsterisk:
    port: int
    callerid: str = "0912345678"
    uniqueid: str = "1764100000.1"
    request: str = "agi://127.0.0.1/intake"
    script: list = field(default_factory=list)
    recording_dir: Path | None = None  # where RECORD FILE paths land on this machine
    hangup_style: str = "hangup-line"  # hangup-line, 511, close
    transcript: list[tuple[str, str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)  # by SET VARIABLE
    keys_read: dict[str, str] = field(default_factory=dict)  # by Read, for GET VARIABLE
    played: list[str] = field(default_factory=list)
    # Seconds between our answer (or the headers) and the server's next command: the time the
    # server itself took. Filled when `timed` is set (benchmarks).
    timed: bool = False
    latencies: list[float] = field(default_factory=list)
    # Paced calls: the seconds a STREAM FILE of this name plays (None: not paced).
    durations: Callable[[str], float] | None = None
    # (received, replied, command) per command, perf_counter seconds, when `timed` is set.
    timeline: list[tuple[float, float, str]] = field(default_factory=list)

    async def call(self) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        headers = {
            "agi_network": "yes", "agi_network_script": "intake", "agi_request": self.request,
            "agi_channel": "PJSIP/caller-00000001", "agi_language": "en", "agi_type": "PJSIP",
            "agi_uniqueid": self.uniqueid, "agi_callerid": self.callerid,
            "agi_calleridname": "unknown", "agi_context": "tongdai-inbound",
            "agi_extension": "1900", "agi_priority": "2", "agi_enhanced": "0.0",
        }  # fmt: skip
        writer.write("".join(f"{k}: {v}\n" for k, v in headers.items()).encode() + b"\n")
        await writer.drain()
        hung_up = False
        sent_at = time.perf_counter()
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 30)
                if not line:
                    break
                if self.timed:
                    self.latencies.append(time.perf_counter() - sent_at)
                command = line.decode().strip()
                if hung_up:
                    self._say(
                        writer,
                        command,
                        DEAD_CHANNEL,
                    )
                    continue
                received_at = time.perf_counter()
                if self.durations is not None:
                    reply = await self._paced_answer(command)
                else:
                    reply = self._answer(command)
                if reply is None:  # the script ran out: the caller hangs up now
                    if self.hangup_style == "close":
                        break
                    if self.hangup_style == "hangup-line":
                        writer.write(b"HANGUP\n")
                        self._say(writer, command, "200 result=-1 (hangup)")
                    else:
                        self._say(
                            writer,
                            command,
                            DEAD_CHANNEL,
                        )
                    hung_up = True
                    continue
                self._say(writer, command, reply)
                await writer.drain()
                sent_at = time.perf_counter()
                if self.timed:
                    self.timeline.append((received_at, sent_at, command))
        finally:
            writer.close()
        return self

    def _say(self, writer, command: str, reply: str) -> None:
        self.transcript.append((command, reply))
        writer.write(reply.encode() + b"\n")

    def _answer(self, command: str) -> str | None:
        while self.script and isinstance(self.script[0], Meanwhile):
            self.script.pop(0).action()
        if command.startswith("EXEC Read "):
            return self._read(command)
        if command.startswith("EXEC Playback "):
            files = re.match(r'EXEC Playback "([^"]*)"', command).group(1)
            self.played.extend(files.split("&"))
            return "200 result=0"
        if command.startswith("GET VARIABLE "):
            name = command.split()[2]
            known = {**self.variables, **self.keys_read}
            return f"200 result=1 ({known[name]})" if name in known else "200 result=0"
        if command.startswith("STREAM FILE"):
            name, escape = re.match(r'STREAM FILE (\S+) "([^"]*)"', command).groups()
            self.played.append(name)
            head = self.script[0] if self.script else None
            if escape and isinstance(head, str) and head not in (SILENCE, MUTE):
                self.script.pop(0)
                return f"200 result={ord(head)} endpos=4000"
            return "200 result=0 endpos=8000"
        if command.startswith("WAIT FOR DIGIT"):
            if not self.script or not isinstance(self.script[0], str):
                return None
            head = self.script.pop(0)
            return (
                "200 result=0 (timeout)" if head in (SILENCE, MUTE) else f"200 result={ord(head)}"
            )
        if command.startswith("RECORD FILE"):
            path = command.split()[2]
            if not self.script:
                return None
            head = self.script.pop(0)
            if not isinstance(head, Speak):
                return "200 result=0 (timeout) endpos=0"
            self._write_tone(Path(path).name, head.seconds)
            return f"200 result=35 (dtmf) endpos={int(head.seconds * 8000)}"
        if command.startswith("SET VARIABLE"):
            name, value = re.match(r'SET VARIABLE (\S+) "([^"]*)"', command).groups()
            self.variables[name] = value
            return "200 result=1"
        return "200 result=0"

    def _read(self, command: str) -> str | None:
        """Read(variable,file&file...,maxdigits,options,attempts,timeout)."""
        arguments = re.match(r'EXEC Read "([^"]*)"', command).group(1).split(",")
        variable, max_digits = arguments[0], int(arguments[2] or 0)
        files = [name for name in arguments[1].split("&") if name]
        if not self.script or not isinstance(self.script[0], str):
            self.played.extend(files)
            return None  # the caller hangs up while the prompt plays
        # A key stops the playing during the first file; silence hears them all.
        self.played.extend(files if self.script[0] in (SILENCE, MUTE) else files[:1])
        typed = ""
        while self.script and isinstance(self.script[0], str):
            head = self.script.pop(0)
            if head in (SILENCE, MUTE):
                break
            if head == "#":
                typed = typed or "#"
                break
            typed += head
            if max_digits and len(typed) >= max_digits:
                break
        self.keys_read[variable] = typed
        return "200 result=0"

    def _write_tone(self, name: str, seconds: float) -> None:
        if self.recording_dir is None:
            return
        import wave

        self.recording_dir.mkdir(parents=True, exist_ok=True)
        with wave.open(str(self.recording_dir / f"{name}.wav"), "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(2)
            audio.setframerate(8000)
            audio.writeframes(_tone(int(seconds * 8000)))

    # ---- paced calls ---------------------------------------------------------------------

    def _think(self) -> float:
        """Pop the Think items (and run the Meanwhile ones) at the head of the script."""
        seconds = 0.0
        while self.script and isinstance(self.script[0], Think | Meanwhile):
            item = self.script.pop(0)
            if isinstance(item, Think):
                seconds += item.seconds
            else:
                item.action()
        return seconds

    async def _paced_answer(self, command: str) -> str | None:
        assert self.durations is not None
        if command.startswith("STREAM FILE"):
            name = command.split()[2]
            self.played.append(name)
            seconds = self.durations(name)
            await asyncio.sleep(seconds)
            return f"200 result=0 endpos={int(seconds * 8000)}"
        if command.startswith("GET DATA"):
            return await self._paced_get_data(command)
        if command.startswith("EXEC Read "):
            return await self._paced_read(command)
        if command.startswith("EXEC Playback "):
            files = re.match(r'EXEC Playback "([^"]*)"', command).group(1)
            await asyncio.sleep(sum(self.durations(name) for name in files.split("&") if name))
            return self._answer(command)
        if command.startswith("WAIT FOR DIGIT"):
            think = self._think()
            if not self.script or not isinstance(self.script[0], str):
                return None
            head = self.script.pop(0)
            if head in (SILENCE, MUTE):
                await asyncio.sleep(int(command.split()[3]) / 1000)
                return "200 result=0 (timeout)"
            await asyncio.sleep(think)
            return f"200 result={ord(head)}"
        if command.startswith("RECORD FILE"):
            think = self._think()
            if self.script and isinstance(self.script[0], Speak):
                await asyncio.sleep(think + self.script[0].seconds)
            return self._answer(command)
        return self._answer(command)

    async def _paced_read(self, command: str) -> str | None:
        """Read(variable,file&file...,maxdigits,options,attempts,timeout): the files play to
        the end, then the caller's keys after their Think; the keys themselves are answered
        by `_answer` (the Think items taken out of its way)."""
        arguments = re.match(r'EXEC Read "([^"]*)"', command).group(1).split(",")
        files = [name for name in arguments[1].split("&") if name]
        most = int(arguments[2] or 0) if len(arguments) > 2 else 0
        timeout = float(arguments[5]) if len(arguments) > 5 and arguments[5] else 6.0
        await asyncio.sleep(sum(self.durations(name) for name in files))
        taken: list[str] = []
        while True:
            think = self._think()
            if not self.script or not isinstance(self.script[0], str):
                break
            head = self.script.pop(0)
            taken.append(head)
            if head in (SILENCE, MUTE):
                await asyncio.sleep(timeout)
                break
            await asyncio.sleep(think)
            if head == "#" or (most and len([k for k in taken if k != "#"]) >= most):
                break
        self.script[:0] = taken
        return self._answer(command)

    async def _paced_get_data(self, command: str) -> str | None:
        """GET DATA <file> [timeout ms] [max digits]: the file plays, then keys until `#` or
        the maximum (`#` is not returned, as Asterisk does)."""
        words = command.split()
        name = words[2]
        timeout = int(words[3]) / 1000 if len(words) > 3 else 6.0
        most = int(words[4]) if len(words) > 4 else 1024
        self.played.append(name)
        await asyncio.sleep(self.durations(name))
        typed = ""
        while len(typed) < most:
            think = self._think()
            if not self.script or not isinstance(self.script[0], str):
                return None if not typed else f"200 result={typed}"
            head = self.script.pop(0)
            if head in (SILENCE, MUTE):
                await asyncio.sleep(timeout)
                return f"200 result={typed} (timeout)"
            await asyncio.sleep(think)
            if head == "#":
                break
            typed += head
        return f"200 result={typed}"


@functools.cache
def _tone(frames: int) -> bytes:
    """A 440 Hz tone of `frames` 8 kHz 16-bit samples (computed once per length)."""
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(frames)
    )
