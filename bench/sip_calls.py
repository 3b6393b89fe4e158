"""The real SIP ladder: N simultaneous licence applications through the real Asterisk 22.

Asterisk runs in its chroot (tests/asterisk/harness.py, the shipped deploy/asterisk
configuration), hands each call to `tongdai agi` (its own process, AMI call log on) on a
throw-away PostgreSQL database. The callers are one Python process of small SIP user agents on
127.0.0.1 (SIP over UDP with digest authentication, PCMU RTP every 20 ms, keys as RFC 4733
events): baresip is one process per phone, and SIPp plays a fixed script that cannot wait for
the IVR, so neither scales to hundreds of callers that must press keys only while the IVR
listens. Each caller walks today's new-licence call (bench/licence_call.py): it follows the
IVR's AGI commands on AMI and, as a person would, answers 1-3 s after the question has played
(at the WAIT FOR DIGIT that follows it, or during a GET DATA), types further digits 0.25 s
apart, speaks (espeak-ng speech as RTP) for the recordings and ends with `#`, then stays silent
while the code is read out until Asterisk hangs up.

Calls start at random over `--ramp` (120) seconds, less than a call lasts, so all of a rung's
calls are in progress together (as bench/agi_calls.py). Per rung (25, 50, 100, 150, 200 by
default; Asterisk is started afresh for each and stopped
after, so other users of the chroot can take it in between) it prints calls answered, ended,
filed with every answer saved (in the database), distinct codes, the deaf time seen on AMI,
CPU by part (Asterisk, FastAGI, our PostgreSQL backends, the callers) and the load average.
The ladder stops at the first rung where a call does not complete; the largest rung that
completed is the answer.

    .venv/bin/python bench/sip_calls.py                       # the ladder: ~30 minutes
    .venv/bin/python bench/sip_calls.py --calls 100           # one rung: ~6 minutes
    .venv/bin/python bench/sip_calls.py --calls 5 --quick     # smoke test: ~2 minutes

Needs root (the chroot), the Asterisk chroot (scripts/asterisk-chroot.sh build), espeak-ng and
ffmpeg, PostgreSQL as for the other benchmarks. The shipped rtp.conf gives Asterisk 200 RTP
ports (10000-10200), one even port per call: about 100 calls. `--rtp-ports 10000-10999` widens
it for this run only, to see what lies beyond.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import os
import random
import re
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    CpuWindow,
    config_with,
    free_port,
    stop_server,
    throwaway_database,
    wait_until,
)
from bench.deaf_gaps import deaf_gaps, deaf_report, worst_gaps  # noqa: E402
from bench.licence_call import (  # noqa: E402
    Answer,
    check_filed,
    context_of,
    new_licence,
    rehearse,
    vessel_number,
)

SIP_SERVER = ("127.0.0.1", 5060)
FRAME = 160  # 20 ms of 8 kHz PCMU
KEY_GAP = 0.25
EVENT_PT = 101
WAITING = ("WAIT FOR DIGIT", "GET DATA", "EXEC READ", "EXEC Read")


# ---- SIP ------------------------------------------------------------------------------------


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass
class SipMessage:
    first: str
    headers: list[tuple[str, str]]
    body: str

    @classmethod
    def parse(cls, data: bytes) -> SipMessage:
        head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
        lines = head.split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return cls(lines[0], headers, body)

    def get(self, name: str) -> str:
        return next((value for key, value in self.headers if key == name), "")

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    @property
    def status(self) -> int:
        return int(self.first.split()[1]) if self.first.startswith("SIP/2.0") else 0

    @property
    def method(self) -> str:
        return "" if self.first.startswith("SIP/2.0") else self.first.split()[0]


class SipProtocol(asyncio.DatagramProtocol):
    def __init__(self, call: Caller) -> None:
        self.call = call

    def datagram_received(self, data: bytes, addr) -> None:
        self.call.received(SipMessage.parse(data))


@dataclass
class Caller:
    """One phone: a SIP dialog with Asterisk and an RTP stream, driven by the AGI events."""

    number: str
    user: str
    password: str
    answers: list[Answer]
    rng: random.Random
    speech: bytes
    durations: object  # bench.agi_calls.Durations: seconds a prompt file plays
    call_id: str = field(default_factory=lambda: secrets.token_hex(8) + "@127.0.0.1")
    tag: str = field(default_factory=lambda: secrets.token_hex(4))
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    timeline: list[tuple[float, float, str]] = field(default_factory=list)
    answered: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str = ""
    # RTP
    rtp: socket.socket | None = None
    remote_rtp: tuple[str, int] | None = None
    seq: int = 0
    ts: int = 0
    ssrc: int = 0
    dtmf: list[bytes] = field(default_factory=list)
    dtmf_ts: int = 0
    speaking_from: int | None = None  # offset in `speech` while speaking
    # SIP
    transport: asyncio.DatagramTransport | None = None
    port: int = 0
    cseq: int = 0
    responses: asyncio.Queue = field(default_factory=asyncio.Queue)
    remote_tag: str = ""
    remote_target: str = ""
    route: list[str] = field(default_factory=list)

    # -- SIP plumbing --
    def _send(self, text: str) -> None:
        assert self.transport is not None
        self.transport.sendto(text.encode(), SIP_SERVER)

    def _request(self, method: str, uri: str, extra: list[str], body: str = "", cseq=None,
                 branch: str | None = None, to_tag: str = "") -> str:  # fmt: skip
        branch = branch or "z9hG4bK" + secrets.token_hex(6)
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch={branch}",
            "Max-Forwards: 70",
            f"From: <sip:{self.number}@127.0.0.1>;tag={self.tag}",
            f"To: <sip:1900@127.0.0.1>{';tag=' + to_tag if to_tag else ''}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq or self.cseq} {method if method != 'ACK' else 'ACK'}",
            f"Contact: <sip:{self.number}@127.0.0.1:{self.port}>",
            "User-Agent: tongdai-bench",
            *extra,
        ]
        if body:
            lines += ["Content-Type: application/sdp", f"Content-Length: {len(body)}"]
        else:
            lines.append("Content-Length: 0")
        self._send("\r\n".join(lines) + "\r\n\r\n" + body)
        return branch

    def _sdp(self) -> str:
        assert self.rtp is not None
        port = self.rtp.getsockname()[1]
        return (
            "v=0\r\n"
            f"o=bench {self.ssrc} 1 IN IP4 127.0.0.1\r\n"
            "s=bench\r\n"
            "c=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 {EVENT_PT}\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:{EVENT_PT} telephone-event/8000\r\n"
            f"a=fmtp:{EVENT_PT} 0-16\r\n"
            "a=ptime:20\r\n"
            "a=sendrecv\r\n"
        )

    def received(self, message: SipMessage) -> None:
        if message.status:
            if message.get("call-id") == self.call_id:
                self.responses.put_nowait(message)
            return
        # A request from Asterisk: BYE, OPTIONS, re-INVITE, ...
        method = message.method
        if method == "ACK":
            return
        body = self._sdp() if method == "INVITE" else ""
        to = message.get("to")
        if ";tag=" not in to:
            to += f";tag={self.tag}"
        lines = ["SIP/2.0 200 OK"]
        lines += [f"Via: {via}" for via in message.all("via")]
        lines += [f"From: {message.get('from')}", f"To: {to}", f"Call-ID: {message.get('call-id')}",
                  f"CSeq: {message.get('cseq')}",
                  f"Contact: <sip:{self.number}@127.0.0.1:{self.port}>"]  # fmt: skip
        if body:
            lines += ["Content-Type: application/sdp", f"Content-Length: {len(body)}"]
        else:
            lines.append("Content-Length: 0")
        self._send("\r\n".join(lines) + "\r\n\r\n" + body)
        if method == "BYE":
            self.ended.set()

    async def _transaction(self, send) -> SipMessage:
        """Send (and resend, RFC 3261 timer A) until a final response."""
        interval = 0.5
        deadline = time.monotonic() + 32
        send()
        while time.monotonic() < deadline:
            try:
                response = await asyncio.wait_for(self.responses.get(), interval)
            except TimeoutError:
                send()
                interval = min(interval * 2, 4)
                continue
            if response.status >= 200:
                return response
            interval = 4  # provisional: Asterisk has it; wait for the final answer
        raise TimeoutError("no final SIP response")

    async def dial(self, loop: asyncio.AbstractEventLoop) -> None:
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.rtp.setblocking(False)
        self.ssrc = random.getrandbits(32)
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: SipProtocol(self), local_addr=("127.0.0.1", 0)
        )
        self.port = self.transport.get_extra_info("sockname")[1]
        uri = f"sip:1900@{SIP_SERVER[0]}:{SIP_SERVER[1]}"
        sdp = self._sdp()
        self.cseq = 1
        branch = "z9hG4bK" + secrets.token_hex(6)
        response = await self._transaction(
            lambda: self._request("INVITE", uri, [], sdp, branch=branch)
        )
        if response.status in (401, 407):
            self._ack(uri, branch, response)
            challenge = response.get("www-authenticate") or response.get("proxy-authenticate")
            fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
            realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
            cnonce, nc = secrets.token_hex(4), "00000001"
            ha1 = _md5(f"{self.user}:{realm}:{self.password}")
            ha2 = _md5(f"INVITE:{uri}")
            header = "Authorization" if response.status == 401 else "Proxy-Authorization"
            common = (
                f'{header}: Digest username="{self.user}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", algorithm=MD5, '
            )
            if "auth" in fields.get("qop", ""):
                digest = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
                auth = common + f'response="{digest}", qop=auth, nc={nc}, cnonce="{cnonce}"'
            else:
                auth = common + f'response="{_md5(f"{ha1}:{nonce}:{ha2}")}"'
            self.cseq = 2
            branch = "z9hG4bK" + secrets.token_hex(6)
            response = await self._transaction(
                lambda: self._request("INVITE", uri, [auth], sdp, branch=branch)
            )
        if response.status != 200:
            raise RuntimeError(f"INVITE answered {response.first}")
        self.remote_tag = re.search(r";tag=([^;>\s]+)", response.get("to"))[1]
        contact = re.search(r"<([^>]+)>", response.get("contact"))
        self.remote_target = contact[1] if contact else uri
        audio = re.search(r"m=audio (\d+)", response.body)
        host = re.search(r"c=IN IP4 (\S+)", response.body)
        self.remote_rtp = (host[1] if host else "127.0.0.1", int(audio[1]))
        self._request("ACK", self.remote_target, [], cseq=self.cseq, to_tag=self.remote_tag)
        self.answered = True

    def _ack(self, uri: str, branch: str, response: SipMessage) -> None:
        tag = re.search(r";tag=([^;>\s]+)", response.get("to"))
        self._request("ACK", uri, [], cseq=self.cseq, branch=branch, to_tag=tag[1] if tag else "")

    async def bye(self) -> None:
        if not self.answered or self.ended.is_set():
            return
        self.cseq += 1
        try:
            await self._transaction(
                lambda: self._request(
                    "BYE", self.remote_target, [], to_tag=self.remote_tag, cseq=self.cseq
                )  # fmt: skip
            )
        except TimeoutError:
            pass
        self.ended.set()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.rtp is not None:
            self.rtp.close()

    # -- RTP --
    def tick(self) -> None:
        """Send one 20 ms packet: a key's event packet, else speech or silence."""
        if self.remote_rtp is None or self.rtp is None or self.ended.is_set():
            return
        self.seq = (self.seq + 1) & 0xFFFF
        if self.dtmf:
            packet = self.dtmf.pop(0)
            header = struct.pack("!BBHII", 0x80, packet[0], self.seq, self.dtmf_ts, self.ssrc)
            payload = packet[1:]
        else:
            header = struct.pack("!BBHII", 0x80, 0, self.seq, self.ts, self.ssrc)
            if self.speaking_from is not None:
                start = self.speaking_from % max(len(self.speech) - FRAME, 1)
                payload = self.speech[start : start + FRAME]
                self.speaking_from += FRAME
            else:
                payload = b"\xff" * FRAME
        self.ts = (self.ts + FRAME) & 0xFFFFFFFF
        try:
            self.rtp.sendto(header + payload, self.remote_rtp)
        except (BlockingIOError, OSError):
            pass

    def press(self, key: str) -> None:
        """Queue one RFC 4733 event: 3 updates then 3 end packets, 120 ms in all."""
        event = "0123456789*#".index(key)  # RFC 4733: * is 10, # is 11
        self.dtmf_ts = self.ts
        packets = []
        for number, duration in enumerate((160, 320, 480, 640, 640, 640)):
            end = 0x80 if number >= 3 else 0
            pt = EVENT_PT | (0x80 if number == 0 else 0)  # marker on the first
            packets.append(bytes([pt]) + struct.pack("!BBH", event, end | 10, duration))
        self.dtmf.extend(packets)

    # -- the walk --
    async def next_event(self, predicate, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.ended.is_set():
                raise TimeoutError("the IVR never asked")
            getter = asyncio.ensure_future(self.events.get())
            ender = asyncio.ensure_future(self.ended.wait())
            done, _ = await asyncio.wait({getter, ender}, timeout=left,
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            if getter not in done:
                getter.cancel()
                ender.cancel()
                raise TimeoutError("the IVR never asked" if not done else "hung up early")
            ender.cancel()
            command = getter.result()
            if predicate(command):
                return command

    def _prompt_seconds(self, command: str) -> float:
        if command.upper().startswith("EXEC READ"):
            quoted = re.search(r'"([^"]*)"', command)
            arguments = (quoted[1] if quoted else command.split(None, 2)[2]).split(",")
            files = arguments[1].split("&") if len(arguments) > 1 else []
            return sum(self.durations(name) for name in files if name)
        if command.startswith("GET DATA"):
            return self.durations(command.split()[2])
        return 0.0

    async def walk(self, scale: float) -> None:
        for answer in self.answers:
            if answer.silent:
                await asyncio.wait_for(self.ended.wait(), 120)
                return
            if answer.spoken:
                await self.next_event(lambda c: c.startswith("RECORD FILE"))
                await asyncio.sleep(self.rng.uniform(1.0, 3.0) * scale)
                self.speaking_from = 0
                await asyncio.sleep(answer.spoken)
                self.speaking_from = None
                self.press("#")
                continue
            first = await self.next_event(lambda c: c.startswith(WAITING))
            # A Read or GET DATA plays the question itself: the caller hears it out first.
            await asyncio.sleep(self._prompt_seconds(first))
            await asyncio.sleep(self.rng.uniform(1.0, 3.0) * scale)
            self.press(answer.keys[0])
            for key in answer.keys[1:]:
                if first.startswith("WAIT FOR DIGIT"):
                    await self.next_event(lambda c: c.startswith("WAIT FOR DIGIT"))
                await asyncio.sleep(KEY_GAP)
                self.press(key)


# ---- AMI ------------------------------------------------------------------------------------


class AmiFeed:
    """AGIExecStart/End events on AMI, routed to the callers by caller id number."""

    def __init__(self, secret: str, callers: dict[str, Caller]) -> None:
        self.secret, self.callers = secret, callers
        self.started: dict[tuple[str, str], tuple[float, str]] = {}
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", 5038)
        await self.reader.readline()
        self.writer.write(
            b"Action: Login\r\nUsername: tongdai\r\nSecret: "
            + self.secret.encode()
            + b"\r\nEvents: agi\r\n\r\n"
        )
        await self.writer.drain()
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        message: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if not line:
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                key, _, value = line.partition(":")
                message[key.strip()] = value.strip()
                continue
            self._event(message)
            message = {}

    def _event(self, message: dict[str, str]) -> None:
        name = message.get("Event", "")
        if not name.startswith("AGIExec"):
            return
        caller = self.callers.get(message.get("CallerIDNum", ""))
        if caller is None:
            return
        key = (message.get("Uniqueid", ""), message.get("CommandId", ""))
        command = message.get("Command", "")
        now = time.perf_counter()
        if name == "AGIExecStart":
            self.started[key] = (now, command)
            caller.events.put_nowait(command)
        else:
            began, command = self.started.pop(key, (now, command))
            caller.timeline.append((began, now, command))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


# ---- one rung -------------------------------------------------------------------------------


async def run_rung(size: int, offset: int, asterisk, speech: bytes, rng: random.Random,
                   ramp: float, scale: float, durations) -> list[Caller]:  # fmt: skip
    callers = {
        f"091{offset + i:07d}": Caller(
            number=f"091{offset + i:07d}",
            user="caller",
            password=asterisk.sip_password,
            answers=list(new_licence(vessel_number(offset + i))),
            rng=random.Random(rng.random()),
            speech=speech,
            durations=durations,
        )
        for i in range(size)
    }
    feed = AmiFeed(asterisk.ami_secret, callers)
    await feed.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    async def ticker() -> None:
        next_at = time.perf_counter()
        while not stop.is_set():
            for caller in callers.values():
                caller.tick()
            next_at += 0.02
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def one(caller: Caller, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await caller.dial(loop)
            await caller.walk(scale)
        except Exception as exc:  # noqa: BLE001 - a failed call is a figure, not a crash
            caller.failure = f"{type(exc).__name__}: {exc}"
            await caller.bye()

    ticking = asyncio.ensure_future(ticker())
    delays = sorted(rng.uniform(0, ramp) for _ in callers)
    await asyncio.gather(*(one(c, d) for c, d in zip(callers.values(), delays, strict=True)))
    stop.set()
    await ticking
    await asyncio.sleep(1)  # the last AGIExecEnd events
    await feed.stop()
    for caller in callers.values():
        caller.close()
    return list(callers.values())


def speech_ulaw(work: Path) -> bytes:
    """The callers' voice: espeak-ng speech with pauses (the e2e tests' caller audio) as PCMU."""
    from tests.asterisk.harness import caller_audio

    wav = caller_audio(work / "caller.wav", total_seconds=30.0)
    raw = work / "caller.ulaw"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-f", "mulaw", "-ar",
                    "8000", "-ac", "1", str(raw)], check=True)  # fmt: skip
    return raw.read_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="25,50,100,150,200", help="comma-separated rungs")
    parser.add_argument(
        "--ramp", type=float, default=120.0,
        help="seconds over which calls start (less than a call's ~200 s: all overlap at the end)",
    )  # fmt: skip
    parser.add_argument("--rtp-ports", default="", help="e.g. 10000-10999 (default: shipped)")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--all", action="store_true", help="go on after a rung fails")
    parser.add_argument("--quick", action="store_true", help="answers 10x faster (not prompts)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.calls.split(",")]
    scale = 0.1 if args.quick else 1.0

    from tests.asterisk.harness import AsteriskProcess, asterisk_root

    root = asterisk_root()
    if root is None:
        raise SystemExit("no Asterisk chroot (scripts/asterisk-chroot.sh build)")
    os.environ.setdefault("TONGDAI_CONFIG", str(ROOT / "config.toml"))
    os.environ.setdefault("TONGDAI_DATA_DIR", str(ROOT / "var"))
    from tongdai.startup import load_checked_settings

    settings = load_checked_settings()
    rehearse(context_of(settings, dt.date.today()), new_licence())
    from bench.agi_calls import Durations
    from ivr.audio import PromptFiles, build_prompts

    build_prompts(settings, progress=False)
    durations = Durations(PromptFiles.of(settings).root, settings.asterisk.sounds_prefix, 1.0)
    extra = {}
    if args.rtp_ports:
        start, end = args.rtp_ports.split("-")
        extra["rtp.conf"] = (
            f"[general]\nrtpstart = {start}\nrtpend = {end}\nicesupport = no\nstrictrtp = yes\n"
        )
    rng = random.Random(args.seed)
    with throwaway_database("tongdai_bench_sip") as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speech = speech_ulaw(work)
        offset, best = 0, 0
        print(f"{os.cpu_count()} cores; load average {_load()}; RTP ports "
              f"{args.rtp_ports or 'as shipped (deploy/asterisk/rtp.conf)'}")  # fmt: skip
        migrated = False
        for size in sizes:
            agi_port = free_port()
            asterisk = AsteriskProcess(root, work / f"asterisk-{size}", agi_port=agi_port,
                                       extra_files=extra)  # fmt: skip
            asterisk.start()
            server = None
            try:
                build_prompts(settings, asterisk_dir=asterisk.sounds_dir, progress=False)
                env = _server_env(url, work, asterisk)
                if not migrated:
                    subprocess.run([sys.executable, "-m", "tongdai", "db", "upgrade"], env=env,
                                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
                    migrated = True
                server = subprocess.Popen(
                    [sys.executable, "-m", "tongdai", "agi", "--port", str(agi_port)],
                    env=env, cwd=ROOT,
                )  # fmt: skip
                if not wait_until(lambda port=agi_port: _listening(port), 30):
                    raise SystemExit("the AGI server did not start")
                time.sleep(2)  # its AMI client logs in
                window = CpuWindow(_classifier(asterisk.pid, server.pid, url)).start()
                from bench.agi_calls import children_cpu

                children = children_cpu(server.pid)
                callers = asyncio.run(
                    run_rung(size, offset, asterisk, speech, rng, args.ramp, scale, durations)
                )
                window.stop()
                ffmpeg = _ffmpeg_line(server.pid, children, window)
                load = _load()
            finally:
                if server is not None:
                    stop_server(server, timeout=15)
                asterisk.stop()
            time.sleep(2)
            filed = check_filed(url, [vessel_number(offset + i) for i in range(size)])
            offset += size
            complete = _report(size, callers, filed, window, load)
            print(ffmpeg)
            if complete:
                best = size
            elif not args.all:
                break
        print(f"\nlargest rung with every call complete and every answer saved: {best or 'none'}")


def _server_env(url: str, work: Path, asterisk) -> dict[str, str]:
    source = Path(os.environ["TONGDAI_CONFIG"])
    config = config_with(source, work, "recording_dir_local", f'"{asterisk.recording_dir}"')
    data = work / "data"
    data.mkdir(exist_ok=True)
    return {
        **os.environ,
        "DATABASE_URL": url,
        "TONGDAI_CONFIG": str(config),
        "TONGDAI_DATA_DIR": str(data),
        "TONGDAI_SECRET_KEY": "bench",
        "TONGDAI_LOG_LEVEL": "WARNING",
        "TONGDAI_AMI_URL": asterisk.ami_url,
    }


def _classifier(asterisk_pid: int | None, server_pid: int, url: str):
    from bench.agi_calls import our_backends

    ours: set[int] = set()

    def classify(pid: int, comm: str) -> str:
        if not ours:  # at the end of the window, when the server's pool is open
            ours.update(our_backends(url) or [-1])
        if pid == asterisk_pid:
            return "asterisk"
        if pid == server_pid:
            return "fastagi"
        if pid == os.getpid():
            return "callers"
        if comm.startswith("postgres"):
            return "postgres (ours)" if pid in ours else "postgres (other)"
        return "other"

    return classify


def _ffmpeg_line(server_pid: int, before: float, window) -> str:
    from bench.agi_calls import children_cpu

    spent = children_cpu(server_pid) - before
    return (
        f"of which the FastAGI process's children (ffmpeg, inside `ended`): "
        f"{spent / (window.seconds * (os.cpu_count() or 1)):.0%}"
    )


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _report(size: int, callers: list[Caller], filed, window, load: str) -> bool:
    answered = sum(caller.answered for caller in callers)
    failures: dict[str, int] = {}
    for caller in callers:
        if caller.failure:
            failures[caller.failure[:60]] = failures.get(caller.failure[:60], 0) + 1
    complete = filed.complete == size and not failures
    print(f"\n== {size} simultaneous calls (load average {load} at the end): "
          f"{'COMPLETE' if complete else 'INCOMPLETE'}")  # fmt: skip
    print(f"answered {answered}/{size}; walks failed {sum(failures.values())} {failures or ''}; "
          f"{filed.line()}")  # fmt: skip
    report = deaf_report(deaf_gaps(caller.timeline) for caller in callers)
    for line in report.lines():
        print(line + " (as seen on AMI)")
    print("longest deaf gaps (as seen on AMI):")
    for line in worst_gaps(caller.timeline for caller in callers):
        print(f"  {line}")
    print(f"CPU (share of all cores over {window.seconds:.0f} s): {window.shares()}")
    return complete


if __name__ == "__main__":
    main()
