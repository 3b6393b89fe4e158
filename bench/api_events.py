"""The API's events under the shipped web server (`tongdai web`: waitress, 8 threads) on a
throw-away PostgreSQL database.

A processing system drains a backlog of signed status events (10,000 by default: two per
dossier, accepted -> in process -> result ready) over `--concurrency` connections, as fast as
the server answers; meanwhile another client sends one interactive event every `--every`
seconds and its latency is measured (target: p99 under 200 ms). Printed: events/s of the
backlog, latency of both, errors, a check of the database (one event row per event, one audit
line per call), and the web process's peak resident memory (VmHWM).

    .venv/bin/python bench/api_events.py             # 10,000 events (a few minutes)
    .venv/bin/python bench/api_events.py --quick     # 1,000 events, a smoke test
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    TreeMemory,
    free_port,
    healthy,
    stop_server,
    summarize,
    throwaway_database,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TARGET_P99_MS = 200.0
ACTOR = {"name": "Nguyễn Văn Bình", "title": "Chuyên viên", "department": "Chi cục Thủy sản"}


def seed(env: dict[str, str], dossiers: int) -> list[str]:
    """`dossiers` accepted dossiers, complete, made through intake as a call and staff would."""
    from intake.dossiers import start_draft, submit
    from intake.lifecycle import Actor, change_status
    from intake.runtime import Runtime
    from intake.statuses import Channel, Delivery
    from intake.statuses import DossierStatus as S
    from plumbing.settings import load_settings

    runtime = Runtime.from_settings(load_settings(ROOT / "config.toml", env=env))
    calendar = runtime.calendar()
    codes: list[str] = []
    staff = Actor.system("bench")
    while len(codes) < dossiers:
        with runtime.sessions() as session, session.begin():
            for _ in range(min(500, dossiers - len(codes))):
                now = runtime.clock.now()
                draft = start_draft(session, procedure="vessel_safety", channel=Channel.PHONE,
                                    settings=runtime.settings, caller_phone="+84912345678",
                                    now=now)  # fmt: skip
                draft.notify_phone, draft.variant = "+84912345678", "new"
                draft.delivery = Delivery.COLLECT
                dossier = submit(session, draft, settings=runtime.settings, calendar=calendar,
                                 actor=Actor.system("ivr"), now=now)  # fmt: skip
                change_status(session, dossier, S.ACCEPTED, actor=staff, now=now,
                              calendar=calendar)  # fmt: skip
                codes.append(dossier.code)
    runtime.engine.dispose()
    return codes


def add_client(env: dict[str, str], name: str) -> tuple[str, str]:
    from api.clients import SecretBox, add_client
    from api.models import ApiScope
    from intake.runtime import Runtime
    from plumbing.settings import load_settings

    runtime = Runtime.from_settings(load_settings(ROOT / "config.toml", env=env))
    with runtime.sessions() as session, session.begin():
        new = add_client(session, SecretBox(runtime.settings.api_secrets_key), name,
                         ApiScope.WRITE, created_by="bench", now=runtime.clock.now(),
                         rate_per_minute=1_000_000)  # fmt: skip
        public_id = new.client.public_id
    runtime.engine.dispose()
    return public_id, new.secret


class Caller:
    """One keep-alive connection that signs and sends events."""

    def __init__(self, port: int, public_id: str, secret: str) -> None:
        self.port, self.public_id, self.secret = port, public_id, secret
        self.connection = http.client.HTTPConnection(HOST, port, timeout=30)

    def send(self, code: str, event_id: str, status: str) -> tuple[int, float]:
        from api.signing import signed_headers

        body = json.dumps({"event_id": event_id, "type": "status", "status": status,
                           "at": "2026-12-01T09:00:00+07:00", "actor": ACTOR},
                          ensure_ascii=False).encode()  # fmt: skip
        target = f"/api/v1/dossiers/{code}/events"
        headers = {"Content-Type": "application/json",
                   **signed_headers(self.public_id, self.secret, "POST", target, body)}  # fmt: skip
        started = time.perf_counter()
        try:
            self.connection.request("POST", target, body=body, headers=headers)
            reply = self.connection.getresponse()
            reply.read()
            status = reply.status
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
            status = 0
        return status, time.perf_counter() - started


def drain(port: int, client: tuple[str, str], work: queue.Queue, results: list) -> None:
    caller = Caller(port, *client)
    while True:
        try:
            code, event_id, status = work.get_nowait()
        except queue.Empty:
            return
        results.append(caller.send(code, event_id, status))


def interactive(port, client, codes: list[str], every: float, stop: threading.Event, results):
    caller = Caller(port, *client)
    for number, code in enumerate(codes):
        if stop.wait(every):
            return
        results.append(caller.send(code, f"desk-{number}", "in_process"))


def check_database(env: dict[str, str]) -> tuple[int, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        events = connection.execute(
            sa.text("SELECT count(*) FROM dossier_event WHERE actor LIKE 'api:%'")
        ).scalar_one()
        audits = connection.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE action = 'api.post_event'")
        ).scalar_one()
    engine.dispose()
    return events, audits


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="backlog size (even)")
    parser.add_argument("--concurrency", type=int, default=4, help="backlog connections")
    parser.add_argument("--every", type=float, default=0.2, help="seconds between desk events")
    parser.add_argument("--quick", action="store_true", help="1,000 events")
    args = parser.parse_args()
    if args.quick:
        args.events = 1_000
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from plumbing.settings import load_settings
    from tongdai.bootstrap import prepare_database

    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="tongdai-bench-") as tmp,
        throwaway_database("tongdai_bench") as db_url,
    ):
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "TONGDAI_SECRET_KEY": "bench",
            "TONGDAI_DATA_DIR": tmp,
            "TONGDAI_CONFIG": str(ROOT / "config.toml"),
            "TONGDAI_LOG_LEVEL": "WARNING",
        }
        prepare_database(load_settings(ROOT / "config.toml", env=env))
        env["TONGDAI_API_SECRETS_KEY"] = (Path(tmp) / "api_secrets_key").read_text().strip()
        started = time.perf_counter()
        backlog_dossiers = args.events // 2
        desk_dossiers = 2_000
        codes = seed(env, backlog_dossiers + desk_dossiers)
        print(f"seeded {len(codes)} accepted dossiers in {time.perf_counter() - started:.0f} s")
        backlog_client, desk_client = add_client(env, "backlog"), add_client(env, "desk")
        log = Path(tmp) / "web.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "tongdai", "web", "--host", HOST, "--port", str(port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            if not wait_until(lambda: server.poll() is not None or healthy(port), 60, 0.2):
                raise SystemExit("the web server did not start:\n" + log.read_text()[-2000:])
            memory = TreeMemory(server.pid).start()
            work: queue.Queue = queue.Queue()
            for step, status in ((0, "in_process"), (1, "result_ready")):
                for number, code in enumerate(codes[:backlog_dossiers]):
                    work.put((code, f"backlog-{number}-{step}", status))
            backlog: list[tuple[int, float]] = []
            desk: list[tuple[int, float]] = []
            stop = threading.Event()
            desk_thread = threading.Thread(
                target=interactive,
                args=(port, desk_client, codes[backlog_dossiers:], args.every, stop, desk),
            )
            # The events of one dossier must go in order: the two steps are queued as two
            # passes over the dossiers, and a pass is far longer than any request.
            drainers = [threading.Thread(target=drain, args=(port, backlog_client, work, backlog))
                        for _ in range(args.concurrency)]  # fmt: skip
            load_before = os.getloadavg()
            began = time.perf_counter()
            desk_thread.start()
            for thread in drainers:
                thread.start()
            for thread in drainers:
                thread.join()
            drained = time.perf_counter() - began
            stop.set()
            desk_thread.join()
            memory.stop()
        finally:
            stop_server(server, timeout=15)
        events, audits = check_database(env)

    ok = [t for s, t in backlog if s == 200]
    desk_ok = [t for s, t in desk if s == 200]
    errors = {s: sum(1 for c, _ in backlog + desk if c == s) for s, _ in backlog + desk if s != 200}
    b, d = summarize(ok), summarize(desk_ok)
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} before the run")
    print(f"server: tongdai web (waitress, 8 threads); backlog over {args.concurrency} connections")
    print(f"backlog: {len(ok)} of {len(backlog)} events applied in {drained:.1f} s:"
          f" {len(ok) / drained:.0f} events/s")  # fmt: skip
    print("latency ms        count     p50     p95     p99     max")
    print(f"  backlog      {b.count:8d} {_ms(b.p50)} {_ms(b.p95)} {_ms(b.p99)} {_ms(b.max)}")
    print(f"  interactive  {d.count:8d} {_ms(d.p50)} {_ms(d.p95)} {_ms(d.p99)} {_ms(d.max)}")
    verdict = "PASS" if d.count and d.p99 * 1000 < TARGET_P99_MS else "FAIL"
    print(f"interactive p99 < {TARGET_P99_MS:.0f} ms: {verdict}")
    print(f"errors (status: count): {errors or 'none'}")
    print(f"database: {events} API event rows for {len(ok) + len(desk_ok)} applied events,"
          f" {audits} audit lines for {len(backlog) + len(desk)} calls")  # fmt: skip
    peak = max(memory.peaks.values(), default=0)
    print(f"web process peak memory (VmHWM): {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
