"""Does an unauthenticated flood of oversized bodies slow down real callers?

Starts the web app as `python -m tongdai web` (waitress, 8 threads) on a throw-away PostgreSQL
database, then runs two phases of the same length on 127.0.0.1:

- quiet: one normal caller walks whole licence calls (bench/licence_call.py, 19 signed webhooks
  each as Twilio sends them, on a connection each as nginx opens them: bench/twilio_call.py),
  pausing 20 ms before each answer, while a monitor polls /healthz;
- abuse: the same, while `--abusers` (4) clients send, back to back, the bodies that exhausted
  the app before it had limits: 500,000 form fields (4.5 MB) and one 100 MB field to /twilio/
  with a signature header, the same fields chunked (no Content-Length), 3,000 fields in 27 KB,
  and 25,000 fields in 225 KB to the staff log-in form (the last two under the size limit).
  Each abuser is a process of its own.

Prints p50/p99 of the caller's steps and of /healthz in each phase, the ratio abuse/quiet of the
p99s against the target of at most 2, what the abusive requests got back (status, time), and the
server's resident memory (now and peak). Loops are bounded by `--seconds` and by a request count.

    .venv/bin/python bench/abuse.py [--seconds 20] [--abusers 4]
    .venv/bin/python bench/abuse.py --quick      # smoke test: 5 s phases, 2 abusers
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from twilio.request_validator import RequestValidator

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    CpuWindow,
    Summary,
    ancestors,
    free_port,
    healthy,
    status_kib,
    stop_server,
    summarize,
    throwaway_database,
    wait_until,
)
from bench.licence_call import vessel_number
from bench.twilio_call import HOST, CallFailed, TwilioCall, post_webhook

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0
MAX_REQUESTS = 100_000  # per client and phase: the loops end even if the clock misbehaves
CHUNK = 64 * 1024
THINK = 0.02  # the caller's pause before each answer: a short one, to make many requests


# ---- abusive bodies (built once per abusing process; the 100 MB one is never held whole) -------


def _fields(count: int) -> bytes:
    return b"".join(b"f%06d=&" % i for i in range(count))


def _pieces(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def _one_field(size: int) -> Iterator[bytes]:
    block = b"a" * CHUNK
    yield b"Body="
    for start in range(5, size, CHUNK):
        yield block[: min(CHUNK, size - start)]


def _chunked(parts: Iterator[bytes]) -> Iterator[bytes]:
    for part in parts:
        yield b"%x\r\n%s\r\n" % (len(part), part)
    yield b"0\r\n\r\n"


@dataclass(frozen=True)
class Abuse:
    name: str
    path: str
    fields: int  # 0: one 100 MB field
    chunked: bool = False

    def request(self, bodies: dict[int, bytes]) -> tuple[bytes, Iterator[bytes]]:
        if self.fields:
            body = bodies.setdefault(self.fields, _fields(self.fields))
            parts, length = _pieces(body), len(body)
        else:
            parts, length = _one_field(100_000_000), 100_000_000
        if self.chunked:
            parts, framing = _chunked(parts), "Transfer-Encoding: chunked"
        else:
            framing = f"Content-Length: {length}"
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {HOST}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {secrets.token_urlsafe(20)}\r\n{framing}\r\n\r\n"
        )
        return head.encode(), parts


ABUSES = [
    Abuse("500k fields, 4.5 MB", "/twilio/sms", 500_000),
    Abuse("one 100 MB field", "/twilio/voice", 0),
    Abuse("500k fields chunked", "/twilio/sms", 500_000, chunked=True),
    Abuse("3k fields, 27 KB", "/twilio/sms", 3_000),
    Abuse("staff: 25k fields 225KB", "/admin/login", 25_000),
]


def send_abuse(port: int, abuse: Abuse, bodies: dict[int, bytes]) -> tuple[str, float]:
    """(what came back, seconds): `413`, ..., or `reset` when the server closed on us."""
    head, parts = abuse.request(bodies)
    started = time.perf_counter()
    try:
        with socket.create_connection((HOST, port), timeout=30) as sock:
            sock.sendall(head)
            try:
                for part in parts:
                    sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading; its answer may be waiting
            line = sock.makefile("rb").readline()
    except (ConnectionResetError, BrokenPipeError):
        return "reset", time.perf_counter() - started
    except TimeoutError:
        return "timeout", time.perf_counter() - started
    status = line.split()[1].decode() if line.startswith(b"HTTP/") else "reset"
    return status, time.perf_counter() - started


def abuser(port: int, index: int, stop, results) -> None:
    """One abusive client, in its own process at the lowest CPU priority: a real attacker's
    CPU is on another machine, so what is measured is the work the server does for it, not the
    attacker's own work on this machine's two cores."""
    os.nice(19)
    bodies: dict[int, bytes] = {}
    sent: list[tuple[str, str, float]] = []
    for n in range(MAX_REQUESTS):
        if stop.is_set():
            break
        abuse = ABUSES[(index + n) % len(ABUSES)]
        outcome, spent = send_abuse(port, abuse, bodies)
        sent.append((abuse.name, outcome, spent))
    results.put(sent)


# ---- one phase ---------------------------------------------------------------------------------


@dataclass
class Phase:
    steps: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    abuse: dict[str, Counter] = field(default_factory=dict)
    abuse_seconds: dict[str, list[float]] = field(default_factory=dict)
    rss_kib: int | None = None
    cpu: str = ""


def classifier(server_pid: int) -> Callable[[int, str], str]:
    """The group a process's CPU time belongs to: the web server, PostgreSQL, the abusers (child
    processes of this one), this process (caller and monitor), or anything else on the machine."""
    me = os.getpid()

    def classify(pid: int, comm: str) -> str:
        if pid == server_pid:
            return "web"
        if comm.startswith("postgres"):
            return "postgres"
        if pid == me:
            return "caller"
        if me in ancestors(pid):
            return "abusers"
        return "other"

    return classify


def run_phase(
    port: int, token: str, seconds: float, abusers: int, first_call: int, server_pid: int
) -> Phase:
    phase = Phase()
    window = CpuWindow(classifier(server_pid)).start()
    stop = threading.Event()

    def caller() -> None:
        validator = RequestValidator(token)
        for i in range(first_call, first_call + MAX_REQUESTS):
            if stop.is_set():
                return
            try:
                call = TwilioCall(f"+8491{i:07d}", vessel_number(i))
                webhook = call.next
                while webhook is not None:
                    if webhook.kind != "dial-in" and stop.wait(THINK):
                        return  # the phase is over: the call is abandoned
                    status, body, spent = post_webhook(port, webhook, validator)
                    call.answered(status, body)
                    phase.steps.append(spent)
                    webhook = call.next
                phase.calls += 1
            except (CallFailed, OSError, http.client.HTTPException) as exc:
                phase.errors.append(f"{type(exc).__name__}: {exc}")

    def monitor() -> None:
        for _ in range(MAX_REQUESTS):
            if stop.wait(0.1):
                return
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
                connection.request("GET", "/healthz")
                status = connection.getresponse().status
                connection.close()
            except OSError as exc:
                phase.errors.append(f"/healthz: {exc}")
                continue
            phase.health.append(time.perf_counter() - started)
            if status != 200:
                phase.errors.append(f"/healthz: HTTP {status}")

    context = multiprocessing.get_context("fork")
    stop_abuse, results = context.Event(), context.Queue()
    processes = [
        context.Process(target=abuser, args=(port, i, stop_abuse, results), daemon=True)
        for i in range(abusers)
    ]
    for process in processes:
        process.start()
    threads = [threading.Thread(target=caller), threading.Thread(target=monitor)]
    for thread in threads:
        thread.daemon = True
        thread.start()
    time.sleep(seconds)
    stop.set()
    stop_abuse.set()
    for thread in threads:
        thread.join(timeout=60)
    phase.cpu = window.stop().shares()
    for _ in processes:
        for name, outcome, spent in results.get(timeout=60):
            phase.abuse.setdefault(name, Counter())[outcome] += 1
            phase.abuse_seconds.setdefault(name, []).append(spent)
    for process in processes:
        process.join(timeout=10)
    return phase


def _ms(summary: Summary) -> str:
    return (
        f"n={summary.count:<5} p50 {summary.p50 * 1000:7.1f} ms  p99 {summary.p99 * 1000:7.1f} ms"
    )


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "unavailable"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--abusers", type=int, default=4, help="abusive clients in phase two")
    parser.add_argument("--quick", action="store_true", help="smoke test: 5 s phases, 2 abusers")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.abusers = 5.0, 2

    from plumbing.settings import load_settings
    from tongdai.bootstrap import prepare_database

    token = secrets.token_hex(16)
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="tongdai-abuse-") as data,
        throwaway_database("tongdai_bench_abuse") as url,
    ):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TONGDAI_")},
            "DATABASE_URL": url,
            "TWILIO_AUTH_TOKEN": token,
            "TONGDAI_SECRET_KEY": secrets.token_hex(16),
            "TONGDAI_DATA_DIR": data,
            "TONGDAI_PUBLIC_URL": f"http://{HOST}:{port}",
            "TONGDAI_CONFIG": str(ROOT / "config.toml"),
            "TONGDAI_SMS_GATEWAY": "console",
            "TONGDAI_LOG_LEVEL": "ERROR",
        }
        settings = load_settings(ROOT / "config.toml", env=env)
        prepare_database(settings)
        log = Path(data) / "web.log"
        with log.open("wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "tongdai", "web", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            if not wait_until(lambda: server.poll() is not None or healthy(port), 60):
                raise SystemExit("the web app did not start")
            if server.poll() is not None:
                raise SystemExit(log.read_text()[-3000:])
            web = settings.web
            print(
                f"tongdai web (waitress, 8 threads) on {HOST}:{port}, PostgreSQL "
                f"{url.rsplit('/', 1)[1]}; limits: body {web.max_body_kib} KiB "
                f"(/twilio/ {web.twilio_max_body_kib} KiB), {web.max_form_fields} fields; "
                f"{os.cpu_count()} cores, load {', '.join(f'{n:.1f}' for n in os.getloadavg())}"
            )
            run_phase(port, token, min(3.0, args.seconds), 0, 60_000, server.pid)  # warm-up
            print(f"rss after warm-up: {_mib(status_kib(server.pid, 'VmRSS'))}")
            quiet = run_phase(port, token, args.seconds, 0, 0, server.pid)
            quiet.rss_kib = status_kib(server.pid, "VmRSS")
            abused = run_phase(port, token, args.seconds, args.abusers, 30_000, server.pid)
            abused.rss_kib = status_kib(server.pid, "VmRSS")
            peak = status_kib(server.pid, "VmHWM")
        finally:
            stop_server(server)
        report(quiet, abused, peak, args)


def report(quiet: Phase, abused: Phase, peak_kib: int | None, args) -> None:
    print(f"\n{'':<24}{'quiet':<44}under abuse ({args.abusers} clients)")
    verdicts = []
    for name, pick in (("caller steps", lambda p: p.steps), ("/healthz", lambda p: p.health)):
        before, after = summarize(pick(quiet)), summarize(pick(abused))
        ratio = after.p99 / before.p99 if before.p99 else float("nan")
        verdicts.append(ratio <= TARGET_RATIO)
        print(f"{name:<24}{_ms(before):<44}{_ms(after)}   p99 ratio {ratio:.2f}")
    print(f"whole calls completed   {quiet.calls:<44}{abused.calls}")
    errors = quiet.errors + abused.errors
    print(f"caller/monitor errors   {len(quiet.errors):<44}{len(abused.errors)}")
    for error in errors[:5]:
        print(f"  {error}")
    print("\nabusive requests (what came back; p50 / max seconds until the answer):")
    for abuse in ABUSES:
        outcomes = abused.abuse.get(abuse.name, Counter())
        spent = summarize(abused.abuse_seconds.get(abuse.name, []))
        got = ", ".join(f"{k} x{v}" for k, v in outcomes.most_common()) or "none sent"
        print(f"  {abuse.name:<22} {got:<28} {spent.p50:6.3f} / {spent.max:6.3f}")
    print(f"\nCPU, shares of all cores: quiet: {quiet.cpu}")
    print(f"                          abuse: {abused.cpu}")
    print(
        f"server resident memory: {_mib(quiet.rss_kib)} after quiet, "
        f"{_mib(abused.rss_kib)} after abuse, peak {_mib(peak_kib)}"
    )
    result = "PASS" if all(verdicts) else "FAIL"
    print(f"{result}: p99 under abuse within {TARGET_RATIO:g}x of the quiet run")


if __name__ == "__main__":
    main()
