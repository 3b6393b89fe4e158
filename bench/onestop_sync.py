"""The portal sync after an outage: a backlog of changed dossiers drained through the portal double.

    .venv/bin/python bench/onestop_sync.py [--dossiers 10000] [--batches 1,20] [--workers 1]

Needs PostgreSQL at TONGDAI_TEST_PG_URL (default the local server); uses a throw-away database.
Simulates a 2-hour portal outage: `--dossiers` phone dossiers are received and moved one step on
(accepted) with the sync enabled and no worker running, so each waits with one snapshot and two
progress records. Then, for each batch size in `--batches`, the queue is reset, a fresh portal
double (tests/onestop/portal_double.py, no faults) is started, and `--workers` sync processes
(`sync_due` with the HTTP client, as the scheduler runs it) drain the backlog.

Prints, per batch size: records/s over the whole drain, portal calls, and each sync process's
peak resident memory (VmHWM) and CPU seconds; then checks the portal holds one created record
and two progress records per dossier.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import cpu_seconds, status_kib, throwaway_database  # noqa: E402

PER_DAY = 1500  # codes per local day stay inside the phone channel's range (8000-9999)


def _settings(url: str, portal_url: str, batch: int):
    from plumbing.settings import load_settings

    settings = load_settings(
        ROOT / "config.toml",
        env={
            "TONGDAI_SECRET_KEY": "bench",
            "DATABASE_URL": url,
            "TONGDAI_ONESTOP_URL": portal_url,
            "TONGDAI_ONESTOP_USER": "tongdai",
            "TONGDAI_ONESTOP_PASSWORD": "mat-khau",
            "TONGDAI_ONESTOP_DSTCODE": "DVCQG-TEST",
        },
    )
    onestop = settings.onestop.model_copy(update={"enabled": True, "batch_size": batch})
    return settings.model_copy(update={"onestop": onestop})


def fill(url: str, dossiers: int) -> None:
    """The outage: dossiers received and accepted, their records queued, nothing sent."""
    from intake.clock import FixedClock
    from intake.lifecycle import Actor, change_status
    from intake.models import Role
    from intake.runtime import Runtime
    from intake.statuses import DossierStatus
    from onestop import sync
    from onestop.catalogue import store_entry
    from plumbing.db import make_engine, make_session_factory
    from tests.factories import create_dossier
    from tests.onestop.portal_book import CATALOGUE
    from tongdai.migrate import upgrade

    upgrade(url)
    settings = _settings(url, "http://unused", 20)
    sync.install(settings)
    start = dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC)
    clock = FixedClock(start)
    engine = make_engine(url)
    runtime = Runtime(settings, engine, make_session_factory(engine), clock)
    staff = Actor.staff("lan", Role.OPERATOR)
    with runtime.sessions() as session, session.begin():
        for code, entry in CATALOGUE.items():
            store_entry(session, code, entry, start)
    for first in range(0, dossiers, 500):
        with runtime.sessions() as session, session.begin():
            for number in range(first, min(first + 500, dossiers)):
                clock.set(start + dt.timedelta(days=number // PER_DAY, seconds=number % PER_DAY))
                dossier = create_dossier(session, runtime, owner_name=f"Chủ tàu {number}")
                change_status(session, dossier, DossierStatus.ACCEPTED, actor=staff,
                              now=clock.now(), calendar=runtime.calendar())  # fmt: skip
    engine.dispose()


def reset(url: str) -> None:
    from sqlalchemy import text

    from plumbing.db import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE onestop_sync SET status = 'pending', attempts = 0, sent_at = NULL,"
                " claimed_at = NULL, error = NULL, next_attempt_at = created_at"
            )
        )
    engine.dispose()


def drain(url: str, portal_url: str, batch: int) -> None:
    """One sync process: loop sync_due until nothing is claimed; print its figures as JSON."""
    from intake.clock import SystemClock
    from onestop.http_portal import HttpPortal
    from onestop.sync import sync_due
    from plumbing.db import make_engine, make_session_factory

    settings = _settings(url, portal_url, batch)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    portal = HttpPortal.from_settings(settings)
    clock = SystemClock()
    sent = 0
    idle = 0
    while idle < 3:
        report = sync_due(sessions, portal, settings, clock, limit=max(100, batch * 5))
        sent += len(report.sent)
        idle = 0 if report.claimed else idle + 1
    print(json.dumps({"sent": sent, "logins": portal.logins}))


def start_double() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.onestop.portal_double"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    return process, f"http://127.0.0.1:{int(line.split()[-1])}"


def portal_state(url: str) -> dict:
    with urllib.request.urlopen(url + "/_double/state", timeout=30) as reply:
        return json.loads(reply.read())


def run(url: str, batch: int, workers: int, dossiers: int) -> None:
    reset(url)
    double, portal_url = start_double()
    try:
        started = time.monotonic()
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--drain",
                    url,
                    portal_url,
                    str(batch),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(workers)
        ]
        peaks: dict[int, int] = {}
        cpu: dict[int, float] = {}
        while any(p.poll() is None for p in processes):
            for p in processes:
                if p.poll() is None:
                    peaks[p.pid] = status_kib(p.pid, "VmHWM") or peaks.get(p.pid, 0)
                    cpu[p.pid] = cpu_seconds(p.pid) or cpu.get(p.pid, 0.0)
            time.sleep(0.2)
        seconds = time.monotonic() - started - 3 * 0  # idle rounds end at once: no sleep
        outputs = [json.loads(p.stdout.read() if p.stdout else "{}") for p in processes]
        state = portal_state(portal_url)
    finally:
        double.terminate()
        double.wait()
    records = sum(o["sent"] for o in outputs)
    calls = sum(state["calls"].values())
    print(
        f"batch {batch:>3}: {records} records in {seconds:.1f} s = {records / seconds:.0f} "
        f"records/s ({dossiers / seconds:.1f} dossiers/s); {calls} portal calls; "
        f"log-ins {state['logins']}; peak RSS per process "
        f"{', '.join(f'{kib / 1024:.0f} MiB' for kib in peaks.values())}; "
        f"CPU {', '.join(f'{s:.1f} s' for s in cpu.values())}"
    )
    creates = state["creates"]
    progress = state["progress"]
    complete = len(creates) == dossiers and all(v == 1 for v in creates.values())
    ordered = all(len(v) == 2 for v in progress.values()) and len(progress) == dossiers
    print(f"           one record per dossier: {complete}; both progress records: {ordered}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--drain":
        drain(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=10000)
    parser.add_argument("--batches", default="1,20")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("TONGDAI_LOG_LEVEL", "WARNING")
    with throwaway_database("bench_onestop") as url:
        started = time.monotonic()
        fill(url, args.dossiers)
        print(f"{args.dossiers} dossiers changed during the outage "
              f"(filled in {time.monotonic() - started:.0f} s)")  # fmt: skip
        for batch in (int(b) for b in args.batches.split(",")):
            run(url, batch, args.workers, args.dossiers)


if __name__ == "__main__":
    main()
