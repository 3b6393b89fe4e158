"""Real telephony parts for end-to-end tests: Asterisk 22 in a sid chroot, a baresip SIP phone.

`AsteriskProcess` runs the shipped configuration (deploy/asterisk) through
scripts/asterisk-chroot.sh; `Baresip` is a SIP phone driven over its ctrl_tcp socket; `Ami` is a
minimal synchronous AMI client for checks. Nothing here needs /work/shared.

Asterisk listens on fixed ports (SIP 127.0.0.1:5060, AMI 127.0.0.1:5038), so only one can run per
machine: `AsteriskProcess` holds an exclusive lock from `start()` to `stop()`, and a second one
(another xdist worker) waits for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "asterisk-chroot.sh"
SHIPPED_CONFIG = REPO / "deploy" / "asterisk"
DEFAULT_ROOT = Path("/var/cache/tongdai/asterisk-sid")
AMI_PORT = 5038
SIP_PORT = 5060
# Inside the chroot (and the container): where Asterisk finds `tongdai/<key>` prompts (the
# language-less sounds folder, searched after sounds/<language>/) and where the AGI records.
SOUNDS_IN_ROOT = "usr/share/asterisk/sounds/tongdai"
RECORDINGS_IN_ROOT = "var/spool/asterisk/recording/tongdai"
CONFIG_IN_ROOT = "/etc/asterisk-tongdai/asterisk.conf"
PID_IN_ROOT = "run/tongdai-asterisk.pid"
LOCK_IN_ROOT = "run/tongdai-harness.lock"


class HarnessError(RuntimeError):
    pass


def asterisk_root() -> Path | None:
    """The chroot to use: TONGDAI_ASTERISK_ROOT, else the default one when it was built."""
    configured = os.environ.get("TONGDAI_ASTERISK_ROOT")
    root = Path(configured) if configured else DEFAULT_ROOT
    return root if (root / "usr" / "sbin" / "asterisk").exists() else None


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sip_port_pair() -> int:
    """A port P free for UDP and TCP, with P+1 free for TCP: baresip binds SIP on UDP, TCP and
    TLS (P+1) and fails when any of them is taken."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        try:
            with contextlib.ExitStack() as stack:
                for kind, number in (
                    (socket.SOCK_STREAM, port),
                    (socket.SOCK_STREAM, port + 1),
                ):
                    probe = stack.enter_context(socket.socket(socket.AF_INET, kind))
                    probe.bind(("127.0.0.1", number))
            return port
        except OSError:
            continue
    raise HarnessError("no free port pair for baresip")


def _wait_for(check, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class AsteriskProcess:
    """Asterisk in the chroot `root`, with the shipped configuration plus test overrides.

    `extra_files` are added to (or replace files of) the configuration folder, e.g.
    {"extensions_local.conf": "[test]\\n..."}. The FastAGI address and the operator trunk are
    set through the environment that deploy/asterisk/generate.sh reads. Transfers ring the test
    endpoint `operator` (OPERATOR_ENDPOINT): a `Baresip(user="operator", register=True)` takes
    them; when none is registered, the Dial fails at once (DIALSTATUS CHANUNAVAIL).
    """

    def __init__(
        self,
        root: Path,
        work_dir: Path,
        *,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        operator_trunk: str = "trunk",
        operator_endpoint: str = "operator",
        operator_dial_seconds: int = 25,
        ami_secret: str | None = None,
        sip_password: str | None = None,
        extra_files: Mapping[str, str] | None = None,
        config_dir: Path = SHIPPED_CONFIG,
        lock_timeout: float = 900,
    ) -> None:
        self.root = Path(root)
        self.work_dir = Path(work_dir)
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.operator_trunk = operator_trunk
        self.operator_endpoint = operator_endpoint
        self.operator_dial_seconds = operator_dial_seconds
        self.ami_secret = ami_secret or secrets.token_hex(12)
        self.sip_password = sip_password or secrets.token_hex(12)
        self.extra_files = dict(extra_files or {})
        self.source_config = Path(config_dir)
        self.lock_timeout = lock_timeout
        self._lock_file: Any = None

    # Paths as seen from the host.
    @property
    def sounds_dir(self) -> Path:
        return self.root / SOUNDS_IN_ROOT

    @property
    def recording_dir(self) -> Path:
        return self.root / RECORDINGS_IN_ROOT

    @property
    def console_log(self) -> Path:
        return self.root / "var/log/asterisk/tongdai-console.log"

    @property
    def config_dir(self) -> Path:
        return self.work_dir / "asterisk-config"

    @property
    def ami_url(self) -> str:
        return f"ami://tongdai:{self.ami_secret}@127.0.0.1:{AMI_PORT}"

    @property
    def pid(self) -> int | None:
        try:
            pid = int((self.root / PID_IN_ROOT).read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _prepare_config(self) -> None:
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        shutil.copytree(self.source_config, self.config_dir)
        for name, text in self.extra_files.items():
            (self.config_dir / name).write_text(text)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TONGDAI_")}
        env.update(
            TONGDAI_AMI_SECRET=self.ami_secret,
            TONGDAI_TEST_SIP_PASSWORD=self.sip_password,
            TONGDAI_AGI_HOST=self.agi_host,
            TONGDAI_AGI_PORT=str(self.agi_port),
            TONGDAI_OPERATOR_TRUNK=self.operator_trunk,
            TONGDAI_OPERATOR_ENDPOINT=self.operator_endpoint,
            TONGDAI_OPERATOR_DIAL_SECONDS=str(self.operator_dial_seconds),
        )
        return env

    def _script(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            ["bash", str(SCRIPT), *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise HarnessError(
                f"asterisk-chroot.sh {args[0]} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )

    def _acquire_lock(self) -> None:
        if self._lock_file is not None:
            return
        path = self.root / LOCK_IN_ROOT
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w")

        def locked() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        try:
            _wait_for(locked, self.lock_timeout, "another test's Asterisk to stop", 0.2)
        except BaseException:
            handle.close()
            raise
        self._lock_file = handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def start(self) -> Self:
        self._acquire_lock()
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self._prepare_config()
            # A previous run killed without cleanup must not keep the ports.
            self._script("stop", str(self.root))
            self._script("start", str(self.root), str(self.config_dir), self.ami_secret)
            self.recording_dir.mkdir(parents=True, exist_ok=True)
            self.sounds_dir.mkdir(parents=True, exist_ok=True)
        except BaseException:
            self._release_lock()
            raise
        return self

    def stop(self) -> None:
        try:
            self._script("stop", str(self.root))
        finally:
            self._release_lock()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown, sockets dropped."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: self.pid is None, 10, f"Asterisk (PID {pid}) to die")

    def restart(self) -> None:
        """Kill -9 and start again with the same configuration and secrets (keeps the lock)."""
        self.kill()
        self._script("stop", str(self.root))
        self._script("start", str(self.root), str(self.config_dir), self.ami_secret)

    def cli(self, command: str, timeout: float = 15) -> str:
        """`asterisk -rx COMMAND` against the running Asterisk."""
        result = subprocess.run(
            ["chroot", str(self.root), "/usr/sbin/asterisk", "-C", CONFIG_IN_ROOT, "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise HarnessError(f"asterisk -rx {command!r}: {result.stdout}{result.stderr}")
        return result.stdout

    def log_text(self) -> str:
        try:
            return self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        return _wait_for(lambda: text in self.log_text() and self.log_text(), timeout, repr(text))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Ami:
    """A minimal synchronous AMI client (login, actions, events) for test checks."""

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = AMI_PORT) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self._buffer = b""
        self.banner = self._read_line()
        self.events: list[dict[str, str]] = []
        self._action_ids = 0
        reply = self.action("Login", Username="tongdai", Secret=secret)
        if reply.get("Response") != "Success":
            self.close()
            raise HarnessError(f"AMI login refused: {reply}")

    def _read_line(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HarnessError("AMI connection closed")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_message(self) -> dict[str, str]:
        message: dict[str, str] = {}
        while True:
            line = self._read_line()
            if not line:
                if message:
                    return message
                continue
            key, _, value = line.partition(":")
            message[key.strip()] = value.strip()

    def action(self, name: str, **fields: str) -> dict[str, str]:
        """Send an action and return its response; events read meanwhile go to `events`."""
        self._action_ids += 1
        action_id = f"t{self._action_ids}"
        lines = [f"Action: {name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            message = self.read_message()
            if message.get("ActionID") == action_id and "Response" in message:
                return message
            self.events.append(message)

    def wait_event(self, name: str, timeout: float = 10, **match: str) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("Event") == name and all(event.get(k) == v for k, v in match.items()):
                self.events.remove(event)
                return event
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HarnessError(f"no AMI event {name} {match} within {timeout} s")
            self.sock.settimeout(remaining)
            try:
                message = self.read_message()
            except TimeoutError as exc:
                raise HarnessError(f"no AMI event {name} {match} within {timeout} s") from exc
            finally:
                self.sock.settimeout(10)
            if message.get("Event") == name and all(message.get(k) == v for k, v in match.items()):
                return message
            self.events.append(message)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"Action: Logoff\r\n\r\n")
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- audio for the caller ------------------------------------------------------------------

RATE = 8000


def _write_wav(path: Path, samples: list[int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def _read_wav_8k(path: Path) -> list[int]:
    with wave.open(str(path), "rb") as source:
        if (source.getnchannels(), source.getsampwidth(), source.getframerate()) != (1, 2, RATE):
            raise HarnessError(f"{path} is not 8 kHz mono 16-bit")
        frames = source.readframes(source.getnframes())
    return list(struct.unpack(f"<{len(frames) // 2}h", frames))


def tone_samples(seconds: float, frequency: float = 440.0) -> list[int]:
    """A syllable-like tone (4 Hz amplitude swell): loud enough for any silence detector."""
    count = int(seconds * RATE)
    return [
        int(
            9000
            * (0.55 + 0.45 * math.sin(2 * math.pi * 4 * i / RATE))
            * math.sin(2 * math.pi * frequency * i / RATE)
        )
        for i in range(count)
    ]


def speech_samples(text: str, voice: str = "vi") -> list[int] | None:
    """`text` spoken by espeak-ng, at 8 kHz; None when espeak-ng or ffmpeg is missing."""
    if not (shutil.which("espeak-ng") and shutil.which("ffmpeg")):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        raw, converted = Path(tmp) / "raw.wav", Path(tmp) / "8k.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True,
                       capture_output=True)  # fmt: skip
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(raw), "-ar", str(RATE), "-ac", "1",
             "-sample_fmt", "s16", str(converted)],
            check=True, capture_output=True,
        )  # fmt: skip
        return _read_wav_8k(converted)


def caller_audio(
    path: Path,
    *,
    text: str = "Tôi tên là Nguyễn Văn An, chủ tàu cá QNg 90123 TS, xin cấp lại giấy phép.",
    speech_seconds: float = 3.0,
    pause_seconds: float = 3.0,
    total_seconds: float = 120.0,
) -> Path:
    """An 8 kHz mono 16-bit WAV for baresip's `aufile` source: talk, pause, talk, pause, ...

    Each burst is `speech_seconds` of speech (espeak-ng, else a tone) followed by
    `pause_seconds` of silence, so a recording that stops on silence ends on its own; the whole
    file lasts `total_seconds` (aufile stops sending audio at the end of the file).
    """
    burst = speech_samples(text) or tone_samples(speech_seconds)
    burst = (burst * math.ceil(speech_seconds * RATE / max(len(burst), 1)))[
        : int(speech_seconds * RATE)
    ]
    cycle = burst + [0] * int(pause_seconds * RATE)
    samples = (cycle * math.ceil(total_seconds * RATE / len(cycle)))[: int(total_seconds * RATE)]
    return _write_wav(path, samples)


def silence_audio(path: Path, seconds: float = 120.0) -> Path:
    return _write_wav(path, [0] * int(seconds * RATE))


# --- the SIP phone ---------------------------------------------------------------------------


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class Baresip:
    """baresip 1.0 as a SIP phone, driven over ctrl_tcp (netstring-framed JSON).

    The account registers only when `register` is true (an operator waiting for calls); a
    caller just dials. `answer_mode` "manual" lets a test leave an incoming call ringing.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        user: str = "caller",
        password: str,
        caller_id: str | None = None,
        audio: Path,
        register: bool = False,
        answer_mode: str = "manual",
        server: str = f"127.0.0.1:{SIP_PORT}",
    ) -> None:
        self.work_dir = Path(work_dir)
        self.user = user
        self.password = password
        self.caller_id = caller_id
        self.audio = Path(audio)
        self.register = register
        self.answer_mode = answer_mode
        self.server = server
        self.sip_port = sip_port_pair()
        self.ctrl_port = free_port()
        while self.ctrl_port in (self.sip_port, self.sip_port + 1):
            self.ctrl_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._tokens = 0

    @property
    def config_dir(self) -> Path:
        return self.work_dir / f"baresip-{self.user}"

    @property
    def log_path(self) -> Path:
        return self.config_dir / "baresip.log"

    def _write_config(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    "net_interface 127.0.0.1",
                    f"sip_listen 127.0.0.1:{self.sip_port}",
                    f"audio_source aufile,{self.audio}",
                    # baresip 1.0 has no null player: aubridge's sink swallows the audio.
                    "audio_player aubridge,sink",
                    "audio_alert aubridge,sink",
                    "rtp_ports 10300-10400",
                    "module_path /usr/lib/baresip/modules",
                    "module g711.so",
                    "module aufile.so",
                    "module aubridge.so",
                    "module_app account.so",
                    "module_app menu.so",
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
                    "",
                ]
            )
        )
        regint = 60 if self.register else 0
        # The From user is the caller id Asterisk sees (agi_callerid); the endpoint is found by
        # the digest user name (endpoint_identifier_order ends with auth_username).
        from_user = self.caller_id or self.user
        (self.config_dir / "accounts").write_text(
            f"<sip:{from_user}@{self.server}>;auth_user={self.user};auth_pass={self.password};"
            f"regint={regint};"
            f"audio_codecs=PCMU;answermode={self.answer_mode}\n"
        )

    def start(self, timeout: float = 10) -> Self:
        if shutil.which("baresip") is None:
            raise HarnessError("baresip is not installed (apt-get install baresip)")
        self._write_config()
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.config_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def connected() -> socket.socket | None:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(f"baresip exited at start:\n{self.log_text()}")
            try:
                return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
            except OSError:
                return None

        self.sock = _wait_for(connected, timeout, "baresip's ctrl_tcp socket")
        self.sock.settimeout(None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _read(self) -> None:
        assert self.sock is not None
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b":" in buffer:
                length_text, _, rest = buffer.partition(b":")
                length = int(length_text)
                if len(rest) < length + 1:
                    break
                payload, buffer = rest[:length], rest[length + 1 :]
                message = json.loads(payload)
                if message.get("event"):
                    self.seen.append(message)
                    self.events.put(message)
                elif message.get("response"):
                    self._responses.put(message)

    def command(self, command: str, params: str = "", timeout: float = 5) -> dict[str, Any]:
        """Run a baresip long command; returns its response ({"ok": ..., "data": ...})."""
        assert self.sock is not None, "start() first"
        self._tokens += 1
        token = str(self._tokens)
        payload = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(b"%d:%s," % (len(payload), payload))
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = self._responses.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty as exc:
                raise HarnessError(f"baresip did not answer {command!r}") from exc
            if response.get("token") == token:
                if not response.get("ok", False):
                    raise HarnessError(f"baresip {command} {params}: {response.get('data')}")
                return response

    def wait_event(self, event_type: str, timeout: float = 10) -> dict[str, Any]:
        """The next event of `event_type` (events of other types before it are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = self.events.get(timeout=max(remaining, 0.01))
            except queue.Empty as exc:
                seen = [e.get("type") for e in self.seen]
                raise HarnessError(
                    f"no baresip event {event_type} within {timeout} s (seen: {seen})"
                ) from exc
            if event.get("type") == event_type:
                return event

    def wait_registered(self, timeout: float = 10) -> None:
        """Until the account's registration is confirmed (it starts before ctrl_tcp accepts a
        client, so the REGISTER_OK event itself may be gone)."""

        def registered() -> bool:
            data = ANSI_ESCAPE.sub("", self.command("reginfo").get("data", ""))
            return re.search(r"\bOK\b", data) is not None

        _wait_for(registered, timeout, f"{self.user} to register", 0.1)

    def dial(self, uri: str = f"sip:1900@127.0.0.1:{SIP_PORT}") -> None:
        self.command("dial", uri)

    def accept(self) -> None:
        self.command("accept")

    def send_key(self, key: str) -> None:
        """One keypad key, sent as an RFC 4733 event."""
        self.command("sndcode", key)

    def send_keys(self, keys: str, gap: float = 0.3) -> None:
        for key in keys:
            self.send_key(key)
            time.sleep(gap)

    def hangup(self) -> None:
        self.command("hangup")

    def quit(self, timeout: float = 5) -> None:
        if self.process is None:
            return
        with contextlib.suppress(HarnessError, OSError):
            self.command("quit", timeout=2)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
        if self.sock is not None:
            self.sock.close()
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.quit()


@contextlib.contextmanager
def running_asterisk(work_dir: Path, **options: Any) -> Iterator[AsteriskProcess]:
    root = asterisk_root()
    if root is None:
        raise HarnessError("no Asterisk chroot (scripts/asterisk-chroot.sh build)")
    with AsteriskProcess(root, work_dir, **options) as asterisk:
        yield asterisk
