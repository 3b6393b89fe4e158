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
"""

from __future__ import annotations

import argparse
import html
import http.cookiejar
import os
import re
import signal
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

from bench._common import free_port, status_kib, summarize, throwaway_database, wait_until

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--vessels", type=int, default=200_000)
    parser.add_argument("--notices", type=int, default=300_000)
    parser.add_argument("--phones", type=int, default=300_000)
    parser.add_argument("--samples", type=int, default=40, help="timed requests per page")
    parser.add_argument("--target-ms", type=float, default=TARGET_P95_MS, help="p95 target")
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

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "tongdai", "web", "--port", str(port)], env=env, cwd=ROOT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            if not wait_until(lambda: _answers(base), 60):
                raise SystemExit("the web app did not start")
            staff = Staff(base)
            staff.log_in(USER, PASSWORD)

            path = "/admin/dossiers"
            for _ in range(DEEP_PAGES - 1):
                path = next_page(staff.get(path)[1]) or path
            deep = path
            returned_middle = _middle_cursor(url, "returned")
            # The newest dossier's vessel and phone, as LOAD_DOSSIERS derives them from its id.
            vessel_index = (args.dossiers * 104729) % args.vessels
            vessel_digits = f"{vessel_index % 100000:05d}"
            phone = f"0{9_0000_0000 + (args.dossiers * 7919) % args.phones}"
            phone = f"{phone[:4]} {phone[4:7]} {phone[7:]}"
            pages = [
                ("queue, first page", "/admin/dossiers"),
                (f"queue, page {DEEP_PAGES} (Trang sau x{DEEP_PAGES - 1})", deep),
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
            print(
                f"\nweb: `python -m tongdai web` (waitress, 8 threads), pid {server.pid}; "
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
            peak = status_kib(server.pid, "VmHWM")
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
                explain_slowest(env, m.path)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


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
