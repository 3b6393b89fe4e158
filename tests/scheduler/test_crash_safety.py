"""Fault injection: dispatcher processes killed at random against a provider that fails, times out
and accepts late. Every notice must reach the provider exactly once, or fail with a reason.

The provider (tests/scheduler/fault_gateway.py) writes every message it accepts to a file; that
file, not the database, says what a citizen received. Three dispatcher processes
(tests/scheduler/dispatcher_worker.py) share ~300 notices; each may SIGKILL itself after a claim,
after the provider accepted, or after the record, and the test SIGKILLs one now and then too.
A dead one is replaced until nothing is pending, sending or unknown. The deadline counts only the
time with every dispatcher ready (tests/fleet.py): a slow start on a loaded machine is waited out.

The seed is printed and in every assertion message; TONGDAI_FAULT_SEED=<seed> replays the same
provider answers and kill draws (the timing, and so the interleaving, still differs a little).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from plumbing.db import make_engine, make_session_factory
from sms.models import Notice, NoticeStatus
from sms.outbox import enqueue
from tests.fleet import Fleet
from tests.scheduler.fault_gateway import read_acceptances

ROOT = Path(__file__).resolve().parents[2]
SEED_VARIABLE = "TONGDAI_FAULT_SEED"
NOTICES = 300
WORKERS = 3
BATCH = 10
KILL_PROBABILITY = 0.01
# The test kills a random ready dispatcher this often (seconds, drawn uniformly).
OUTSIDE_KILL_EVERY = (1.0, 3.0)
# A bound on waiting, not a speed target: 300 notices settle in about 30 s on a busy 2-core box,
# and a run beside the suite's heaviest tests (load 9) once needed more than 60. Starts of
# dispatchers are not counted (`Fleet.seconds_since`).
DEADLINE_SECONDS = 120.0
OUTSTANDING = (NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.UNKNOWN)
DONE = (NoticeStatus.SENT, NoticeStatus.DELIVERED)


def start_provider(seed: int, acceptances: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.scheduler.fault_gateway",
                "--seed",
                str(seed),
                "--log",
                str(acceptances),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    line = process.stdout.readline() if process.stdout else ""
    assert line.startswith("listening on "), f"the fault provider did not start: {line!r}"
    return process, f"http://127.0.0.1:{int(line.split()[-1])}"


def queue_notices(sessions, settings) -> list[int]:
    now = dt.datetime.now(dt.UTC)
    with sessions() as session, session.begin():
        notices = [
            enqueue(
                session,
                settings,
                kind="receipt",
                phone=f"091{number:07d}",
                now=now,
                values={
                    "code": f"000.00.53.H48.TD-261201-{number:04d}",
                    "procedure_short": "GP khai thac thuy san",
                    "due": "09/12/2026",
                },
            )
            for number in range(1, NOTICES + 1)
        ]
        return [notice.id for notice in notices]


def count_outstanding(sessions) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(Notice).where(Notice.status.in_(OUTSTANDING))
        )


def test_killed_dispatchers_and_a_faulty_provider_send_every_notice_exactly_once(
    pg_only_url: str, base_settings, tmp_path: Path
) -> None:
    seed = int(os.environ.get(SEED_VARIABLE) or secrets.randbelow(10**6))
    replay = f"seed {seed} (replay: {SEED_VARIABLE}={seed}; logs in {tmp_path})"
    print(f"crash test {replay}")
    engine = make_engine(pg_only_url)
    sessions = make_session_factory(engine)
    ids = queue_notices(sessions, base_settings)
    acceptances = tmp_path / "accepted.jsonl"
    provider, gateway_url = start_provider(seed, acceptances, tmp_path / "provider.log")
    fleet = Fleet(
        "tests.scheduler.dispatcher_worker",
        ["--db", pg_only_url, "--gateway", gateway_url,
         "--kill-probability", str(KILL_PROBABILITY), "--batch", str(BATCH)],
        seed, tmp_path,
    )  # fmt: skip
    outside = random.Random(f"{seed}:outside")
    started = time.monotonic()
    try:
        fleet.fill(WORKERS)
        # The kills keep their pace on the same clock as the deadline: time with all ready.
        next_kill = fleet.seconds_since(started) + outside.uniform(*OUTSIDE_KILL_EVERY)
        left = count_outstanding(sessions)
        while left and fleet.seconds_since(started) < DEADLINE_SECONDS:
            time.sleep(0.1)
            if fleet.seconds_since(started) >= next_kill:
                fleet.kill_one(outside)
                next_kill = fleet.seconds_since(started) + outside.uniform(*OUTSIDE_KILL_EVERY)
            fleet.reap()
            if len(fleet.alive) < WORKERS:
                fleet.fill(WORKERS)
            left = count_outstanding(sessions)
        # The survivors exit by themselves once idle; a late duplicate would show up meanwhile.
        fleet.wait_all(10.0)
    finally:
        for process in fleet.alive:
            process.kill()
            process.wait()
        provider.terminate()  # waits for late answers, which still record their acceptance
        try:
            provider.wait(timeout=10)
        except subprocess.TimeoutExpired:
            provider.kill()
            provider.wait()
    seconds = fleet.seconds_since(started)
    starting = fleet.waited

    accepted: dict[int, list[str]] = {}
    for record in read_acceptances(acceptances):
        accepted.setdefault(int(record["notice_id"]), []).append(str(record["provider_id"]))
    with sessions() as session:
        rows = {n.id: n for n in session.scalars(select(Notice).where(Notice.id.in_(ids)))}
    engine.dispose()
    statuses = Counter(str(notice.status) for notice in rows.values())
    duplicates = {i: pids for i, pids in accepted.items() if len(pids) > 1}
    lost = sorted(i for i in accepted if rows[i].status not in DONE)
    phantoms = sorted(
        i for i, n in rows.items() if n.status in DONE and n.provider_id not in accepted.get(i, [])
    )
    failed_silently = sorted(
        i for i, n in rows.items() if n.status is NoticeStatus.FAILED and not n.error
    )
    summary = (
        f"{replay}: {NOTICES} notices in {seconds:.1f} s (and {starting:.1f} s waiting for "
        f"dispatchers to start), statuses {dict(statuses)}, "
        f"{len(duplicates)} duplicates, {len(lost)} lost, {len(phantoms)} phantoms; "
        f"{fleet.started} dispatchers started, {fleet.self_killed} killed themselves, "
        f"{len(fleet.killed_by_test)} killed by the test, {fleet.exited} exited when done"
    )
    print(summary)

    assert not fleet.crashed, f"dispatchers died with exit codes {fleet.crashed}; {summary}"
    unsettled = sorted(i for i, n in rows.items() if n.status in OUTSTANDING)
    assert not unsettled, f"not settled within {DEADLINE_SECONDS:.0f} s: {unsettled}; {summary}"
    assert not duplicates, f"accepted more than once: {duplicates}; {summary}"
    assert not lost, f"accepted but not recorded as sent: {lost}; {summary}"
    assert not phantoms, f"recorded as sent but never accepted: {phantoms}; {summary}"
    assert not failed_silently, f"failed without a reason: {failed_silently}; {summary}"
    assert statuses[NoticeStatus.SENT] + statuses[NoticeStatus.FAILED] == NOTICES, summary
    assert fleet.self_killed + len(fleet.killed_by_test) > 0, f"nothing was killed; {summary}"
