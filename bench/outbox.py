"""The outbox under load: 100,000 due notices drained by 2 dispatcher processes on PostgreSQL.

    .venv/bin/python bench/outbox.py [--notices 100000] [--processes 2] [--batch 100]

Needs PostgreSQL at TONGDAI_TEST_PG_URL (default the local server); uses a throw-away database.
The notices are bulk-inserted with one INSERT ... SELECT generate_series, then each dispatcher
process loops `dispatch_due` (no rate limit, `--batch` notices per claim, config.toml's
`dispatch_batch` by default) until nothing is left to claim.

The gateway is an in-process counting gateway in each dispatcher process, not the crash test's
HTTP fake: an HTTP round trip per message would measure the HTTP server rather than the outbox
(claims, one commit per sent message), and that fake's failures would measure retries. Each
gateway still appends every notice id it accepts to its own file (one write per message), so
duplicates across the processes are counted from what the "provider" accepted, not from the
database.

Prints messages/s over the whole drain, duplicates (must be 0) and notices never accepted, the
database's final statuses, the batch size, and each dispatcher process's peak resident memory
(VmHWM) and CPU time per message (user + system of the dispatcher process alone; on a shared
machine a steadier comparison of two versions of the dispatcher than messages/s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import status_kib, throwaway_database  # noqa: E402

INSERT = """
INSERT INTO notice (kind, phone, text, encoding, segments, urgent, status, attempts,
                    next_attempt_at, created_at, updated_at)
SELECT 'receipt',
       '+8491' || lpad((g % 10000000)::text, 7, '0'),
       'TTHCC Quang Ngai: Da tiep nhan ho so 000.00.53.H48.TD-261201-' || lpad(g::text, 6, '0')
           || ' (GP khai thac thuy san). Hen tra KQ 09/12/2026. Hoi dap: 02553822222',
       'GSM-7', 1, true, 'pending', 0, now() - interval '1 minute', now(), now()
FROM generate_series(1, :count) AS g
"""


class CountingGateway:
    """Accepts everything at once and writes each accepted notice id to a file."""

    name = "bench"

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8", buffering=1)  # a write per line
        self._prefix = f"B{os.getpid()}-"
        self.accepted = 0

    def send(self, message):
        from sms.gateways.base import Accepted

        self.accepted += 1
        self._file.write(f"{message.notice_id}\n")
        return Accepted(f"{self._prefix}{self.accepted}", "sent")

    def close(self) -> None:
        self._file.close()


def worker(database_url: str, out: Path, batch: int, start_at: float) -> None:
    """One dispatcher process: drain the outbox, then print a JSON line about itself."""
    from intake.clock import SystemClock
    from plumbing.db import make_engine, make_session_factory
    from plumbing.settings import load_settings
    from sms.dispatch import dispatch_due

    settings = load_settings(
        ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "bench", "DATABASE_URL": database_url}
    )
    settings = settings.model_copy(
        update={"scheduler": settings.scheduler.model_copy(update={"rate_per_second": 0})}
    )
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    gateway = CountingGateway(out)
    clock = SystemClock()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = os.times()
    ticks = 0
    while True:
        report = dispatch_due(sessions, gateway, settings, clock, limit=batch)
        ticks += 1
        if not report.claimed:
            break
    finished = time.time()
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    gateway.close()
    engine.dispose()
    summary = {
        "pid": os.getpid(),
        "accepted": gateway.accepted,
        "ticks": ticks,
        "finished": finished,
        "vmhwm_kib": status_kib(os.getpid(), "VmHWM"),
        "cpu_seconds": cpu,
    }
    print(json.dumps(summary), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch", type=int, default=None, help="default: dispatch_batch")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.db, args.out, args.batch, args.start_at)
        return

    import sqlalchemy as sa

    from plumbing.settings import load_settings
    from tongdai.migrate import upgrade

    batch = (
        args.batch
        or load_settings(
            ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "bench"}
        ).scheduler.dispatch_batch
    )
    with throwaway_database("tongdai_bench_outbox") as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        engine = sa.create_engine(url)
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(sa.text(INSERT), {"count": args.notices})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE notice"))
        print(
            f"outbox: {args.notices} pending notices bulk-inserted in "
            f"{time.perf_counter() - started:.1f} s; {args.processes} dispatcher processes, "
            f"batch {batch} per claim, no rate limit, in-process counting gateway"
        )

        start_at = time.time() + 3.0  # every process imported and connected by then
        files = [Path(tmp) / f"accepted-{n}.txt" for n in range(args.processes)]
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    "--db",
                    url,
                    "--out",
                    str(path),
                    "--batch",
                    str(batch),
                    "--start-at",
                    str(start_at),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for path in files
        ]
        reports = []
        for process in processes:
            out, _ = process.communicate(timeout=3600)
            if process.returncode != 0:
                raise SystemExit(f"dispatcher {process.pid} exited with {process.returncode}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
        elapsed = max(r["finished"] for r in reports) - start_at

        accepted = Counter(
            int(line) for path in files for line in path.read_text().splitlines() if line
        )
        with engine.connect() as connection:
            statuses = dict(
                connection.execute(sa.text("SELECT status, count(*) FROM notice GROUP BY 1")).all()
            )
            ids = set(connection.scalars(sa.text("SELECT id FROM notice")))
        engine.dispose()
        duplicates = sum(1 for count in accepted.values() if count > 1)
        never = len(ids - set(accepted))
        total = sum(accepted.values())
        print(
            f"sent {total} messages in {elapsed:.1f} s: {total / elapsed:,.0f} messages/s "
            f"({args.processes} processes, batch {batch})"
        )
        print(f"duplicates: {duplicates}   never accepted: {never}   database: {statuses}")
        for report in reports:
            print(
                f"dispatcher pid {report['pid']}: {report['accepted']} sent in "
                f"{report['ticks']} ticks, peak resident memory "
                f"{report['vmhwm_kib'] / 1024:.1f} MiB (VmHWM), CPU "
                f"{1000 * report['cpu_seconds'] / max(report['accepted'], 1):.2f} ms per message"
            )
        if duplicates:
            raise SystemExit(f"FAIL: {duplicates} notices were accepted more than once")


if __name__ == "__main__":
    main()
