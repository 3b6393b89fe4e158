"""One notice-rule tick (`run_rules`) as the dossier table grows: 10k, 100k and 1M dossiers.

    .venv/bin/python bench/rule_scan.py [--sizes 10000,100000,1000000] [--due 1000]

Needs PostgreSQL at TONGDAI_TEST_PG_URL (default the local server); uses a throw-away database,
migrated and with the calendar seeded. For each size the tables are emptied and bulk-loaded with
INSERT ... SELECT generate_series (one `received` event per dossier, the event cursor already at
the last event, then VACUUM ANALYZE as autovacuum would have done):

- `--due` (1,000) open dossiers past their due day with no apology: the tick's work;
- of the rest, 50 % returned long ago, 30 % open and not yet due, 10 % late but already
  apologised, 10 % results waiting for collection (recent, or already reminded).

The clock is a Tuesday, 1 December 2026, 09:00 in Vietnam. Prints, per size: the load time, the
time of the tick (which sends the apologies: 1,000 new dates, alerts and apology notices), its
ratio to the first size's tick, the time of a second, idle tick, and EXPLAIN (ANALYZE, BUFFERS)
of the overdue query exactly as scheduler/rules.py builds it (run in a rolled-back transaction,
before the tick), with whether it uses ix_dossier_apology_candidates, and summaries
(index, rows filtered out, time) of that query once nothing is due, of the reminder query and of
the at-risk query (dossiers due by the next working day: proposed apologies).
The tick should cost what is due, not what is stored: its time must stay flat as the table grows;
the last line says whether it did.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from bench._common import throwaway_database  # noqa: E402

VN = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=VN)
TODAY = NOW.date()
INDEX = "ix_dossier_apology_candidates"
BATCH = 500  # run_rules' default batch
FLAT_RATIO = 1.3  # tick time at the largest size over the smallest, allowing for noise

LOAD_DOSSIERS = """
WITH s AS (
    SELECT g,
           CASE WHEN g <= :due THEN 'due'
                WHEN g % 10 < 5 THEN 'returned'
                WHEN g % 10 < 8 THEN 'not_yet_due'
                WHEN g % 10 = 8 THEN 'apologised'
                ELSE 'ready' END AS kind,
           (ARRAY['received', 'accepted', 'in_process', 'payment_requested'])[1 + g % 4] AS open,
           '+8491' || lpad((g % 10000000)::text, 7, '0') AS phone
    FROM generate_series(1, :size) AS g
)
INSERT INTO dossier (code, procedure, variant, channel, status, delivery, caller_phone,
                     notify_phone, received_at, due_date, new_due_date, supplement_count,
                     apology_count, apology_reason, result_ready_at, reminder_sent_at, form,
                     created_at, updated_at, version, needs_phone_call)
SELECT '000.00.53.H48.TD-BENCH-' || g,
       'fishing_licence', 'new', 'phone',
       CASE kind WHEN 'due' THEN open WHEN 'returned' THEN 'returned'
                 WHEN 'not_yet_due' THEN open WHEN 'apologised' THEN 'in_process'
                 ELSE 'result_ready' END,
       CASE kind WHEN 'ready' THEN 'collect' ELSE 'post' END,
       phone, phone,
       CAST(:now AS timestamptz) - interval '20 days',
       CASE kind WHEN 'due' THEN CAST(:today AS date) - (1 + g % 25)
                 WHEN 'returned' THEN CAST(:today AS date) - (30 + g % 1000)
                 WHEN 'not_yet_due' THEN CAST(:today AS date) + (1 + g % 20)
                 WHEN 'apologised' THEN CAST(:today AS date) - (1 + g % 60)
                 ELSE CAST(:today AS date) + (1 + g % 20) END,
       CASE kind WHEN 'apologised' THEN CAST(:today AS date) + (1 + g % 5) END,
       0,
       CASE WHEN kind = 'apologised' OR (kind = 'returned' AND g % 3 = 0) THEN 1 ELSE 0 END,
       CASE WHEN kind = 'apologised' THEN 'cho y kien co quan khac' END,
       CASE kind WHEN 'ready' THEN CAST(:now AS timestamptz) - (g % 20) * interval '1 day'
                 WHEN 'returned' THEN CAST(:now AS timestamptz) - (30 + g % 1000) * interval '1 day'
                 END,
       CASE WHEN kind = 'ready' AND g % 20 >= 3
            THEN CAST(:now AS timestamptz) - interval '1 day' END,
       '{}',
       CAST(:now AS timestamptz) - interval '20 days', CAST(:now AS timestamptz), 1, false
FROM s
"""
LOAD_EVENTS = """
INSERT INTO dossier_event (dossier_id, at, actor, from_status, to_status, reason, override,
                           details)
SELECT id, received_at, 'ivr', 'draft', 'received', '', false, '{}' FROM dossier
"""
CURSOR = """
INSERT INTO scan_cursor (name, position)
SELECT 'dossier_events', coalesce(max(id), 0) FROM dossier_event
"""


def as_sql(query) -> str:
    return str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def overdue_query(batch: int) -> str:
    """scan_overdue's query, as SQL with its values."""
    from scheduler.rules import overdue_candidates

    return as_sql(overdue_candidates(TODAY, batch))


def at_risk_query(batch: int, calendar, ahead: int) -> str:
    """scan_at_risk's query (dossiers due by the next working day, not yet proposed), as SQL."""
    from scheduler.rules import at_risk_candidates

    return as_sql(at_risk_candidates(TODAY, calendar.add_working_days(TODAY, ahead), batch))


def reminder_query(batch: int, after_days: int) -> str:
    """scan_reminders' query, as SQL with its values."""
    from scheduler.rules import reminder_candidates

    return as_sql(reminder_candidates(NOW - dt.timedelta(days=after_days), batch))


def indexes_used(plan: list[str]) -> str:
    found = re.findall(r"Index (?:Only )?Scan (?:Backward )?(?:using|on) (\w+)", "\n".join(plan))
    return ", ".join(dict.fromkeys(found)) or "none (sequential scan)"


def summary(plan: list[str]) -> str:
    """The indexes used, the rows a filter threw away, and the execution time."""
    text = "\n".join(plan)
    removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", text))
    took = re.search(r"Execution Time: ([\d.]+) ms", text)
    return f"{indexes_used(plan)}; {removed} rows filtered out; {took.group(1) if took else '?'} ms"


def explain(engine: sa.Engine, sql: str) -> list[str]:
    with engine.connect() as connection:
        lines = [row[0] for row in connection.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))]
        connection.rollback()  # FOR UPDATE took row locks
    return lines


def load(engine: sa.Engine, size: int, due: int) -> float:
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "TRUNCATE dossier, dossier_event, notice, staff_alert, scan_cursor "
                "RESTART IDENTITY CASCADE"
            )
        )
        connection.execute(
            sa.text(LOAD_DOSSIERS),
            {"size": size, "due": due, "today": TODAY, "now": NOW},
        )
        connection.execute(sa.text(LOAD_EVENTS))
        connection.execute(sa.text(CURSOR))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("dossier", "dossier_event", "notice", "scan_cursor"):
            connection.execute(sa.text(f"VACUUM ANALYZE {table}"))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]

    from intake.calendar_store import load_calendar
    from plumbing.db import make_engine, make_session_factory
    from plumbing.settings import load_settings
    from scheduler.rules import run_rules
    from tongdai.bootstrap import prepare_database

    with throwaway_database("tongdai_bench_rules") as url:
        settings = load_settings(
            ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "bench", "DATABASE_URL": url}
        )
        prepare_database(settings)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as session:
            calendar = load_calendar(session, settings)
        sql = overdue_query(BATCH)
        reminders = reminder_query(BATCH, settings.scheduler.reminder_after_days)
        at_risk = at_risk_query(BATCH, calendar, settings.scheduler.at_risk_working_days)
        print(
            f"rule scan: one run_rules tick at {NOW:%Y-%m-%d %H:%M %z}, {args.due} dossiers due "
            f"for an automatic apology at every size; PostgreSQL, batch {BATCH}"
        )
        results = []
        for size in sizes:
            loaded = load(engine, size, args.due)
            plan = explain(engine, sql)
            reminder_plan = explain(engine, reminders)
            at_risk_plan = explain(engine, at_risk)
            started = time.perf_counter()
            report = run_rules(sessions, settings, calendar, NOW)
            tick = time.perf_counter() - started
            idle_plan = explain(engine, sql)  # nothing due any more: the last batch of a tick
            started = time.perf_counter()
            idle = run_rules(sessions, settings, calendar, NOW)
            idle_tick = time.perf_counter() - started
            results.append((size, tick, idle_tick, report, indexes_used(plan)))
            print(f"\n{size:,} dossiers (loaded in {loaded:.1f} s)")
            print(f"  tick: {tick:.2f} s ({report}); idle tick: {idle_tick * 1000:.0f} ms ({idle})")
            uses = "yes" if any(INDEX in line for line in plan) else "NO"
            print(f"  overdue query uses {INDEX}: {uses}")
            print("  overdue query, EXPLAIN (ANALYZE, BUFFERS) before the tick:")
            for line in plan:
                print(f"    {line}")
            print(f"  overdue query with nothing due: {summary(idle_plan)}")
            print(f"  reminder query: {summary(reminder_plan)}")
            print(f"  at-risk query (proposed apologies) before the tick: {summary(at_risk_plan)}")
        first = results[0][1]
        print(
            f"\n{'dossiers':>10} {'tick s':>7} {'ratio':>6} {'idle ms':>8} {'apologies':>9}  "
            "overdue query's index"
        )
        for size, tick, idle_tick, report, index in results:
            print(
                f"{size:>10,} {tick:>7.2f} {tick / first:>6.2f} {idle_tick * 1000:>8.0f} "
                f"{report.apologies:>9}  {index}"
            )
        worst = max(tick for _, tick, *_ in results) / first
        verdict = "flat" if worst <= FLAT_RATIO else "NOT flat"
        print(f"tick time: {verdict} (largest ratio {worst:.2f}; flat means <= {FLAT_RATIO})")
        engine.dispose()


if __name__ == "__main__":
    main()
