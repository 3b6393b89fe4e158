"""A real Jasmin SMS gateway for the tests and bench/smpp.py, each run on its own ports, its
own RabbitMQ virtual host and its own Redis.

Jasmin (PyPI `jasmin`, pinned below) lives in a virtualenv of its own, never in the project's
dependencies: `ensure_jasmin()` creates it when missing (`.ci/run` calls it too, so the suite
never waits for it). Its AMQP 0-9-1 spec is read from txamqp's copy through the configuration
file (`[amqp-broker] spec`), and `ROOT_PATH` points its logs and store at the run's directory, so
nothing is written under /etc or /var/log.

Jasmin 0.11.1 sends Redis `SELECT <dbid>` only when a Redis password is configured, so a run
cannot get a database of the shared Redis of its own; each run starts a private redis-server on
a free port instead (a stronger separation, and as cheap).

Jasmin is configured through jCli, its telnet console, as an operator would: the carrier
connector, our ESME user (with its throughput limit), the MT route to the carrier and the MO
route back to our bind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

JASMIN_VERSION = "0.11.1"
JASMIN_VENV = Path(os.environ.get("TONGDAI_JASMIN_VENV", "/var/cache/tongdai/jasmin-venv"))
JASMIN_PYTHON = os.environ.get("TONGDAI_JASMIN_PYTHON", "python3.11")
AMQP_URL = ("127.0.0.1", 5672)
USER, PASSWORD = "tongdai", "td-pass1"  # Jasmin's passwords are 8 characters at most
CARRIER_USER, CARRIER_PASSWORD = "jasmin", "carrier1"

# Jasmin's own retries of a carrier's temporary refusal, shortened from 30-180 s for the tests.
RETRIAL = {status: {"count": 2, "delay": 1} for status in
           ("ESME_RSYSERR", "ESME_RTHROTTLED", "ESME_RMSGQFUL")}  # fmt: skip

_IAC, _WILL, _WONT, _DO, _DONT = 255, 251, 252, 253, 254


# jasmind holds a machine-wide lock, /tmp/jasmind, for its whole life (jasmind.py: "Must not
# be executed simultaneously"), so a second Jasmin on the machine exits ("Lock not acquired").
# Each run's daemon is started through this launcher, which points that lock into the run's
# own directory and then runs jasmind.py unchanged.
_OWN_LOCK = """
import os, runpy, sys
import lockfile
_FileLock = lockfile.FileLock
lockfile.FileLock = lambda path, *a, **k: _FileLock(os.environ["TONGDAI_JASMIN_LOCK"], *a, **k)
daemon = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(daemon, run_name="__main__")
"""


class JasminUnavailable(Exception):
    """Jasmin, RabbitMQ or redis-server cannot be had on this machine."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def ensure_jasmin() -> Path:
    """The jasmind.py of the Jasmin virtualenv, installing it from PyPI when missing."""
    daemon = JASMIN_VENV / "bin" / "jasmind.py"
    if daemon.exists():
        _patch_receipts()
        return daemon
    python = shutil.which(JASMIN_PYTHON)
    if python is None:
        raise JasminUnavailable(f"{JASMIN_PYTHON} (Jasmin {JASMIN_VERSION} needs it) not found")
    JASMIN_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(JASMIN_VENV)], check=True)
    subprocess.run(
        [str(JASMIN_VENV / "bin" / "pip"), "install", "-q", f"jasmin=={JASMIN_VERSION}"],
        check=True,
    )
    _patch_receipts()
    return daemon


# Jasmin 0.11.1 reads the response from the request object when a connector's submit_sm_resp
# arrives (managers/listeners.py: `_pdu.response`, an AttributeError), so it never maps the
# carrier's message id and drops every receipt meant for an SMPP client ("DLRMapNotFound").
# Upstream issue jookies/jasmin#1236 (open) names the fix applied here: read `r.response`.
_BROKEN, _FIXED = "_pdu.response", "r.response"


def _patch_receipts() -> None:
    for listeners in JASMIN_VENV.glob("lib/python*/site-packages/jasmin/managers/listeners.py"):
        source = listeners.read_text()
        if _BROKEN in source:
            listeners.write_text(source.replace(_BROKEN, _FIXED))
            for cached in listeners.parent.glob("__pycache__/listeners.*.pyc"):
                cached.unlink()


def _amqp_spec() -> Path:
    found = sorted(JASMIN_VENV.glob("lib/python*/site-packages/txamqp/specs/standard/"
                                    "amqp0-9-1.stripped.xml"))  # fmt: skip
    if not found:
        raise JasminUnavailable("txamqp's amqp0-9-1.stripped.xml is missing from the Jasmin venv")
    return found[0]


def _rabbitmqctl(*args: str) -> None:
    if shutil.which("rabbitmqctl") is None:
        raise JasminUnavailable("rabbitmqctl not found (Debian package rabbitmq-server)")
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise JasminUnavailable(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")


class JCli:
    """Jasmin's console over telnet (authentication is off; it listens on 127.0.0.1 only)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._read(b"Session ref")

    def _read(self, *marks: bytes) -> str:
        out = b""
        while True:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data = bytearray()
            i = 0
            while i < len(chunk):
                if chunk[i] == _IAC and i + 1 < len(chunk):
                    command = chunk[i + 1]
                    # Option negotiation goes unanswered: Twisted then keeps its defaults.
                    if command in (_DO, _DONT, _WILL, _WONT):
                        i += 3
                    else:
                        i += 2
                    continue
                data.append(chunk[i])
                i += 1
            out += bytes(data)
            if any(mark in out for mark in marks):
                break
        return out.decode("utf-8", errors="replace").replace("\r", "")

    def run(self, *commands: str) -> str:
        """Send each line; returns everything Jasmin answered. A line Jasmin refuses raises."""
        answers = []
        for command in commands:
            self.sock.sendall(command.encode() + b"\r\n")
            answer = self._read(b"jcli : ", b"\n> ")
            if any(word in answer for word in ("Unknown", "Error", "error:", "Invalid")):
                raise JasminUnavailable(f"jCli refused {command!r}: {answer.strip()}")
            answers.append(answer)
        return "".join(answers)

    def close(self) -> None:
        try:
            self.sock.sendall(b"quit\r\n")
        except OSError:
            pass
        self.sock.close()


class Jasmin:
    """One Jasmin daemon and its private Redis, on free ports, in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.smpp_port = free_port()
        self.jcli_port = free_port()
        self.ports = {name: free_port() for name in ("pb", "cm", "router", "http", "redis")}
        self.vhost = f"tongdai-{uuid.uuid4().hex[:10]}"
        self.process: subprocess.Popen[bytes] | None = None
        self.redis: subprocess.Popen[bytes] | None = None
        self.starts = 0

    # ---- life ----------------------------------------------------------------------------------

    def start(self) -> Jasmin:
        daemon = ensure_jasmin()
        if not port_open(AMQP_URL[1]):
            raise JasminUnavailable("RabbitMQ is not listening on 127.0.0.1:5672")
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise JasminUnavailable("redis-server not found (Debian package redis-server)")
        _rabbitmqctl("add_vhost", self.vhost)
        _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        (self.workdir / "log").mkdir(parents=True, exist_ok=True)
        (self.workdir / "store").mkdir(exist_ok=True)
        self.redis = subprocess.Popen(
            [
                redis_server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.ports["redis"]),
                "--save",
                "",
                "--appendonly",
                "no",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_port(self.ports["redis"], "redis-server")
        self._write_config()
        self._launch(daemon)
        return self

    def _launch(self, daemon: Path | None = None) -> None:
        daemon = daemon or ensure_jasmin()
        output = (self.workdir / "jasmind.out").open("ab")
        self.process = subprocess.Popen(
            [str(JASMIN_VENV / "bin" / "python"), "-c", _OWN_LOCK, str(daemon),
             "-c", str(self.config_path),
             "--enable-dlr-thrower", "--enable-dlr-lookup", "--enable-deliver-thrower"],
            env={**os.environ, "ROOT_PATH": str(self.workdir),
                 "TONGDAI_JASMIN_LOCK": str(self.workdir / "jasmind")},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        output.close()
        self.starts += 1
        self._wait_port(self.jcli_port, "jasmind")
        self._wait_port(self.smpp_port, "jasmind")

    def _wait_port(self, port: int, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open(port):
                return
            if what == "jasmind" and self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.1)
        tail = ""
        out = self.workdir / "jasmind.out"
        if out.exists():
            tail = out.read_text(errors="replace")[-2000:]
        raise JasminUnavailable(f"{what} did not listen on {port}: {tail}")

    def stop(self, how: int = signal.SIGTERM) -> None:
        """Stop jasmind (SIGKILL for a crash); the Redis and the vhost stay for a restart."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, how)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def restart(self, how: int = signal.SIGTERM) -> None:
        """Jasmin down and up again; it reloads the configuration it persisted."""
        self.stop(how)
        (self.workdir / "jasmind.pid").unlink(missing_ok=True)
        self._launch()

    def close(self) -> None:
        self.stop()
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(10)
            self.redis = None
        try:
            _rabbitmqctl("delete_vhost", self.vhost)
        except JasminUnavailable as error:
            print(f"jasmin: could not delete vhost {self.vhost}: {error}", file=sys.stderr)

    # ---- configuration -------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.workdir / "jasmin.cfg"

    def _write_config(self) -> None:
        log = self.workdir / "log"
        ports = self.ports
        self.config_path.write_text(
            f"""[smpp-server]
bind = 127.0.0.1
port = {self.smpp_port}
log_file = {log}/smpps.log
[smpp-server-pb]
bind = 127.0.0.1
port = {ports["pb"]}
log_file = {log}/smpps-pb.log
[smpp-server-pb-client]
port = {ports["pb"]}
[client-management]
bind = 127.0.0.1
port = {ports["cm"]}
store_path = {self.workdir}/store
log_file = {log}/smppcm.log
[service-smppclient]
log_file = {log}/smppclient.log
[router]
bind = 127.0.0.1
port = {ports["router"]}
store_path = {self.workdir}/store
persistence_timer_secs = 0
log_file = {log}/router.log
[jcli]
bind = 127.0.0.1
port = {self.jcli_port}
authentication = False
log_file = {log}/jcli.log
[http-api]
bind = 127.0.0.1
port = {ports["http"]}
log_file = {log}/http-api.log
[amqp-broker]
host = {AMQP_URL[0]}
port = {AMQP_URL[1]}
vhost = {self.vhost}
spec = {_amqp_spec()}
connection_loss_retry_delay = 1
connection_failure_retry_delay = 1
log_file = {log}/amqp-client.log
[redis-client]
host = 127.0.0.1
port = {ports["redis"]}
log_file = {log}/redis-client.log
[sm-listener]
log_file = {log}/messages.log
submit_error_retrial = {RETRIAL}
submit_max_age_smppc_not_ready = 600
submit_retrial_delay_smppc_not_ready = 1
[dlr]
dlr_lookup_retry_delay = 1
log_file = {log}/dlr.log
[dlr-thrower]
retry_delay = 1
log_file = {log}/dlr-thrower.log
[deliversm-thrower]
retry_delay = 1
log_file = {log}/deliversm-thrower.log
"""
        )

    def jcli(self, *commands: str) -> str:
        console = JCli(self.jcli_port)
        try:
            return console.run(*commands)
        finally:
            console.close()

    def provision(self, carrier_port: int, *, throughput: float | None = None) -> None:
        """The carrier connector, our user and both routes, then persisted (a restart keeps
        them). `throughput`: our user's submit_sm per second (Jasmin answers more with
        ESME_RTHROTTLED); None: no limit."""
        self.jcli(
            "smppccm -a",
            "cid carrier",
            "host 127.0.0.1",
            f"port {carrier_port}",
            f"username {CARRIER_USER}",
            f"password {CARRIER_PASSWORD}",
            "bind transceiver",
            "submit_throughput 0",
            "con_fail_delay 1",
            "con_loss_delay 1",
            "ok",
            "smppccm -1 carrier",
            "group -a",
            "gid tongdai",
            "ok",
        )
        self.add_user(USER, PASSWORD, throughput=throughput)
        self.jcli(
            "mtrouter -a",
            "type DefaultRoute",
            "connector smppc(carrier)",
            "rate 0.00",
            "ok",
            "morouter -a",
            "type DefaultRoute",
            f"connector smpps({USER})",
            "ok",
            "persist",
        )

    def add_user(
        self,
        username: str,
        password: str,
        *,
        throughput: float | None = None,
        max_bindings: int | None = None,
    ) -> None:
        """An ESME account of the group the routes serve, persisted with the rest.
        `max_bindings`: the binds Jasmin allows it at once (more are answered ESME_RBINDFAIL)."""
        self.jcli(
            "user -a",
            f"uid {username}",
            "gid tongdai",
            f"username {username}",
            f"password {password}",
            *([f"mt_messaging_cred quota smpps_throughput {throughput}"] if throughput else []),
            *([f"smpps_cred quota max_bindings {max_bindings}"] if max_bindings else []),
            "ok",
            "persist",
        )

    def accepted(self, username: str = USER) -> dict[str, set[str]]:
        """Jasmin's own record (its SMPP server's log) of the submit_sm it took from `username`: the
        destination of each and the queue message ids Jasmin gave them."""
        found: dict[str, set[str]] = {}
        pattern = re.compile(
            rf"SMS-MT \[uid:{re.escape(username)}\] .*?\[msgid:([^\]]+)\].*?\[to:b?'?([^'\]]+)"
        )
        for line in self._log("smpps.log"):
            match = pattern.search(line)
            if match:
                found.setdefault(match.group(2), set()).add(match.group(1))
        return found

    def forwarded(self) -> dict[str, str]:
        """The carrier's message id -> Jasmin's queue message id, for every submit_sm Jasmin
        forwarded to the carrier (one queue message sent twice shows as two carrier ids)."""
        pattern = re.compile(r"\[queue-msgid:([^\]]+)\] \[smpp-msgid:b?'?([^'\]]+)")
        return {m.group(2): m.group(1) for line in self._log("messages.log")
                if (m := pattern.search(line))}  # fmt: skip

    def _log(self, name: str) -> list[str]:
        path = self.workdir / "log" / name
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def connector_bound(self) -> bool:
        return "BOUND_TRX" in self.jcli("smppccm --list")
