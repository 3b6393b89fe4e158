"""Notice calls under load: 200 notices due for a call, 2 lines, on PostgreSQL.

    .venv/bin/python bench/notice_calls.py [--notices 200] [--lines 2]

Needs PostgreSQL at TONGDAI_TEST_PG_URL (default the local server); uses a throw-away database.
Half the notices go to landlines (queued as calls at once), half to mobiles whose SMS failed
(held beside the SMS, made due by the scheduler's rules). The clock is frozen on a working day
inside the calling hours. Each wave is one `place_due` round (what an AGI process does every
`callback_poll_seconds`): it may place only as many calls as lines are free; the "front end"
records every call it is asked to place, then every call placed is answered and confirmed before
the next wave.

Prints: the waves taken against the expected ceil(notices / lines), the calls placed in all and
any placed twice (must be 0), the time of the scheduler's rules scan that made the held calls
due and of each wave, and this process's peak resident memory (VmHWM) before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import status_kib, throwaway_database  # noqa: E402

VN = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=VN)  # a Tuesday, inside the calling hours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=200)
    parser.add_argument("--lines", type=int, default=2)
    options = parser.parse_args()

    from sqlalchemy import update

    from intake.clock import FixedClock
    from intake.runtime import Runtime
    from ivr.notice_calls import place_due, record_outcome
    from plumbing.db import make_engine, make_session_factory
    from plumbing.settings import load_settings
    from scheduler.rules import run_rules
    from sms.models import Notice, NoticeCallOutcome, NoticeStatus
    from sms.outbox import enqueue
    from tongdai.migrate import upgrade

    memory_before = status_kib(os.getpid(), "VmHWM")
    with throwaway_database("bench_notice_calls") as url:
        upgrade(url)
        base = load_settings(ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "bench"})
        calls = base.notice_calls.model_copy(update={
            "enabled": True, "max_lines": options.lines, "trunk_lines": options.lines + 1,
            "keep_free_lines": 1, "pace_seconds": 0,
        })  # fmt: skip
        settings = base.model_copy(update={"database_url": url, "notice_calls": calls})
        engine = make_engine(url)
        clock = FixedClock(START)
        runtime = Runtime(settings, engine, make_session_factory(engine), clock)
        values = {"code": "X-261201-0001", "due": "2026-12-09", "procedure_short": "GP",
                  "papers": "", "reason": "", "documents": "", "tracking": ""}  # fmt: skip
        with runtime.sessions() as session, session.begin():
            for number in range(options.notices):
                landline = number % 2 == 0
                phone = f"0255{3800000 + number}" if landline else f"09{12000000 + number:08d}"
                enqueue(session, settings, kind="result_ready", phone=phone, values=values,
                        now=clock.now(), dedupe_key=f"bench:{number}")  # fmt: skip
            # The mobiles' SMS failed (a phone off at sea): the calls held beside them are due.
            session.execute(update(Notice).values(status=NoticeStatus.FAILED, error_code="30003"))
        started = time.perf_counter()
        run_rules(runtime.sessions, settings, runtime.calendar(), clock.now())
        scan_seconds = time.perf_counter() - started

        placed: list[int] = []

        def front_end(call) -> str:
            placed.append(call.call_id)
            return f"c{call.call_id}"

        wave_seconds: list[float] = []
        waves = 0
        while True:
            started = time.perf_counter()
            report = place_due(runtime.sessions, settings, runtime.calendar(), clock.now, front_end)
            wave_seconds.append(time.perf_counter() - started)
            if not report.placed:
                break
            waves += 1
            with runtime.sessions() as session, session.begin():
                for call_id in report.placed:
                    record_outcome(session, settings, runtime.calendar(), call_id,
                                   NoticeCallOutcome.CONFIRMED, clock.now())  # fmt: skip
            clock.advance(dt.timedelta(seconds=30))
            if waves > options.notices:
                break
        engine.dispose()
    memory_after = status_kib(os.getpid(), "VmHWM")
    twice = sum(1 for count in Counter(placed).values() if count > 1)
    expected = math.ceil(options.notices / options.lines)
    print(f"notices: {options.notices} (half landline, half SMS failed), lines: {options.lines}")
    print(f"waves: {waves} (expected {expected}); calls placed: {len(placed)}, "
          f"distinct: {len(set(placed))}, placed twice: {twice}")  # fmt: skip
    print(f"rules scan making the held calls due: {scan_seconds * 1000:.1f} ms")
    print(f"wave (place_due round): median {statistics.median(wave_seconds) * 1000:.1f} ms, "
          f"max {max(wave_seconds) * 1000:.1f} ms")  # fmt: skip
    print(f"peak resident memory (VmHWM): {memory_before} KiB before, {memory_after} KiB after")


if __name__ == "__main__":
    main()
