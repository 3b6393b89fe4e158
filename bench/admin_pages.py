"""The staff pages on a big database: 1,000,000 dossiers on PostgreSQL, the web app under waitress.

Bulk-loads a throw-away database with INSERT ... SELECT generate_series (two years of dossiers:
statuses by age, procedures, channels, due dates, 200,000 vessels, 300,000 phones, 300,000 SMS
notices), starts the web app as `python -m tongdai web` (waitress, 8 threads), logs in through the
form with a cookie jar, then times, one request at a time, the dossier queue (first page, the 20th
page reached through "Trang sau", each filter, a search by vessel number and by phone) and the
dashboard. Prints p50 and p95 per page against the target p95 < 150 ms, the web process's peak
resident memory, and for each page that misses the target its slow SQL statements (30 ms or more,
the three slowest) with the file and function that ran them, each with its EXPLAIN ANALYZE and
what in the plan is slow. Loading takes well under a minute; the whole run a few minutes.

    .venv/bin/python bench/admin_pages.py [--dossiers 1000000] [--samples 40] [--target-ms 150]

Before and after a change: `--baseline-tree PATH` (a git worktree of the older commit) starts a
second web process from that tree against the same database, each with its own cookie jar, and
times every page on both in turns, A B B A A B ... (the order flips each round). The machine is
shared with other work and its speed drifts from one minute to the next; PostgreSQL's and the
kernel's caches warm as pages are read. Timing the two trees in separate runs, or one after the
other, measured those effects rather than the code (per-page ratios of 0.70-1.35 either way for
identical SQL); requests interleaved one by one see the same cache state and the same load, so
their ratio is fair. Prints p50/p95 of both, after/before ratios (also the median of the per-round
ratios, the least sensitive to drift), the CPU time per request of each tree's web process and
PostgreSQL backends (on a loaded machine most of the wall time is waiting for a core; CPU time is
the work) and each process's peak resident memory.

    .venv/bin/python bench/admin_pages.py --baseline-tree ../base [--baseline-python PY]

The database is migrated by this tree. When the older code maps columns that a later migration
dropped, they are added back (nullable, or with the model's default) before it starts: this tree
maps no such column, so its statements do not change. A table the older code needs and the
database lacks stops the run. The baseline runs on this tree's interpreter with PYTHONPATH at its
tree (the same library versions), unless `--baseline-python` names another; the script checks
that its `tongdai`, `intake` and `admin` come from the baseline tree.
"""

from __future__ import annotations

import argparse
import html
import http.cookiejar
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    cpu_seconds,
    free_port,
    status_kib,
    stop_server,
    summarize,
    throwaway_database,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 150.0
USER, PASSWORD = "nv01", "mat-khau-bench-2026"
STAFF = 12  # dossiers are assigned to nv01..nv12
WARMUP = 3
DEEP_PAGES = 20
SLOW_STATEMENT_MS = 30.0  # statements this slow get their plan printed

# Two years of dossiers, oldest first (id order is time order). Old ones are nearly all closed;
# the last weeks hold the work in progress; a few old ones are stuck (overdue).
LOAD_DOSSIERS = """
INSERT INTO dossier (id, code, procedure, variant, vessel_id, channel, status, delivery,
    caller_phone, notify_phone, received_at, due_date, new_due_date, supplement_count,
    apology_count, result_ready_at, assigned_to, assigned_at, form, created_at, updated_at,
    version, needs_phone_call)
SELECT i,
    CASE WHEN status = 'draft' THEN NULL
         ELSE '000.00.53.H48.TD-' || to_char(local_at, 'YYMMDD') || '-' || lpad(i::text, 7, '0')
    END,
    procedure,
    CASE WHEN procedure = 'fishing_licence' AND r3 < 0.2 THEN 'reissue' ELSE 'new' END,
    1 + (i::bigint * 104729) % :vessels,
    CASE WHEN r4 < 0.60 THEN 'phone' WHEN r4 < 0.85 THEN 'counter'
         WHEN r4 < 0.95 THEN 'online' ELSE 'post' END,
    status,
    CASE WHEN r3 < 0.7 THEN 'post' ELSE 'collect' END,
    phone, phone,
    CASE WHEN status = 'draft' THEN NULL ELSE received END,
    CASE WHEN status = 'draft' THEN NULL ELSE local_at::date + 8 + (r3 * 3)::int END,
    CASE WHEN status <> 'draft' AND r5 < 0.01 THEN local_at::date + 12 END,
    0,
    CASE WHEN status <> 'draft' AND r5 < 0.01 THEN 1 ELSE 0 END,
    CASE WHEN status IN ('result_ready', 'returned')
         THEN received + make_interval(days => 3 + (r5 * 6)::int) END,
    CASE WHEN status <> 'draft' THEN 'nv' || lpad((1 + i % :staff)::text, 2, '0') END,
    CASE WHEN status <> 'draft' THEN received END,
    '{}'::json, received, received, 1, false
FROM (
    SELECT i, received, local_at, r3, r4, r5,
        '+849' || lpad(((i::bigint * 7919) % :phones)::text, 8, '0') AS phone,
        CASE WHEN r6 < 0.7 THEN 'fishing_licence' ELSE 'vessel_safety' END AS procedure,
        CASE
            WHEN r1 < 0.02 THEN 'draft'
            WHEN age > 25 THEN CASE
                WHEN r2 < 0.950 THEN 'returned' WHEN r2 < 0.970 THEN 'refused'
                WHEN r2 < 0.980 THEN 'withdrawn' WHEN r2 < 0.990 THEN 'stopped'
                WHEN r2 < 0.995 THEN 'in_process' ELSE 'result_ready' END
            WHEN age > 8 THEN CASE
                WHEN r2 < 0.15 THEN 'in_process' WHEN r2 < 0.40 THEN 'result_ready'
                WHEN r2 < 0.45 THEN 'supplement_requested' ELSE 'returned' END
            WHEN age > 2 THEN CASE
                WHEN r2 < 0.10 THEN 'accepted' WHEN r2 < 0.60 THEN 'in_process'
                WHEN r2 < 0.70 THEN 'supplement_requested' WHEN r2 < 0.80 THEN 'payment_requested'
                ELSE 'result_ready' END
            ELSE CASE WHEN r2 < 0.6 THEN 'received' ELSE 'accepted' END
        END AS status
    FROM (
        SELECT i, age, received, received AT TIME ZONE 'Asia/Ho_Chi_Minh' AS local_at,
            random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
            random() AS r6
        FROM (
            SELECT i, (:dossiers - i) * 730.0 / :dossiers AS age,
                now() - make_interval(secs => (:dossiers - i) * 730.0 * 86400 / :dossiers)
                    AS received
            FROM generate_series(1, :dossiers) AS i
        ) AS timeline
    ) AS draws
) AS picked
"""
LOAD_VESSELS = """
INSERT INTO vessel (id, province_code, digits, length_m, created_at)
SELECT i + 1, CASE WHEN i < 100000 THEN 'QNg' ELSE 'BĐ' END, lpad((i % 100000)::text, 5, '0'),
    6 + i % 20, now()
FROM generate_series(0, :vessels - 1) AS i
"""
LOAD_NOTICES = """
INSERT INTO notice (dossier_id, kind, phone, text, encoding, segments, urgent, status, attempts,
    next_attempt_at, sent_at, settled_at, created_at, updated_at)
SELECT 1 + (j::bigint * 3331) % :dossiers,
    (ARRAY['receipt', 'result_collect', 'result_post', 'supplement', 'apology', 'reminder'])
        [1 + j % 6],
    '+849' || lpad(((j::bigint * 7919) % :phones)::text, 8, '0'),
    'TTHCC Quang Ngai: Da tiep nhan ho so (GP khai thac thuy san). Hen tra KQ. Hoi dap: 0255',
    'GSM-7', 1, j % 6 = 0,
    CASE WHEN j > :notices - 200 THEN 'pending' WHEN j % 50 = 0 THEN 'failed'
         WHEN j % 20 = 0 THEN 'undelivered' ELSE 'delivered' END,
    1, sent, sent, sent, sent, sent
FROM (
    SELECT j, now() - make_interval(secs => (:notices - j) * 730.0 * 86400 / :notices) AS sent
    FROM generate_series(1, :notices) AS j
) AS notices
"""


def load(url: str, dossiers: int, vessels: int, notices: int, phones: int) -> None:
    import sqlalchemy as sa

    values = {
        "dossiers": dossiers,
        "vessels": vessels,
        "notices": notices,
        "phones": phones,
        "staff": STAFF,
    }

    def sql(text: str) -> str:
        # Literal integers: generate_series and the modulo arithmetic must not be parameters.
        # The driver reads % as a placeholder: the modulo operator is written %%.
        literal = re.sub(r"(?<![:\w]):(\w+)", lambda m: str(values[m[1]]), text)
        return literal.replace("%", "%%")

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        # The rows are consistent by construction: skip the per-row foreign-key checks.
        connection.exec_driver_sql("SET session_replication_role = replica")
        connection.exec_driver_sql("SELECT setseed(0.42)")
        for name, statement in (
            ("vessels", LOAD_VESSELS),
            ("dossiers", LOAD_DOSSIERS),
            ("notices", LOAD_NOTICES),
        ):
            started = time.perf_counter()
            count = connection.exec_driver_sql(sql(statement)).rowcount
            print(f"  {count:>9,} {name:<9} {time.perf_counter() - started:6.1f} s", flush=True)
        for table in ("vessel", "dossier", "notice"):
            connection.exec_driver_sql(
                f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        started = time.perf_counter()
        connection.exec_driver_sql("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE            {time.perf_counter() - started:6.1f} s")
        mix = connection.exec_driver_sql(
            "SELECT status, count(*) FROM dossier GROUP BY status ORDER BY count(*) DESC"
        ).all()
        print("  statuses: " + ", ".join(f"{status} {n:,}" for status, n in mix))
    engine.dispose()


# ---- the browser side: a logged-in session over HTTP ---------------------------------------


class Staff:
    """One logged-in person: a cookie jar and the log-in form's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[float, str]:
        started = time.perf_counter()
        with self.opener.open(self.base + path, timeout=60) as response:
            body = response.read().decode()
            status = response.status
        elapsed = time.perf_counter() - started
        if status != 200 or "Đăng xuất" not in body:
            raise SystemExit(f"GET {path}: {status}, not a logged-in page")
        return elapsed, body

    def log_in(self, username: str, password: str) -> None:
        with self.opener.open(self.base + "/admin/login", timeout=30) as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise SystemExit("no CSRF token on the log-in page")
        form = {"username": username, "password": password, "csrf_token": token[1]}
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + "/admin/login", data=data, timeout=30) as response:
            if "Đăng xuất" not in response.read().decode():
                raise SystemExit("log-in failed")


def next_page(body: str) -> str | None:
    link = re.search(r'href="([^"]*after=[^"]+)">Trang sau', body)
    return html.unescape(link[1]) if link else None


def rows_on(body: str) -> int:
    return len(re.findall(r'<a href="/admin/dossiers/\d+">', body))


@dataclass
class Measured:
    name: str
    path: str
    rows: int
    p50_ms: float
    p95_ms: float
    max_ms: float


def measure(staff: Staff, name: str, path: str, samples: int) -> Measured:
    for _ in range(WARMUP):
        _, body = staff.get(path)
    times = [staff.get(path)[0] for _ in range(samples)]
    s = summarize(times)
    return Measured(name, path, rows_on(body), s.p50 * 1000, s.p95 * 1000, s.max * 1000)


# ---- why a page is slow: its statements, timed in-process, and the slowest one explained ------


def explain_slowest(env: dict[str, str], path: str) -> None:
    from sqlalchemy import event

    from intake.runtime import Runtime
    from plumbing.settings import load_settings
    from tongdai.app import create_app

    runtime = Runtime.from_settings(load_settings(ROOT / "config.toml", env=env))
    app = create_app(runtime)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    client.post("/admin/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    client.get(path)  # warm the caches as the timed runs did
    seen: list[tuple[float, str, object, str]] = []

    def where_from() -> str:
        for frame in reversed(traceback.extract_stack()):
            file = Path(frame.filename)
            if (
                file.is_relative_to(ROOT)
                and ".venv" not in file.parts
                and "bench" not in file.parts
            ):
                return f"{file.relative_to(ROOT)}:{frame.lineno} {frame.name}()"
        return "?"

    @event.listens_for(runtime.engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = (time.perf_counter(), where_from())

    @event.listens_for(runtime.engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        started, origin = conn.info.pop("started")
        seen.append((time.perf_counter() - started, statement, parameters, origin))

    started = time.perf_counter()
    client.get(path)
    total = time.perf_counter() - started
    event.remove(runtime.engine, "before_cursor_execute", _before)
    event.remove(runtime.engine, "after_cursor_execute", _after)
    in_sql = sum(s[0] for s in seen)
    print(
        f"\n{path}: {total * 1000:.0f} ms in-process, {len(seen)} statements, "
        f"{in_sql * 1000:.0f} ms in SQL"
    )
    for seconds, statement, _, origin in sorted(seen, key=lambda s: -s[0])[:4]:
        first = " ".join(statement.split())[:90]
        print(f"  {seconds * 1000:7.1f} ms  {origin}\n             {first}...")
    slow = [s for s in sorted(seen, key=lambda s: -s[0]) if s[0] * 1000 >= SLOW_STATEMENT_MS]
    for seconds, statement, parameters, origin in slow[:3] or sorted(seen, key=lambda s: -s[0])[:1]:
        with runtime.engine.connect() as connection:
            plan = list(
                connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters
                ).scalars()
            )
        print(f"  EXPLAIN ANALYZE ({origin}, {seconds * 1000:.0f} ms):")
        for line in plan:
            print(f"    {line}")
        for finding in diagnose(plan):
            print(f"  -> {finding}")
    runtime.engine.dispose()


def diagnose(plan: list[str]) -> list[str]:
    """What in a plan makes it slow: a whole-table scan, or an index read then mostly discarded."""
    findings, node = [], ""
    for line in plan:
        text = line.strip()
        if "(cost=" in text:
            node = text.removeprefix("-> ").split("  (cost=")[0]
        if text.startswith("Filter:") and "Seq Scan" in node:
            findings.append(f"{node}: no index serves {text}")
        removed = re.match(r"Rows Removed by Filter: (\d+)", text)
        if removed and int(removed[1]) > 10_000 and "Index Scan" in node:
            findings.append(
                f"{node}: {int(removed[1]):,} rows read then discarded, the filter above is "
                "not an index condition"
            )
    return findings


# ---- before and after: the same pages on two trees, requests interleaved --------------------

# Run with the baseline's interpreter and tree: which of its mapped tables and columns the
# database lacks, and where its packages were imported from.
SCHEMA_PROBE = """
import importlib, json, sys
import sqlalchemy as sa

# The packages that hold models in every version; their tables share one metadata. (This
# interpreter may also see the newer tree's packages through its editable install: names the
# baseline lacks, such as plumbing, would come from there, so none is asked for by name.)
for name in ("intake.models", "ivr.models", "scheduler.models", "sms.models"):
    importlib.import_module(name)
from intake.models import Dossier

metadata = Dossier.metadata
import admin, intake, tongdai
from sqlalchemy.dialects import postgresql

engine = sa.create_engine(sys.argv[1])
found = sa.inspect(engine)
tables = set(found.get_table_names())
missing_tables, missing_columns = [], []
for table in metadata.sorted_tables:
    if table.name not in tables:
        missing_tables.append(table.name)
        continue
    have = {column["name"] for column in found.get_columns(table.name)}
    for column in table.columns:
        if column.name in have:
            continue
        default = column.default.arg if column.default is not None else None
        if callable(default) or not isinstance(default, (bool, int, str, type(None))):
            default = None
        missing_columns.append({
            "table": table.name,
            "column": column.name,
            "type": column.type.compile(dialect=postgresql.dialect()),
            "default": default,
        })
engine.dispose()
print(json.dumps({
    "modules": {m.__name__: m.__file__ for m in (tongdai, intake, admin)},
    "missing_tables": missing_tables,
    "missing_columns": missing_columns,
}))
"""


def baseline_process(tree: Path, python: str | None, env: dict[str, str]) -> tuple[str, dict]:
    """The interpreter and environment that run the baseline tree's code."""
    return python or sys.executable, {**env, "PYTHONPATH": str(tree)}


def make_baseline_fit(url: str, tree: Path, python: str, env: dict[str, str]) -> None:
    """Check the baseline's code is the baseline's, and give it the columns it still maps."""
    import json

    import sqlalchemy as sa

    probe = subprocess.run(
        [python, "-c", SCHEMA_PROBE, url], env=env, cwd=tree, capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise SystemExit(f"the baseline tree's models do not load:\n{probe.stderr}")
    found = json.loads(probe.stdout)
    for name, file in found["modules"].items():
        if not Path(file).resolve().is_relative_to(tree):
            raise SystemExit(f"the baseline imports {name} from {file}, not from {tree}")
    if found["missing_tables"]:
        raise SystemExit(
            "the baseline maps tables this database lacks: "
            + ", ".join(found["missing_tables"])
            + "; it cannot run on this tree's schema"
        )
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for column in found["missing_columns"]:
            default = column["default"]
            clause = ""
            if default is not None:
                literal = sa.literal(default).compile(
                    dialect=engine.dialect, compile_kwargs={"literal_binds": True}
                )
                clause = f" NOT NULL DEFAULT {literal}"
            connection.exec_driver_sql(
                f'ALTER TABLE "{column["table"]}" ADD COLUMN "{column["column"]}" '
                f"{column['type']}{clause}".replace("%", "%%")
            )
            print(
                f"  for the baseline: added {column['table']}.{column['column']} "
                f"{column['type']}{clause} (a later migration dropped it)"
            )
    engine.dispose()


@dataclass
class Server:
    label: str
    process: subprocess.Popen
    staff: Staff
    data_dir: str

    @property
    def application_name(self) -> str:
        """What its PostgreSQL connections call themselves (PGAPPNAME), to find their backends."""
        return f"tongdai_bench_{self.label}"


class CpuMeter:
    """CPU seconds a server spends, its web process and its PostgreSQL backends (found by
    application name), between two readings. Wall time on a loaded machine adds the time spent
    waiting for a core; CPU time is the work itself."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.query = sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name")

    def backends(self, server: Server) -> list[int]:
        with self.engine.connect() as connection:
            return list(connection.execute(self.query, {"name": server.application_name}).scalars())

    def reading(self, server: Server) -> tuple[float, dict[int, float]]:
        backends = {pid: cpu_seconds(pid) for pid in self.backends(server)}
        return cpu_seconds(server.process.pid), backends

    def since(self, server: Server, before: tuple[float, dict[int, float]]) -> tuple[float, float]:
        """(web, postgres) CPU seconds since `before`; a backend born since counts whole."""
        web, backends = self.reading(server)
        postgres = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in backends.items())
        return web - before[0], postgres


def start_server(label: str, python: str, tree: Path, env: dict[str, str], data_dir: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [python, "-m", "tongdai", "web", "--port", str(port)],
        env={**env, "TONGDAI_DATA_DIR": data_dir, "PGAPPNAME": f"tongdai_bench_{label}"},
        cwd=tree,
    )
    base = f"http://127.0.0.1:{port}"
    server = Server(label, process, Staff(base), data_dir)
    try:
        if not wait_until(lambda: _answers(base) or process.poll() is not None, 60):
            raise SystemExit(f"{label}: the web app did not start")
        if process.poll() is not None:
            raise SystemExit(f"{label}: the web app exited with {process.returncode}")
        server.staff.log_in(USER, PASSWORD)
    except BaseException:
        stop_server(process)
        raise
    return server


@dataclass
class Paired:
    name: str
    rows: tuple[int, int]
    before: list[float]
    after: list[float]
    cpu_before: tuple[float, float]  # (web, postgres) CPU seconds per request
    cpu_after: tuple[float, float]

    @property
    def cpu_ratio(self) -> float:
        return sum(self.cpu_after) / sum(self.cpu_before) if sum(self.cpu_before) else math.nan

    def ratio(self, q: float) -> float:
        b, a = summarize(self.before), summarize(self.after)
        return (a.p50 / b.p50) if q == 50 else (a.p95 / b.p95)

    @property
    def paired_ratio(self) -> float:
        """The median of after/before within each round: drift between rounds cancels out."""
        ratios = sorted(a / b for a, b in zip(self.after, self.before, strict=True))
        return summarize(ratios).p50


def measure_interleaved(
    name: str,
    meter: CpuMeter,
    before: Server,
    path_before: str,
    after: Server,
    path_after: str,
    samples: int,
) -> Paired:
    for _ in range(WARMUP):
        _, body_before = before.staff.get(path_before)
        _, body_after = after.staff.get(path_after)
    times: dict[str, list[float]] = {"before": [], "after": []}
    turns = (("before", before.staff, path_before), ("after", after.staff, path_after))
    started = {server.label: meter.reading(server) for server in (before, after)}
    for round_ in range(samples):
        for label, staff, path in turns if round_ % 2 == 0 else turns[::-1]:
            times[label].append(staff.get(path)[0])
    cpu = {
        server.label: tuple(s / samples for s in meter.since(server, started[server.label]))
        for server in (before, after)
    }
    return Paired(
        name,
        (rows_on(body_before), rows_on(body_after)),
        times["before"],
        times["after"],
        cpu["before"],
        cpu["after"],
    )


def run_interleaved(args: argparse.Namespace, url: str, env: dict[str, str]) -> None:
    tree = Path(args.baseline_tree).resolve()
    python, baseline_env = baseline_process(tree, args.baseline_python, env)
    make_baseline_fit(url, tree, python, baseline_env)
    with tempfile.TemporaryDirectory() as data_before, tempfile.TemporaryDirectory() as data_after:
        servers: list[Server] = []
        try:
            servers.append(start_server("before", python, tree, baseline_env, data_before))
            servers.append(start_server("after", sys.executable, ROOT, env, data_after))
            before, after = servers
            pages = [(name, path, path) for name, path in page_list(url, args)]
            # "Trang sau" as each tree renders it: the cursor is each one's own.
            deep = []
            for server in servers:
                path = "/admin/dossiers"
                for _ in range(DEEP_PAGES - 1):
                    path = next_page(server.staff.get(path)[1]) or path
                deep.append(path)
            pages.insert(1, (f"queue, page {DEEP_PAGES} (Trang sau x{DEEP_PAGES - 1})", *deep))
            load = os.getloadavg()
            print(
                f"\nbefore: {tree} (pid {before.process.pid}, {python})\n"
                f"after:  {ROOT} (pid {after.process.pid})\n"
                f"both `python -m tongdai web` (waitress, 8 threads) on one database; one "
                f"client; per page {WARMUP} warm-up each, then {args.samples} rounds, each one "
                f"request to each, order flipped every round (A B B A ...).\n"
                f"cores {os.cpu_count()}, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
            )
            print(
                f"{'':<43} {' wall ms ':-^34}  {' after/before ':-^18}  "
                f"{' CPU ms/request ':-^21}\n"
                f"{'page':<38} {'rows':>4} {'before p50':>10} {'p95':>6} {'after p50':>9} "
                f"{'p95':>6}  {'p50':>4} {'p95':>5} {'paired':>6}  {'before':>7} {'after':>7} "
                f"{'ratio':>5}"
            )
            meter = CpuMeter(url)
            results = []
            for name, path_before, path_after in pages:
                m = measure_interleaved(
                    name, meter, before, path_before, after, path_after, args.samples
                )
                results.append(m)
                b, a = summarize(m.before), summarize(m.after)
                rows = "-" if "dossiers" not in path_after else str(m.rows[1])
                if m.rows[0] != m.rows[1]:
                    rows += f" (before {m.rows[0]})"
                worse = max(m.ratio(50), m.paired_ratio) > 1 + args.worse / 100
                print(
                    f"{name:<38} {rows:>4} {b.p50 * 1000:>10.1f} {b.p95 * 1000:>6.1f} "
                    f"{a.p50 * 1000:>9.1f} {a.p95 * 1000:>6.1f}  {m.ratio(50):>4.2f} "
                    f"{m.ratio(95):>5.2f} {m.paired_ratio:>6.2f}  "
                    f"{sum(m.cpu_before) * 1000:>7.1f} {sum(m.cpu_after) * 1000:>7.1f} "
                    f"{m.cpu_ratio:>5.2f}" + (f"  > +{args.worse:g} %" if worse else ""),
                    flush=True,
                )
            load = os.getloadavg()
            print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
            for server in servers:
                peak = status_kib(server.process.pid, "VmHWM")
                shown = f"{peak / 1024:.1f} MiB" if peak else "unavailable"
                print(f"{server.label:<6} web process peak resident memory (VmHWM): {shown}")
            overall = math.exp(sum(math.log(m.paired_ratio) for m in results) / len(results))
            cpu = math.exp(sum(math.log(m.cpu_ratio) for m in results) / len(results))
            web = [sum(m.cpu_before[0] for m in results), sum(m.cpu_after[0] for m in results)]
            pg = [sum(m.cpu_before[1] for m in results), sum(m.cpu_after[1] for m in results)]
            meter.engine.dispose()
            print(
                f"CPU per request, all pages summed: web process {web[0] * 1000:.1f} -> "
                f"{web[1] * 1000:.1f} ms, PostgreSQL {pg[0] * 1000:.1f} -> {pg[1] * 1000:.1f} ms; "
                f"geometric mean of the per-page CPU ratios {cpu:.3f}"
            )
            worse = [
                m.name for m in results if max(m.ratio(50), m.paired_ratio) > 1 + args.worse / 100
            ]
            print(
                f"geometric mean of the paired ratios: {overall:.3f}; pages more than "
                f"{args.worse:g} % slower after (p50 or paired): "
                + (", ".join(worse) if worse else "none")
            )
        finally:
            for server in servers:
                stop_server(server.process)


def page_list(url: str, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The pages timed, each with a name (the deep page is added by the caller: it is reached)."""
    returned_middle = _middle_cursor(url, "returned")
    # The newest dossier's vessel and phone, as LOAD_DOSSIERS derives them from its id.
    vessel_index = (args.dossiers * 104729) % args.vessels
    vessel_digits = f"{vessel_index % 100000:05d}"
    phone = f"0{9_0000_0000 + (args.dossiers * 7919) % args.phones}"
    phone = f"{phone[:4]} {phone[4:7]} {phone[7:]}"
    return [
        ("queue, first page", "/admin/dossiers"),
        ("filter procedure", "/admin/dossiers?procedure=vessel_safety"),
        ("filter status in process", "/admin/dossiers?status=in_process"),
        ("filter status returned", "/admin/dossiers?status=returned"),
        ("  + cursor mid-way", f"/admin/dossiers?status=returned&after={returned_middle}"),
        ("filter status all", "/admin/dossiers?status=all"),
        ("filter due soon", "/admin/dossiers?due=soon"),
        ("filter overdue", "/admin/dossiers?due=overdue"),
        ("filter channel counter", "/admin/dossiers?channel=counter"),
        ("filter mine", "/admin/dossiers?mine=1"),
        ("search vessel number", f"/admin/dossiers?q={vessel_digits}"),
        ("search phone", "/admin/dossiers?q=" + urllib.parse.quote(phone)),
        ("dashboard", "/admin/"),
    ]


# ---- one tree ----------------------------------------------------------------------------------


def run_single(args: argparse.Namespace, url: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as data:
        server = start_server("web", sys.executable, ROOT, env, data)
        try:
            staff = server.staff
            path = "/admin/dossiers"
            for _ in range(DEEP_PAGES - 1):
                path = next_page(staff.get(path)[1]) or path
            pages = page_list(url, args)
            pages.insert(1, (f"queue, page {DEEP_PAGES} (Trang sau x{DEEP_PAGES - 1})", path))
            print(
                f"\nweb: `python -m tongdai web` (waitress, 8 threads), pid {server.process.pid}; "
                f"one client, {args.samples} timed requests per page after {WARMUP} warm-up\n"
            )
            print(f"{'page':<38} {'rows':>4} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}  target")
            results = []
            for name, path in pages:
                m = measure(staff, name, path, args.samples)
                results.append(m)
                verdict = "met" if m.p95_ms < args.target_ms else f"MISSED (>= {args.target_ms:g})"
                print(
                    f"{m.name:<38} {m.rows if 'dossiers' in m.path else '-':>4} "
                    f"{m.p50_ms:>7.1f} {m.p95_ms:>7.1f} "
                    f"{m.max_ms:>7.1f}  {verdict}",
                    flush=True,
                )
            peak = status_kib(server.process.pid, "VmHWM")
            print(
                f"\nweb process peak resident memory (VmHWM): {peak / 1024:.1f} MiB"
                if peak
                else "\nweb process memory: unavailable"
            )
            missed = [m for m in results if m.p95_ms >= args.target_ms]
            print(
                f"{len(results) - len(missed)}/{len(results)} pages meet p95 < "
                f"{args.target_ms:g} ms"
            )
            for m in missed:
                explain_slowest({**env, "TONGDAI_DATA_DIR": data}, m.path)
        finally:
            stop_server(server.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--vessels", type=int, default=200_000)
    parser.add_argument("--notices", type=int, default=300_000)
    parser.add_argument("--phones", type=int, default=300_000)
    parser.add_argument("--samples", type=int, default=40, help="timed requests per page")
    parser.add_argument("--target-ms", type=float, default=TARGET_P95_MS, help="p95 target")
    parser.add_argument(
        "--baseline-tree", help="a checkout of the older commit: time both, interleaved"
    )
    parser.add_argument(
        "--baseline-python", help="the baseline's interpreter (default: this one, PYTHONPATH)"
    )
    parser.add_argument(
        "--worse", type=float, default=10.0, help="flag pages this many %% slower after"
    )
    args = parser.parse_args()

    from admin.accounts import add_user
    from intake.models import Role
    from plumbing.db import make_engine, make_session_factory
    from plumbing.settings import load_settings
    from tongdai.bootstrap import prepare_database

    with throwaway_database("tongdai_bench_admin") as url, tempfile.TemporaryDirectory() as data:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TONGDAI_")},
            "DATABASE_URL": url,
            "TONGDAI_DATA_DIR": data,
            "TONGDAI_SECRET_KEY": "bench",
            "TONGDAI_LOG_LEVEL": "WARNING",
        }
        env.pop("PYTHONPATH", None)
        settings = load_settings(ROOT / "config.toml", env=env)
        prepare_database(settings)
        engine = make_engine(url)
        with make_session_factory(engine)() as session, session.begin():
            add_user(session, USER, PASSWORD, Role.OPERATOR)
        engine.dispose()
        print(f"Loading {url.rsplit('/', 1)[1]} (PostgreSQL):")
        started = time.perf_counter()
        load(url, args.dossiers, args.vessels, args.notices, args.phones)
        print(f"  loaded in {time.perf_counter() - started:.1f} s")
        if args.baseline_tree:
            run_interleaved(args, url, env)
        else:
            run_single(args, url, env)


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=2):
            return True
    except OSError:
        return False


def _middle_cursor(url: str, status: str) -> str:
    """An `after=` cursor half-way through the dossiers of `status` (due date, id)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        day, last = connection.execute(
            sa.text(
                "SELECT due_date, id FROM dossier WHERE status = :status "
                "ORDER BY due_date, id OFFSET (SELECT count(*) / 2 FROM dossier "
                "WHERE status = :status) LIMIT 1"
            ),
            {"status": status},
        ).one()
    engine.dispose()
    return f"{day.isoformat()}:{last}"


if __name__ == "__main__":
    main()
