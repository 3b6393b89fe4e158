"""The Twilio voice webhooks' capacity ladder: how many simultaneous callers one machine serves.

At each rung (200, 500, 1,000 and 2,000 callers by default) that many callers, started over
`--ramp` seconds, each walk a whole new-licence call (bench/licence_call.py) with signed
webhooks, paced as real calls are: before each answer the caller hears the prompt (its built audio
length, from the prompt manifest) and then takes 1-3 s; a recording takes its spoken length; the
silence after the code lasts the question's timeout. The server is the one the compose stack
ships (`tongdai web`: waitress, tongdai/serve.py), or gunicorn for comparison, on a throw-away
PostgreSQL database on this machine; the callers are asyncio clients in `--client-procs`
processes (bench/twilio_call.py posts the webhooks and checks their TwiML).

The callers reach waitress as nginx does in production, on a new connection for every request,
closed after its answer (aiohttp `force_close`: it sends `Connection: close`, so waitress closes
where nginx would; deploy/nginx proxies to a variable with no `upstream ... keepalive`, which
caches no connection to a replica). Waitress serves at most `connection_limit` (100) open
connections per process, idle ones included, and leaves the rest unaccepted in the kernel's
listen backlog until one closes (waitress/server.py `readable`: no accepting while
`len(map) >= connection_limit`). Until 3 December 2026 the callers kept their connections open
(`keepalive_timeout=30`) in each client process's pool: a burst of more than about 100 requests
in flight to a replica opened connections that waited, unaccepted, for an idle pooled one to
close after 30 s, and requests sent on them timed out at 15 s (which fits the 77 calls the
1,000-caller rung lost with the machine a third idle). No caller behind nginx ever holds a
connection: only requests in flight count against the limit, and what queues beyond the threads
is the real backlog of work (waitress's `Task queue depth` warnings).

Per rung: p50/p95/p99/max per step type, errors, dossiers filed and distinct codes against
calls, requests/s, CPU by process (server, our PostgreSQL backends, other PostgreSQL, clients),
the clients' event-loop lag, the server's resident memory, and the daily code counter (how long
each submit waited for its row and held it until its commit) with the statements per request.
Target: 1,000 callers at p99 < 50 ms with every dossier filed.

    .venv/bin/python bench/voice_webhooks.py                  # 200,500,1000,2000: ~20 minutes
    .venv/bin/python bench/voice_webhooks.py --rungs 200,500  # a quick ladder, ~8 minutes
    .venv/bin/python bench/voice_webhooks.py --quick          # smoke test: 20 callers, 20x pace
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    CpuWindow,
    TreeMemory,
    ancestors,
    config_with,
    free_port,
    healthy,
    process_tree,
    status_kib,
    stop_server,
    summarize,
    throwaway_database,
    wait_until,
)
from bench.licence_call import NEW_LICENCE
from bench.twilio_call import (
    HOST,
    TWILIO_TIMEOUT,
    CallFailed,
    TwilioCall,
    Webhook,
    signed_headers,
)

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 50.0
TARGET_CALLERS = 1000
STEP_KINDS = ("dial-in", "menu key", "number", "recording", "submit", "silence", "status")
PROBE_DIR_ENV = "TONGDAI_BENCH_PROBE_DIR"


# ---- the server side ---------------------------------------------------------------------------


class Probe:
    """Watches the app's database engine from inside the server process and appends one line per
    pooled connection's use (roughly one per request) to `<dir>/<pid>.jsonl`: when, how many
    statements it ran, and for a submit, how long the code counter's upsert waited for the
    day's row and how long the row stayed locked after it (until the commit ended and the
    connection came back to the pool)."""

    def __init__(self, engine, folder: Path) -> None:
        from sqlalchemy import event

        self.out = (folder / f"{os.getpid()}.jsonl").open("a", buffering=1)
        self.lock = threading.Lock()
        event.listen(engine, "checkout", self._checkout)
        event.listen(engine, "checkin", self._checkin)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    @staticmethod
    def _checkout(dbapi_connection, record, proxy) -> None:
        record.info["bench"] = {"statements": 0}

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        info = conn.info.setdefault("bench", {"statements": 0})
        info["statements"] += 1
        if "dossier_code_counter" in statement:
            info["counter_sent"] = time.perf_counter()
            info["after"] = []
        elif "after" in info and len(info["after"]) < 40:
            at = time.perf_counter() - info["counter_got"]
            info["after"].append(f"{at * 1000:.1f} ms {' '.join(statement.split())[:60]}")

    @staticmethod
    def _after(conn, cursor, statement, parameters, context, executemany) -> None:
        info = conn.info.get("bench")
        if info is not None and "counter_sent" in info and "counter_got" not in info:
            info["counter_got"] = time.perf_counter()

    @staticmethod
    def _commit(conn) -> None:
        info = conn.info.get("bench")
        if info is not None and "counter_got" in info:
            info["commit_sent"] = time.perf_counter()

    def _checkin(self, dbapi_connection, record) -> None:
        info = record.info.pop("bench", None)
        if not info or not info["statements"]:
            return
        line: dict[str, float] = {"t": time.time(), "n": info["statements"]}
        if "counter_got" in info:
            now = time.perf_counter()
            line["wait"] = info["counter_got"] - info["counter_sent"]
            line["work"] = info.get("commit_sent", now) - info["counter_got"]
            line["held"] = now - info["counter_got"]
            line["after"] = info.get("after", [])
        with self.lock:
            self.out.write(json.dumps(line) + "\n")


def _with_probe(runtime, app):
    folder = os.environ.get(PROBE_DIR_ENV)
    if folder:
        app.extensions["bench_probe"] = Probe(runtime.engine, Path(folder))
    return app


def make_app():
    """gunicorn's entry (`--server gunicorn`): the real app, with the probe."""
    from tongdai.app import create_app
    from tongdai.startup import load_runtime

    runtime = load_runtime()
    return _with_probe(runtime, create_app(runtime))


def serve_waitress(port: int) -> None:
    """What `tongdai web` runs (tongdai/serve.py: waitress, its threads and limits, logging at
    INFO), with the probe."""
    from intake.runtime import Runtime
    from plumbing.logs import configure_logging, stop_on_signals
    from tongdai.app import create_app
    from tongdai.serve import web_server
    from tongdai.startup import load_checked_settings

    configure_logging()
    stop_on_signals()
    settings = load_checked_settings()
    runtime = Runtime.from_settings(settings)
    server = web_server(_with_probe(runtime, create_app(runtime)), settings.web, HOST, port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def read_probe(folder: Path, start: float, end: float) -> list[dict[str, float]]:
    lines = []
    for path in folder.glob("*.jsonl"):
        for text in path.read_text().splitlines():
            try:
                line = json.loads(text)
            except ValueError:  # a line being written
                continue
            if start <= line["t"] <= end:
                lines.append(line)
    return lines


# ---- the paced callers (after tests/ivr/twilio_caller.py, over real HTTP) ------------------------


@dataclass(frozen=True)
class Pacing:
    """How long a caller takes before each answer (seconds, the same order as the walk): the
    prompts heard since the previous answer, then the caller's own time."""

    prompts: tuple[float, ...]  # per answer, then the goodbye after the last one
    think: tuple[float, float] = (1.0, 3.0)
    silence: float = 6.0  # a question's timeout ([ivr] input_timeout_seconds)
    scale: float = 1.0  # < 1 for smoke tests

    def before(self, webhook: Webhook, rng: random.Random) -> float:
        """The pause before posting `webhook`: none before the dial-in; before the status
        callback, the goodbye (the last prompts)."""
        if webhook.answer is None:
            return self.prompts[-1] * self.scale if webhook.kind == "status" else 0.0
        answer = webhook.answer
        own = answer.spoken or (self.silence if not answer.keys else rng.uniform(*self.think))
        return (self.prompts[webhook.index] + own) * self.scale


@dataclass
class ClientJob:
    ports: list[int]
    tokens: list[str]
    first: int  # caller numbers and vessels of this process: first..first+count-1
    count: int
    starts: list[float]  # each caller's start, in seconds after `t0`
    t0: float  # time.time() of the rung's start
    pacing: Pacing
    seed: int


def _client_process(job: ClientJob, results, ready, go, start) -> None:
    """Imports first, then waits with the others: on a busy machine a process can take seconds
    to start, and its callers must not all dial at once to catch up with the schedule."""
    try:
        import aiohttp  # noqa: F401
        import twilio.request_validator  # noqa: F401

        ready.wait(timeout=300)
        go.wait(timeout=300)
        job.t0 = start.value
        results.put(asyncio.run(run_callers(job)))
    except BaseException as exc:  # report, so the parent does not wait for nothing
        results.put({"fatal": f"{type(exc).__name__}: {exc}"})


async def run_callers(job: ClientJob) -> dict:
    import aiohttp
    from twilio.request_validator import RequestValidator

    validators = [RequestValidator(token) for token in job.tokens]
    latencies: list[tuple[str, str, float, float]] = []  # (kind, node, seconds, at)
    errors: list[str] = []
    done = {"completed": 0, "lag": []}
    cpu_before = os.times()
    loop = asyncio.get_running_loop()
    # loop.time() at the rung's start: callers start at their own offset after it.
    base = loop.time() - (time.time() - job.t0)
    stop = asyncio.Event()

    async def watch_lag() -> None:
        while not stop.is_set():
            asked = loop.time()
            await asyncio.sleep(0.1)
            done["lag"].append(loop.time() - asked - 0.1)

    # A connection per request, closed after its answer, as nginx reaches the replicas (no
    # upstream keep-alive in deploy/nginx): see the module's docstring.
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=TWILIO_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(line: int, webhook: Webhook) -> tuple[int, bytes, float]:
            url = f"http://{HOST}:{job.ports[line]}{webhook.path}"
            headers = signed_headers(validators[line], url, webhook.form)
            started = time.perf_counter()
            form = urllib.parse.urlencode(webhook.form)
            async with session.post(url, data=form, headers=headers) as response:
                body = await response.read()
            return response.status, body, time.perf_counter() - started

        async def one_call(number: int, start: float) -> None:
            rng = random.Random(job.seed * 1_000_003 + number)
            line = number % len(job.ports)
            call = TwilioCall(f"+849{number:08d}", f"{10_000 + number % 90_000}")
            await asyncio.sleep(max(0.0, base + start - loop.time()))
            webhook = call.next
            while webhook is not None:
                await asyncio.sleep(job.pacing.before(webhook, rng))
                status, body, seconds = await post(line, webhook)
                call.answered(status, body)
                latencies.append((webhook.kind, webhook.node, seconds, time.time() - job.t0))
                webhook = call.next
            done["completed"] += 1

        async def guarded(number: int, start: float) -> None:
            try:
                await one_call(number, start)
            except (TimeoutError, CallFailed, aiohttp.ClientError, OSError) as exc:
                errors.append(f"caller {number}: {type(exc).__name__}: {exc}")

        lag = asyncio.create_task(watch_lag())
        await asyncio.gather(*(guarded(job.first + i, start) for i, start in enumerate(job.starts)))
        stop.set()
        await lag
    cpu_after = os.times()
    return {
        "latencies": latencies,
        "errors": errors,
        "completed": done["completed"],
        "lag": done["lag"],
        "cpu": (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        "pid": os.getpid(),
    }


@dataclass
class RungResult:
    callers: int
    seconds: float = 0.0
    completed: int = 0
    latencies: list[tuple[str, str, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)  # CPU seconds per client process


def run_rung(
    ports: list[int],
    tokens: list[str],
    callers: int,
    first: int,
    ramp: float,
    pacing: Pacing,
    procs: int,
    seed: int,
) -> RungResult:
    """`callers` paced calls, started evenly over `ramp` seconds, from `procs` processes."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    ready, go, start = context.Barrier(procs + 1), context.Event(), context.Value("d", 0.0)
    t0 = 0.0  # set once every process is up
    starts = [ramp * i / callers for i in range(callers)]
    processes = []
    for p in range(procs):
        mine = list(range(p, callers, procs))
        job = ClientJob(
            ports,
            tokens,
            first + p * ((callers + procs - 1) // procs),
            len(mine),
            [starts[i] for i in mine],
            t0,
            pacing,
            seed + p,
        )
        processes.append(
            context.Process(
                target=_client_process, args=(job, results, ready, go, start), daemon=True
            )
        )
    for process in processes:
        process.start()
    ready.wait(timeout=300)
    t0 = start.value = time.time() + 0.5
    go.set()
    result = RungResult(callers)
    longest = ramp + (sum(pacing.prompts) + len(NEW_LICENCE) * 6) * pacing.scale
    for _ in processes:
        part = results.get(timeout=longest + len(NEW_LICENCE) * TWILIO_TIMEOUT + 120)
        if "fatal" in part:
            raise SystemExit(f"a client process failed: {part['fatal']}")
        result.completed += part["completed"]
        result.latencies += part["latencies"]
        result.errors += part["errors"]
        result.lag += part["lag"]
        result.client_cpu.append(part["cpu"])
    for process in processes:
        process.join(timeout=10)
    result.seconds = time.time() - t0
    return result


# ---- the database, watched while the load runs --------------------------------------------------


class DatabaseWatch:
    """Samples pg_stat_activity of the benchmark database every 0.1 s: backends waiting on a lock
    and what they were running, and the pids of our backends (for their CPU)."""

    QUERY = """
        SELECT pid, wait_event_type = 'Lock', left(regexp_replace(query, '\\s+', ' ', 'g'), 48)
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
    """

    def __init__(self, url: str, interval: float = 0.1) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.interval = interval
        self.reset()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reset(self) -> None:
        self.samples = self.lock_samples = self.counter_samples = 0
        self.max_waiting = self.max_connections = 0
        self.waiting_in: Counter[str] = Counter()  # statement -> samples it was seen waiting
        self.backends: set[int] = set()

    def waits(self) -> str:
        where = "; ".join(f"{query}... x{n}" for query, n in self.waiting_in.most_common(2))
        return (
            f"backends waiting on a lock in {self.lock_samples}/{self.samples} samples, on the"
            f" code counter in {self.counter_samples} (max {self.max_waiting} at once"
            f"{f': {where}' if where else ''})"
        )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            one = connection.execute(
                self.sa.text(
                    "SELECT (SELECT count(*) FROM dossier WHERE status = 'received'),"
                    " (SELECT count(DISTINCT code) FROM dossier WHERE status = 'received'),"
                    " (SELECT count(*) FROM dossier WHERE status = 'received'"
                    "   AND form -> 'ivr' ->> 'length_band' IS NOT NULL"
                    "   AND form -> 'ivr' ->> 'date_of_birth' IS NOT NULL),"
                    " (SELECT count(*) FROM dossier_event WHERE to_status = 'received'),"
                    " (SELECT count(*) FROM ivr_call WHERE outcome = 'submitted'),"
                    " (SELECT count(*) FROM ivr_call WHERE ended_at IS NOT NULL),"
                    " (SELECT coalesce(max(last_seq), 0) FROM dossier_code_counter)"
                )
            ).one()
        names = ("received", "codes", "complete_answers", "receipts", "submitted", "ended", "seq")
        return dict(zip(names, one, strict=True))

    def start(self) -> DatabaseWatch:
        self._stop.clear()

        def run() -> None:
            with self.engine.connect() as connection:
                while not self._stop.wait(self.interval):
                    rows = connection.execute(self.sa.text(self.QUERY)).all()
                    connection.rollback()
                    waiting = [query for _, locked, query in rows if locked]
                    self.samples += 1
                    self.lock_samples += bool(waiting)
                    self.counter_samples += any("dossier_code_counter" in q for q in waiting)
                    self.max_waiting = max(self.max_waiting, len(waiting))
                    self.max_connections = max(self.max_connections, len(rows))
                    self.waiting_in.update(waiting)
                    self.backends.update(pid for pid, _, _ in rows)

        self._thread = threading.Thread(target=run, name="db-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def dispose(self) -> None:
        self.stop()
        self.engine.dispose()


# ---- the servers -------------------------------------------------------------------------------


def start_server(
    kind: str, env: dict[str, str], port: int, args: argparse.Namespace, log: Path
) -> subprocess.Popen:
    if kind == "waitress":
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
    else:
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{HOST}:{port}",
            "--workers", str(args.workers),
            "--threads", str(args.threads),
            "--chdir", str(ROOT),
            "--log-level", "warning",
            "--timeout", "60",
            "bench.voice_webhooks:make_app()",
        ]  # fmt: skip
    with log.open("ab") as out:
        # Its own session: a Ctrl-C reaches only us, and we stop the server in order.
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def classifier(server_pids: set[int], our_backends: set[int]) -> Callable[[int, str], str]:
    """Names the group a process's CPU time belongs to, for the report."""
    me = os.getpid()

    def classify(pid: int, comm: str) -> str:
        if pid in server_pids:
            return "server"
        if pid in our_backends:
            return "postgres (ours)"
        if comm.startswith("postgres"):
            return "postgres (other)"
        if pid == me or me in ancestors(pid):
            return "clients"
        return "other"

    return classify


# ---- the report --------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value * 1000:8.1f}"


def _table(latencies: list[tuple[str, str, float, float]]) -> list[str]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, seconds, _ in latencies:
        by_kind[kind].append(seconds)
    lines = [
        f"    {'step':<10} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    ]
    for kind in (*STEP_KINDS, "overall"):
        values = [s for _, _, s, _ in latencies] if kind == "overall" else by_kind.get(kind)
        if not values:
            continue
        s = summarize(values)
        lines.append(
            f"    {kind:<10} {s.count:>6} {_ms(s.p50)} {_ms(s.p95)} {_ms(s.p99)} {_ms(s.max)}"
        )
    return lines


def _mib(kib: int | None) -> str:
    return f"{(kib or 0) / 1024:.0f} MiB"


def _load() -> str:
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


def report_rung(
    rung: RungResult,
    counts: dict[str, int],
    watch: DatabaseWatch,
    cpu: CpuWindow,
    probe: list[dict[str, float]],
    memory: TreeMemory,
    load_before: str,
) -> bool:
    requests = len(rung.latencies)
    windows = Counter(int(at // 10) for _, _, _, at in rung.latencies)
    peak = max(windows.values(), default=0) / 10
    print(
        f"  calls completed {rung.completed}/{rung.callers}, errors {len(rung.errors)};"
        f" {requests} requests in {rung.seconds:.0f} s ({requests / rung.seconds:.0f} req/s,"
        f" busiest 10 s {peak:.0f} req/s)"
    )
    kinds = Counter(error.split(": ", 1)[-1][:70] for error in rung.errors)
    for kind, n in kinds.most_common(3):
        print(f"    ! {n} x {kind}")
    print("\n".join(_table(rung.latencies)))
    overall = summarize([s for _, _, s, _ in rung.latencies])
    filed = counts["received"] == rung.callers == counts["codes"] and not rung.errors
    verdict = "PASS" if overall.p99 * 1000 < TARGET_P99_MS and filed else "FAIL"
    print(
        f"  p99 overall {overall.p99 * 1000:.1f} ms (target < {TARGET_P99_MS:g} ms, every dossier"
        f" filed): {verdict}"
    )
    slowest = sorted(rung.latencies, key=lambda x: -x[2])[:3]
    print(
        "  slowest: "
        + ", ".join(f"{node} {s * 1000:.0f} ms at {at:.0f} s" for _, node, s, at in slowest)
    )
    print(
        f"  dossiers: {counts['received']} filed for {rung.callers} calls, {counts['codes']}"
        f" distinct codes, {counts['complete_answers']} with length band and date of birth,"
        f" {counts['receipts']} 'received' events; calls submitted {counts['submitted']},"
        f" ended {counts['ended']}; last sequence of the day {counts['seq']}"
    )
    held = [line for line in probe if "held" in line]
    if held:
        wait, work, hold = (summarize([line[k] for line in held]) for k in ("wait", "work", "held"))
        print(
            f"  code counter ({len(held)} submits): waited for the row p50/p99/max"
            f" {wait.p50 * 1000:.1f}/{wait.p99 * 1000:.1f}/{wait.max * 1000:.0f} ms; held it"
            f" until the commit ended {hold.p50 * 1000:.1f}/{hold.p99 * 1000:.1f}/"
            f"{hold.max * 1000:.0f} ms (of which work before the commit began"
            f" {work.p50 * 1000:.1f}/{work.p99 * 1000:.1f}/{work.max * 1000:.0f} ms)"
        )
        typical = sorted(held, key=lambda line: line["held"])[len(held) // 2]
        print(
            f"    a median submit, after the counter's upsert: {len(typical['after'])} statements"
            + "".join(f"\n      {statement}" for statement in typical["after"])
        )
    statements = summarize([line["n"] for line in probe])
    print(
        f"  SQL statements per pooled connection use (about one per request): p50"
        f" {statements.p50:.0f}, p99 {statements.p99:.0f}, max {statements.max:.0f};"
        f" {watch.waits()}; connections max {watch.max_connections}"
    )
    capacity = cpu.seconds * (os.cpu_count() or 1)
    per_client = ", ".join(f"{c / rung.seconds:.0%}" for c in rung.client_cpu)
    print(
        f"  CPU (share of {os.cpu_count()} cores): machine {cpu.machine_busy:.0%} busy: "
        + ", ".join(
            f"{name} {spent / capacity:.0%}"
            for name, spent in sorted(cpu.used.items(), key=lambda item: -item[1])
            if spent / capacity >= 0.005
        )
        + f", processes that ended meanwhile (not ours) {cpu.unaccounted / capacity:.0%}"
        + f"; each client process {per_client} of a core"
    )
    if requests:
        per_request = {name: spent * 1000 / requests for name, spent in cpu.used.items()}
        print(
            f"  CPU ms per request: server {per_request.get('server', 0):.2f}, postgres (ours)"
            f" {per_request.get('postgres (ours)', 0):.2f},"
            f" clients {per_request.get('clients', 0):.2f}"
        )
    lag = summarize(rung.lag)
    print(
        f"  clients' event-loop lag p99 {lag.p99 * 1000:.1f} ms, max {lag.max * 1000:.0f} ms;"
        f" server resident memory peak {_mib(memory.tree_rss_peak)} (VmRSS summed);"
        f" load average before {load_before}, after {_load()}",
        flush=True,
    )
    return verdict == "PASS"


def rehearsed_pacing(settings, scale: float) -> Pacing:
    """Prompt lengths before each answer, from the flow engine and the built prompt audio."""
    from bench.licence_call import context_of, rehearse
    from ivr.audio import PromptFiles, build_prompts

    build_prompts(settings, progress=False)  # incremental: nothing to do when built
    files = PromptFiles.of(settings)
    heard = rehearse(context_of(settings, dt.date.today()))
    return Pacing(
        prompts=tuple(files.duration_of(h.keys) for h in heard),
        silence=float(settings.ivr.input_timeout_seconds),
        scale=scale,
    )


def whole_day_of_codes(folder: Path) -> Path:
    """config.toml with the phone's daily sequence from 1 instead of 8000 ([onestop]
    sequence_first): the rungs of one run file their dossiers on one day in one database, and
    200 + 500 + 1,000 + 2,000 of them would use up the 2,000 numbers the phone channel keeps
    beside the one-stop system's (the caller then hears that no code could be given)."""
    return config_with(ROOT / "config.toml", folder, "sequence_first", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rungs", default="200,500,1000,2000", help="callers per rung")
    parser.add_argument("--ramp", type=float, default=30.0, help="callers start over this many s")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress")
    parser.add_argument("--replicas", type=int, default=1, help="server processes (compose: 2)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--pace", type=float, default=1.0, help="pacing scale (0.05: 20x faster)")
    parser.add_argument("--quick", action="store_true", help="20 callers, 20x faster pacing")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the waitress process
    args = parser.parse_args(argv)
    if args.serve:
        serve_waitress(args.serve)
        return 0
    if args.quick:
        args.rungs, args.pace, args.ramp = "20", 0.05, 2.0
    rungs = [int(n) for n in args.rungs.split(",")]
    if not rungs or min(rungs) < 1 or args.client_procs < 1 or args.replicas < 1:
        parser.error("need rungs >= 1, client processes >= 1 and replicas >= 1")

    # A Ctrl-C or a kill still stops the servers and drops the database.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    from plumbing.settings import load_settings
    from tongdai.bootstrap import prepare_database

    ports = [free_port() for _ in range(args.replicas)]
    tokens = [secrets.token_hex(16) for _ in ports]
    with (
        tempfile.TemporaryDirectory(prefix="tongdai-bench-") as tmp,
        throwaway_database("tongdai_bench") as db_url,
    ):
        data_dir, probe_dir = Path(tmp), Path(tmp) / "probe"
        probe_dir.mkdir()
        config = whole_day_of_codes(data_dir)
        built = ROOT / "var" / "prompts"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "TONGDAI_SECRET_KEY": secrets.token_hex(16),
            "TONGDAI_DATA_DIR": str(data_dir),
            "TONGDAI_CONFIG": str(config),
            "TONGDAI_SMS_GATEWAY": "console",
            "TONGDAI_LOG_LEVEL": "INFO",
            PROBE_DIR_ENV: str(probe_dir),
        }
        settings = load_settings(config, env={**env, "TONGDAI_DATA_DIR": "var"})
        pacing = rehearsed_pacing(settings, args.pace)
        if built.is_dir():  # human recordings would be <Play>ed, as in production
            (data_dir / "prompts").symlink_to(built.resolve())
        prepare_database(load_settings(config, env=env))
        log = data_dir / "server.log"
        servers = []
        watch = DatabaseWatch(db_url)
        try:
            for port, token in zip(ports, tokens, strict=True):
                servers.append(
                    start_server(
                        args.server,
                        env
                        | {
                            "TWILIO_AUTH_TOKEN": token,
                            "TONGDAI_PUBLIC_URL": f"http://{HOST}:{port}",
                        },
                        port,
                        args,
                        log,
                    )
                )
            for port, server in zip(ports, servers, strict=True):
                up = wait_until(
                    lambda s=server, p=port: s.poll() is not None or healthy(p), 60, 0.2
                )
                if not up or server.poll() is not None:
                    print(log.read_text()[-3000:], file=sys.stderr)
                    raise SystemExit(f"{args.server} did not become healthy")
            time.sleep(1)  # gunicorn's workers
            server_pids = {pid for server in servers for pid in process_tree(server.pid)}
            shape = (
                "waitress, 8 threads (tongdai/serve.py, as `tongdai web`), logging at INFO"
                if args.server == "waitress"
                else f"gunicorn {args.workers} workers x {args.threads} threads"
            )
            call_seconds = sum(pacing.prompts) + sum(
                a.spoken or (pacing.silence if not a.keys else 2.0) for a in NEW_LICENCE
            )
            print(
                f"server: {args.replicas} x {shape} on {HOST}:{','.join(map(str, ports))};"
                f" database {db_url.rsplit('/', 1)[-1]} (PostgreSQL, thrown away at the end)\n"
                f"callers: {args.client_procs} asyncio processes (a connection per request, as"
                f" nginx), started over {args.ramp:g} s; each call {len(NEW_LICENCE) + 2} requests"
                f" and about {call_seconds * args.pace:.0f} s"
                f" ({sum(pacing.prompts) * args.pace:.0f} s of prompts, 1-3 s per key answer,"
                f" recordings their length)"
                f"{f', pacing x{args.pace:g}' if args.pace != 1 else ''}\n"
                f"machine: {os.cpu_count()} cores, load average {_load()} (shared: other"
                f" engineers' work shows as `other`)",
                flush=True,
            )
            # Warm-up: each server opens its connections and builds its calendar on a submit.
            warm = run_rung(ports, tokens, 4 * len(ports), 80_000, 0.5,
                            Pacing(pacing.prompts, scale=0.0), 1, 0)  # fmt: skip
            if warm.errors:
                raise SystemExit(f"warm-up failed: {warm.errors[0]}")
            memory = TreeMemory(servers[0].pid).start()
            first, passed = 0, {}
            for number, callers in enumerate(rungs, 1):
                print(f"\nrung {number}: {callers} callers ...", flush=True)
                before, load_before = watch.counts(), _load()
                watch.reset()
                memory.tree_rss_peak = 0
                watch.start()
                t0 = time.time()
                cpu = CpuWindow(lambda pid, comm: "?").start()
                rung = run_rung(
                    ports, tokens, callers, first, args.ramp, pacing, args.client_procs, number
                )
                watch.stop()
                cpu.classify = classifier(server_pids, watch.backends)
                cpu.stop()
                after = watch.counts()
                counts = {k: after[k] - before[k] for k in after if k != "seq"}
                counts["seq"] = after["seq"]
                probe = read_probe(probe_dir, t0, time.time())
                passed[callers] = report_rung(rung, counts, watch, cpu, probe, memory, load_before)
                first += callers + 1000
            memory.stop()
            peak = _mib(status_kib(servers[0].pid, "VmHWM"))
            print(
                "\nladder: "
                + ", ".join(f"{n} {'PASS' if ok else 'FAIL'}" for n, ok in passed.items())
                + f"; server peak resident memory (VmHWM) {peak}"
            )
            problems = [
                line
                for line in log.read_text(errors="replace").splitlines()
                if "Traceback" in line or " ERROR " in line or " WARNING " in line
            ]
            if problems:
                print(f"server log: {len(problems)} warning/error lines, first: {problems[0]}")
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the server and dropping the database", file=sys.stderr)
            return 130
        finally:
            watch.dispose()
            for server in servers:
                stop_server(server, timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
