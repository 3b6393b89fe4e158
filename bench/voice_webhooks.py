"""The Twilio voice webhooks under a real WSGI server (gunicorn) on a throw-away PostgreSQL
database.

(a) Many simulated callers (200 by default) each walk a whole new-fishing-licence call with
    signed requests, pausing 2-6 s per prompt as a caller would: p50/p95/p99 latency per step
    type (target: p99 under 50 ms).
(b) Peak throughput, in the same run and against the same server: whole calls with no pauses
    vs a signed no-op endpoint, at the same concurrency. The ratio should be at least 0.5.
    Then a signed "floor" endpoint that does the least a step keeping the caller's answer
    could do (one single-statement write, one question in TwiML): its ratio to the no-op is
    the ceiling for any design that saves every answer before it replies.
Then the peak resident memory (VmHWM) of the gunicorn master and of each worker.

    .venv/bin/python bench/voice_webhooks.py            # the full run (about 2 minutes)
    .venv/bin/python bench/voice_webhooks.py --quick    # a smoke test (~20 s)

gunicorn serves `bench.voice_webhooks:make_app()`: the real app plus POST /bench/noop and
POST /bench/floor (which writes only to its own table, `bench_floor`).
"""

from __future__ import annotations

import argparse
import http.client
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
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twilio.request_validator import RequestValidator

from bench._common import (
    CpuWindow,
    TreeMemory,
    ancestors,
    free_port,
    process_tree,
    summarize,
    throwaway_database,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TARGET_P99_MS = 50.0
TARGET_RATIO = 0.5
HTTP_TIMEOUT = 15.0  # Twilio gives up on a webhook after 15 s
KEEPALIVE_REUSE = 1.0  # reuse a connection idle for less than this (gunicorn closes at 2 s)
NOOP_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
CENTRE_NUMBER = "+842553822222"

# The whole new-licence call (tests/ivr/test_twilio_calls.py LICENCE_NEW) as step types.
CALL: tuple[tuple[str, str | int | None], ...] = (
    ("dial-in", None),
    ("menu key", "1"),  # main menu: fishing licence
    ("menu key", "1"),  # new licence
    ("number", "vessel#"),  # vessel number (5 digits, one per caller)
    ("menu key", "1"),  # read back: correct
    ("number", "012345678901#"),  # citizen id
    ("menu key", "1"),  # read back: correct
    ("recording", 4),  # owner's name
    ("recording", 5),  # address
    ("menu key", "1"),  # delivery by post
    ("menu key", "1"),  # notify the phone calling
    ("submit", "1"),  # summary: send -> code and due date read out, then <Hangup/>
    ("status", None),  # Twilio's status callback once the line is down
)
STEP_KINDS = ("dial-in", "menu key", "number", "recording", "submit", "status")


# ---- the server side ---------------------------------------------------------------------------


def make_app():
    """gunicorn's entry: the real app, plus the signed baseline endpoints of (b)."""
    from flask import Response

    from plumbing.twilio_signature import require_twilio_signature
    from tongdai.app import create_app
    from tongdai.startup import load_runtime

    app = create_app(load_runtime())

    def noop() -> Response:
        return Response(NOOP_TWIML, mimetype="text/xml")

    def worker_pid() -> str:  # lets the warm-up see which workers it has reached
        return str(os.getpid())

    for name, view in (("noop", noop), ("floor", _floor()), ("core-step", _core_step())):
        app.add_url_rule(
            f"/bench/{name}", f"bench_{name}", require_twilio_signature(view), methods=["POST"]
        )
    app.add_url_rule("/bench/pid", "bench_pid", worker_pid, methods=["GET"])
    return app


def _one_question(action: str):
    """The TwiML a typical step answers with: one question, one key to press."""
    from flask import Response
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    gather = response.gather(action=action, num_digits=1, timeout=5)
    gather.say(
        "Số đăng ký tàu là Quảng Ngãi chín không sáu một bảy. Đúng, bấm 1. Nhập lại, bấm 2."
        " Tàu của tỉnh khác, bấm 3.",
        language="vi-VN",
    )
    return Response(str(response), mimetype="text/xml")


def _floor():
    """The least a step that keeps the caller's answer must do: one durable write in one
    statement (autocommit, a pool without pre-ping) and a one-question TwiML document."""
    from flask import request
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["DATABASE_URL"], pool_size=4, isolation_level="AUTOCOMMIT")
    upsert = text(
        "INSERT INTO bench_floor (sid, answer, n) VALUES (:sid, :answer, 1) ON CONFLICT (sid)"
        " DO UPDATE SET answer = :answer, n = bench_floor.n + 1 RETURNING n"
    )

    def floor():
        form = request.form
        with engine.connect() as connection:
            n = connection.execute(
                upsert, {"sid": form.get("CallSid", ""), "answer": form.get("Digits", "")}
            ).scalar_one()
        return _one_question(f"/bench/floor?seq={n}")

    return floor


def _core_step():
    """`--core-step`: what a step would cost written by hand in SQLAlchemy Core, without the ORM
    (the ORM-free rewrite weighed when the old 0.5 ratio target was missed): lock the call with
    its draft in one SELECT, save the answer on the draft, save the call state and our answer,
    commit, through the app's own pool policy (plumbing.db.make_engine)."""
    import datetime as dt

    from flask import request
    from sqlalchemy import JSON, Integer, bindparam, text

    from plumbing.db import make_engine

    engine = make_engine(os.environ["DATABASE_URL"], pool_size=4)
    lock = text(
        "SELECT c.seq, c.state, d.form FROM bench_call c JOIN bench_draft d ON d.sid = c.sid"
        " WHERE c.sid = :sid FOR UPDATE OF c"
    ).columns(seq=Integer, state=JSON, form=JSON)
    start = text(
        "INSERT INTO bench_call (sid, seq, state, last_response) VALUES (:sid, 0, :state, '')"
    ).bindparams(bindparam("state", type_=JSON))
    start_draft = text(
        "INSERT INTO bench_draft (sid, form, updated_at) VALUES (:sid, :form, :now)"
    ).bindparams(bindparam("form", type_=JSON))
    save_draft = text(
        "UPDATE bench_draft SET form = :form, updated_at = :now WHERE sid = :sid"
    ).bindparams(bindparam("form", type_=JSON))
    save_call = text(
        "UPDATE bench_call SET seq = seq + 1, state = :state, last_response = :twiml"
        " WHERE sid = :sid"
    ).bindparams(bindparam("state", type_=JSON))

    def core_step():
        sid, digits = request.form.get("CallSid", ""), request.form.get("Digits", "")
        now = dt.datetime.now(dt.UTC)
        with engine.begin() as connection:
            row = connection.execute(lock, {"sid": sid}).first()
            if row is None:
                state = {"node": "main_menu", "answers": {}, "scratch": {}, "failures": 0}
                connection.execute(start, {"sid": sid, "state": state})
                connection.execute(start_draft, {"sid": sid, "form": {"ivr": {}}, "now": now})
                seq, form = 0, {"ivr": {}}
            else:
                seq, state, form = row
            key = f"answer_{seq % 12}"  # a call's dozen answers, as in a real draft
            state["answers"][key] = form["ivr"][key] = digits
            state["node"] = f"question_{seq % 12}"
            response = _one_question(f"/bench/core-step?seq={seq + 1}")
            twiml = response.get_data(as_text=True)
            connection.execute(save_draft, {"sid": sid, "form": form, "now": now})
            connection.execute(save_call, {"sid": sid, "state": state, "twiml": twiml})
        return response

    return core_step


def create_baseline_tables(db_url: str) -> None:
    """The tables `/bench/floor` and `/bench/core-step` write to: not part of the app's schema."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE bench_floor (sid varchar(64) PRIMARY KEY, answer text, n int)")
        )
        connection.execute(
            text(
                "CREATE TABLE bench_call (sid varchar(64) PRIMARY KEY, seq int, state json,"
                " last_response text)"
            )
        )
        connection.execute(
            text(
                "CREATE TABLE bench_draft (sid varchar(64) PRIMARY KEY, form json,"
                " updated_at timestamptz)"
            )
        )
    engine.dispose()


# ---- the simulated Twilio (after tests/ivr/twilio_caller.py, over real HTTP) --------------------


class CallFailed(Exception):
    pass


class Line:
    """One keep-alive HTTP connection, posting signed webhooks as Twilio does."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.base = f"http://{HOST}:{port}"
        self.validator = RequestValidator(token)
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.reconnects = 0  # a reused connection the server had closed meanwhile

    def _fresh(self) -> http.client.HTTPConnection:
        self.close()
        self.connection = http.client.HTTPConnection(HOST, self.port, timeout=HTTP_TIMEOUT)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def post(self, path: str, form: dict[str, str]) -> tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte of the answer)."""
        body = urllib.parse.urlencode(form)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": self.validator.compute_signature(self.base + path, form),
        }
        return self.send("POST", path, body, headers)

    def send(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, float]:
        headers = headers or {}
        reused = self.connection is not None and time.monotonic() - self.last_used < KEEPALIVE_REUSE
        connection = self.connection if reused else self._fresh()
        for attempt in range(2):
            started = time.perf_counter()
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt or not reused:
                    raise
                self.reconnects += 1
                connection = self._fresh()
                continue
            elapsed = time.perf_counter() - started
            self.last_used = time.monotonic()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, data, elapsed
        raise AssertionError("unreachable")


def twilio_form(call_sid: str, caller: str, status: str = "in-progress") -> dict[str, str]:
    """The parameters Twilio sends with every voice webhook (they are all signed)."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": CENTRE_NUMBER,
        "CalledCountry": "VN",
        "Caller": caller,
        "CallerCountry": "VN",
        "Direction": "inbound",
        "From": caller,
        "FromCountry": "VN",
        "To": CENTRE_NUMBER,
        "ToCountry": "VN",
    }


def _parse(status: int, body: bytes, kind: str) -> ET.Element:
    if status != 200:
        raise CallFailed(f"{kind}: HTTP {status}: {body[:120]!r}")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise CallFailed(f"{kind}: not TwiML ({exc}): {body[:120]!r}") from exc


def _heard(twiml: ET.Element) -> str:
    said = " ".join(el.text or "" for el in twiml.iter("Say"))
    played = " ".join((el.text or "").rsplit("/", 1)[-1] for el in twiml.iter("Play"))
    return (said or played)[:160]


def walk_call(
    line: Line,
    caller: str,
    vessel: str,
    pause: Callable[[], bool],
    timed: Callable[[str, float], None],
) -> None:
    """One whole licence call from `caller` for the 5-digit `vessel`. `pause()` waits before
    each prompt is answered and returns False to abandon the call; `timed(kind, seconds)` gets
    each request's latency. Raises CallFailed."""
    call_sid = "CA" + uuid.uuid4().hex
    twiml: ET.Element | None = None
    for kind, value in CALL:
        if twiml is not None and not pause():
            return
        base = twilio_form(call_sid, caller)
        if kind == "dial-in":
            base["CallStatus"] = "ringing"
            path, form = "/twilio/voice", base
        elif kind == "status":
            form = {**twilio_form(call_sid, caller, "completed"), "CallDuration": "52"}
            path = "/twilio/voice/status"
        elif kind == "recording":
            record = twiml.find("Record")
            if record is None:
                raise CallFailed(f"{kind}: no <Record> after: {_heard(twiml)}")
            sid = "RE" + uuid.uuid4().hex
            path = record.get("action", "")
            form = {
                **base,
                "RecordingSid": sid,
                "RecordingDuration": str(value),
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{sid}",
            }
        else:
            gathers = twiml.findall("Gather")
            if not gathers:
                raise CallFailed(f"{kind} {value}: no <Gather> after: {_heard(twiml)}")
            gather, digits = gathers[-1], str(value).replace("vessel", vessel)
            finish = gather.get("finishOnKey")
            reported = digits[:-1] if finish and digits.endswith(finish) else digits
            if gather.get("numDigits") == "1":
                reported = digits[:1]
            path = gather.get("action", "")
            form = {**base, "Digits": reported, "FinishedOnKey": finish or "", "msg": "Gather End"}
        status, body, seconds = line.post(path, form)
        if kind == "status":
            if status != 204:
                raise CallFailed(f"status: HTTP {status}")
            timed(kind, seconds)
            return
        twiml = _parse(status, body, kind)
        timed(kind, seconds)
        hung_up = twiml.find("Hangup") is not None
        if hung_up != (kind == "submit"):
            what = "early hangup" if hung_up else "no hangup"
            raise CallFailed(f"{kind} {value}: {what}: {_heard(twiml)}")


def warm_up(
    port: int, token: str, calls: int, workers: set[int], rounds: int = 10
) -> tuple[int, set[int], list[str]]:
    """Rounds of `calls` whole calls at once, no pauses, until every worker has served one: each
    opens its database connections and builds its holiday calendar (on its first submit) before
    anything is measured. Returns (calls made, workers reached, errors)."""
    reached: set[int] = set()
    errors: list[str] = []
    made = 0

    def one(index: int) -> None:
        line = Line(port, token)
        try:
            walk_call(line, f"+8490{index:07d}", f"{index:05d}", lambda: True, lambda *_: None)
            status, body, _ = line.send("GET", "/bench/pid")  # same keep-alive connection
            if status == 200:
                reached.add(int(body))
        except (CallFailed, OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            line.close()

    for round_ in range(rounds):
        threads = [
            threading.Thread(target=one, args=(round_ * calls + i,), daemon=True)
            for i in range(calls)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=len(CALL) * HTTP_TIMEOUT)
        made += calls
        if workers <= reached or errors:
            break
    return made, reached, errors


# ---- (a) callers who think between prompts ------------------------------------------------------


@dataclass
class CallersResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    completed: int = 0
    abandoned: int = 0  # stopped by the deadline
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    elapsed: float = 0.0
    # (seconds, kind, caller, seconds since the start when it was answered)
    slowest: list[tuple[float, str, int, float]] = field(default_factory=list)


def run_callers(
    port: int, token: str, callers: int, pause_min: float, pause_max: float, ramp: float
) -> CallersResult:
    result = CallersResult()
    lock = threading.Lock()
    stop = threading.Event()
    started = time.monotonic()
    # Each step waits at most the longest pause plus a timed-out request; then everyone stops.
    deadline = started + ramp + len(CALL) * (pause_max + 2) + 60

    def caller_thread(index: int) -> None:
        rng = random.Random(index)
        line = Line(port, token)

        def pause() -> bool:
            return not stop.wait(rng.uniform(pause_min, pause_max))

        def timed(kind: str, seconds: float) -> None:
            with lock:
                result.latencies[kind].append(seconds)
                result.slowest.append((seconds, kind, index, time.monotonic() - started))

        try:
            if stop.wait(ramp * index / callers):
                return
            walk_call(line, f"+8491{index:07d}", f"{10000 + index % 10000}", pause, timed)
            with lock:
                if stop.is_set():
                    result.abandoned += 1
                else:
                    result.completed += 1
        except (CallFailed, OSError, http.client.HTTPException) as exc:
            with lock:
                result.errors.append(f"caller {index}: {type(exc).__name__}: {exc}")
        finally:
            line.close()
            with lock:
                result.reconnects += line.reconnects

    threads = [
        threading.Thread(target=caller_thread, args=(i,), name=f"caller-{i}", daemon=True)
        for i in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(timeout=HTTP_TIMEOUT + 1)
    result.elapsed = time.monotonic() - started
    result.slowest = sorted(result.slowest, reverse=True)[:5]
    return result


# ---- (b) peak throughput, from client processes -------------------------------------------------


def _load_process(
    kind: str,
    port: int,
    token: str,
    threads: int,
    duration: float,
    proc_index: int,
    round_index: int,
    barrier,
    results,
) -> None:
    """One client process: `threads` loops of whole calls (no pauses) or no-op requests.

    Every thread of every client process warms up (one call or request), then all pass one
    barrier with the parent together and run for `duration` seconds."""
    counts = {"requests": 0, "calls": 0, "errors": 0}
    latencies: list[tuple[str, float]] = []
    first_error: list[str] = []
    lock = threading.Lock()

    def loop(thread_index: int) -> None:
        line = Line(port, token)
        # A number of its own for every call of every round: a caller calling again would be
        # offered to resume the draft an earlier round's call left at the end of its window.
        first = round_index * 1000
        numbers = (
            f"+8498{proc_index}{thread_index:02d}{n:04d}" for n in range(first, first + 1000)
        )
        noop_form = twilio_form("CA" + uuid.uuid4().hex, next(numbers)) | {"Digits": "1"}
        calls_made = 0

        def vessel() -> str:
            # One vessel per thread and call, reused by the same thread after 100 calls (so two
            # threads never create the same new vessel at once).
            nonlocal calls_made
            calls_made += 1
            return f"{(3 + proc_index) % 10}{thread_index:02d}{calls_made % 100:02d}"

        kept: list[tuple[str, float]] = []
        end = 0.0
        errors = calls = 0

        def in_window() -> bool:
            return time.monotonic() < end

        def timed(step: str, seconds: float) -> None:
            if in_window():
                kept.append((step, seconds))

        try:
            if kind != "calls":  # warm-up before the clock starts: pools, connections
                line.post(f"/bench/{kind}", noop_form)
            else:
                walk_call(line, next(numbers), vessel(), lambda: True, lambda *_: None)
            barrier.wait(timeout=120)
            end = time.monotonic() + duration
            while in_window() and errors < 100:
                try:
                    if kind != "calls":
                        status, _, seconds = line.post(f"/bench/{kind}", noop_form)
                        if status != 200:
                            raise CallFailed(f"{kind}: HTTP {status}")
                        timed(kind, seconds)
                    else:
                        walk_call(line, next(numbers), vessel(), in_window, timed)
                        calls += in_window()
                except (CallFailed, OSError, http.client.HTTPException, StopIteration) as exc:
                    errors += 1
                    line.close()
                    if not first_error:
                        first_error.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.05)
        except (CallFailed, OSError, http.client.HTTPException, threading.BrokenBarrierError) as e:
            errors += 1
            first_error.append(f"warm-up: {type(e).__name__}: {e}")
            barrier.abort()
        finally:
            line.close()
            with lock:
                counts["requests"] += len(kept)
                counts["calls"] += calls
                counts["errors"] += errors
                latencies.extend(kept)

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:  # warm-up and barrier (120 s at most), the window, the last request
        worker.join(timeout=120 + duration + len(CALL) * HTTP_TIMEOUT)
    results.put(
        {
            **counts,
            "latencies": latencies,
            "error": first_error[0] if first_error else "",
        }
    )


@dataclass
class Throughput:
    kind: str
    requests: int
    calls: int
    errors: int
    seconds: float
    latencies: list[tuple[str, float]]  # (step type, seconds)
    cpu: CpuWindow
    first_error: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_throughput(
    kind: str,
    port: int,
    token: str,
    concurrency: int,
    procs: int,
    duration: float,
    classify: Callable[[int, str], str],
    round_index: int = 0,
) -> Throughput:
    context = multiprocessing.get_context("spawn")
    per_proc = [concurrency // procs + (i < concurrency % procs) for i in range(procs)]
    barrier = context.Barrier(sum(per_proc) + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=_load_process,
            args=(kind, port, token, n, duration, i, round_index, barrier, results),
            daemon=True,
        )
        for i, n in enumerate(per_proc)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=120)  # every client thread has warmed up
    except threading.BrokenBarrierError:
        pass
    cpu = CpuWindow(classify).start()
    started = time.monotonic()
    time.sleep(duration)
    cpu.stop()
    seconds = time.monotonic() - started
    parts = []
    for _ in processes:
        try:
            parts.append(results.get(timeout=HTTP_TIMEOUT + 120))
        except Exception:  # queue.Empty: a client process died; report what the others did
            break
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    return Throughput(
        kind=kind,
        requests=sum(p["requests"] for p in parts),
        calls=sum(p["calls"] for p in parts),
        errors=sum(p["errors"] for p in parts) + (len(processes) - len(parts)),
        seconds=seconds,
        latencies=[s for p in parts for s in p["latencies"]],
        cpu=cpu,
        first_error=next((p["error"] for p in parts if p["error"]), ""),
    )


THROUGHPUT_KINDS = ("calls", "noop", "floor")


@dataclass
class Measured:
    run: Throughput
    waits: str  # lock waits seen while it ran
    connections: int  # most connections to the database at once
    opened: int  # connections opened during the run


def measure_throughput(kind, port, token, args, classify, db_url, round_index) -> Measured:
    watch = DatabaseWatch(db_url)
    before = watch.stats()
    watch.start()
    try:
        run = run_throughput(
            kind,
            port,
            token,
            args.concurrency,
            args.client_procs,
            args.duration,
            classify,
            round_index,
        )
    finally:
        watch.stop()
    after = watch.stats()
    measured = Measured(
        run, watch.waits(), watch.max_connections, after["sessions"] - before["sessions"]
    )
    watch.dispose()
    return measured


def _rounds(n: int) -> str:
    return f"{n} round{'s' if n != 1 else ''}"


def _label(kind: str) -> str:
    return "whole calls" if kind == "calls" else f"/bench/{kind}"


def _ratio(runs: dict[str, Measured], kind: str) -> float:
    noop = runs["noop"].run.rate
    return runs[kind].run.rate / noop if noop else 0.0


def _print_throughput(kind: str, measured: Measured) -> None:
    run = measured.run
    s = summarize([seconds for _, seconds in run.latencies])
    extra = f" ({run.calls / run.seconds:.1f} calls/s)" if kind == "calls" else ""
    print(
        f"  {_label(kind):<11} {run.rate:7.0f} req/s{extra}; p50 {s.p50 * 1000:.1f} ms,"
        f" p99 {s.p99 * 1000:.1f} ms; errors {run.errors}"
        f"{f' ({run.first_error})' if run.first_error else ''}"
    )
    if kind == "calls":
        steps = defaultdict(list)
        for step, seconds in run.latencies:
            steps[step].append(seconds)
        print(
            "              p50/p99 ms by step: "
            + ", ".join(
                f"{step} {summarize(v).p50 * 1000:.0f}/{summarize(v).p99 * 1000:.0f}"
                for step in STEP_KINDS
                if (v := steps.get(step))
            )
        )
    per_request = 1000 / run.requests if run.requests else 0.0
    ms = {name: f"{spent * per_request:.2f}" for name, spent in run.cpu.used.items()}
    print(
        f"              CPU ms/request: gunicorn {ms.get('gunicorn', '-')},"
        f" postgres {ms.get('postgres', '-')}, clients {ms.get('client', '-')};"
        f" machine {run.cpu.machine_busy:.0%} busy ({run.cpu.shares()})"
    )
    print(
        f"              database: {measured.waits}; connections max"
        f" {measured.connections}, opened {measured.opened}"
    )


# ---- the database, watched while the load runs --------------------------------------------------


class DatabaseWatch:
    """Samples pg_stat_activity of the benchmark database: backends waiting on a lock, and what
    they were running."""

    QUERY = """
        SELECT wait_event_type = 'Lock', left(regexp_replace(query, '\\s+', ' ', 'g'), 48)
        FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
    """

    def __init__(self, url: str, interval: float = 0.1) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.interval = interval
        self.samples = self.lock_samples = self.max_waiting = self.max_connections = 0
        self.waiting_in: Counter[str] = Counter()  # statement -> samples it was seen waiting
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def waits(self) -> str:
        """`waiting on a lock in N/M samples (max K at once: statement x count, ...)`."""
        where = "; ".join(f"{query}... x{n}" for query, n in self.waiting_in.most_common(3))
        return (
            f"backends waiting on a lock in {self.lock_samples}/{self.samples} samples"
            f" (max {self.max_waiting} at once{f': {where}' if where else ''})"
        )

    def stats(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            row = connection.execute(
                self.sa.text(
                    "SELECT sessions, xact_commit, xact_rollback, deadlocks FROM pg_stat_database"
                    " WHERE datname = current_database()"
                )
            ).one()
        return dict(zip(("sessions", "commits", "rollbacks", "deadlocks"), row, strict=True))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            one = connection.execute(
                self.sa.text(
                    "SELECT (SELECT count(*) FROM dossier WHERE status = 'received'),"
                    " (SELECT count(DISTINCT code) FROM dossier WHERE status = 'received'),"
                    " (SELECT count(*) FROM dossier_event WHERE to_status = 'received'),"
                    " (SELECT count(*) FROM ivr_call WHERE outcome = 'submitted'),"
                    " (SELECT count(*) FROM ivr_call WHERE ended_at IS NOT NULL)"
                )
            ).one()
        return dict(zip(("received", "codes", "receipts", "submitted", "ended"), one, strict=True))

    def start(self) -> DatabaseWatch:
        def run() -> None:
            with self.engine.connect() as connection:
                while not self._stop.wait(self.interval):
                    rows = connection.execute(self.sa.text(self.QUERY)).all()
                    connection.rollback()
                    waiting = [query for locked, query in rows if locked]
                    self.samples += 1
                    self.lock_samples += bool(waiting)
                    self.max_waiting = max(self.max_waiting, len(waiting))
                    self.max_connections = max(self.max_connections, len(rows))
                    self.waiting_in.update(waiting)

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


# ---- gunicorn ----------------------------------------------------------------------------------


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int, log: Path
) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{HOST}:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--chdir", str(ROOT),
        "--log-level", "warning",
        "--timeout", "60",
        "bench.voice_webhooks:make_app()",
    ]  # fmt: skip
    with log.open("wb") as out:
        # Its own session: a Ctrl-C reaches only us, and we stop the server in order.
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def classifier(server_pids: set[int]) -> Callable[[int, str], str]:
    """Names the group a process's CPU time belongs to, for the report."""
    me = os.getpid()

    def classify(pid: int, comm: str) -> str:
        if pid in server_pids:
            return "gunicorn"
        if comm.startswith("postgres"):
            return "postgres"
        if pid == me or me in ancestors(pid):
            return "client"
        return "other"

    return classify


def healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        connection.request("GET", "/healthz")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()  # SIGTERM: graceful shutdown of the master and its workers
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


# ---- the report --------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value * 1000:7.1f}"


def _table(latencies: dict[str, list[float]]) -> list[str]:
    lines = [
        f"    {'step':<10} {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    ]
    everything: list[float] = []
    for kind in (*STEP_KINDS, "overall"):
        values = everything if kind == "overall" else latencies.get(kind, [])
        if kind != "overall":
            everything += values
        if not values:
            continue
        s = summarize(values)
        lines.append(
            f"    {kind:<10} {s.count:>6} {_ms(s.p50)} {_ms(s.p95)} {_ms(s.p99)} {_ms(s.max)}"
        )
    return lines


def _mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--pause-min", type=float, default=2.0)
    parser.add_argument("--pause-max", type=float, default=6.0)
    parser.add_argument("--ramp", type=float, default=10.0, help="callers start over this many s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per (b) run")
    parser.add_argument("--concurrency", type=int, default=32, help="(b) concurrent clients")
    parser.add_argument("--client-procs", type=int, default=2, help="(b) client processes")
    parser.add_argument("--rounds", type=int, default=3, help="(b) rounds; the median counts")
    parser.add_argument(
        "--core-step", action="store_true", help="(b) also a step written in SQLAlchemy Core"
    )
    # 4 x 4 on this 2-core machine: p99 in (a) as good as 4 x 8 or 8 x 2 when the machine is
    # quiet and the least hurt when it is not, the best throughput in (b), no more threads than
    # SQLAlchemy's default pool of 5 connections, and half the memory of 8 workers.
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="per worker (1: sync workers)")
    parser.add_argument(
        "--warmup", type=int, default=8, help="whole calls at once before (a); 0: cold start"
    )
    parser.add_argument("--say", action="store_true", help="no built prompt audio: <Say> only")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 20 callers, 0.2-0.5 s pauses, 3 s (b)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.callers, args.pause_min, args.pause_max = 20, 0.2, 0.5
        args.ramp, args.duration, args.rounds = 2.0, 3.0, 1
    if not (0 < args.pause_min <= args.pause_max and args.callers > 0 and args.duration > 0):
        parser.error("need callers > 0, duration > 0 and 0 < pause-min <= pause-max")
    if not 1 <= args.rounds <= 10:
        parser.error("need 1 to 10 rounds")  # each round has its own 1000 numbers per client
    args.client_procs = max(1, min(args.client_procs, args.concurrency))

    # A Ctrl-C or a kill still stops the server and drops the database.
    # (SIGINT too: a shell starting us in the background would have it ignored.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    import gunicorn

    from plumbing.settings import load_settings
    from tongdai.bootstrap import prepare_database

    token = secrets.token_hex(16)
    port = free_port()
    with (
        tempfile.TemporaryDirectory(prefix="tongdai-bench-") as tmp,
        throwaway_database("tongdai_bench") as db_url,
    ):
        data_dir = Path(tmp)
        built = ROOT / "var" / "prompts"
        prompt_files = 0
        if not args.say and (built / "web").is_dir():
            (data_dir / "prompts").symlink_to(built)
            prompt_files = len(list((built / "web").glob("*.mp3")))
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "TWILIO_AUTH_TOKEN": token,
            "TONGDAI_SECRET_KEY": secrets.token_hex(16),
            "TONGDAI_DATA_DIR": str(data_dir),
            "TONGDAI_PUBLIC_URL": f"http://{HOST}:{port}",
            "TONGDAI_CONFIG": str(ROOT / "config.toml"),
            "TONGDAI_SMS_GATEWAY": "console",
        }
        prepare_database(load_settings(ROOT / "config.toml", env=env))
        create_baseline_tables(db_url)
        log = data_dir / "gunicorn.log"
        watch = DatabaseWatch(db_url)
        server = start_gunicorn(env, port, args.workers, args.threads, log)
        try:
            if not wait_until(lambda: server.poll() is not None or healthy(port), 60, 0.2) or (
                server.poll() is not None
            ):
                print(log.read_text()[-3000:], file=sys.stderr)
                raise SystemExit("gunicorn did not become healthy")
            memory = TreeMemory(server.pid).start()
            wait_until(lambda: len(process_tree(server.pid)) > args.workers, 10)
            server_pids = process_tree(server.pid)
            classify = classifier(set(server_pids))
            worker_kind = "gthread" if args.threads > 1 else "sync"
            load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
            print(
                f"gunicorn {gunicorn.__version__} ({worker_kind}): {args.workers} workers x "
                f"{args.threads} threads on {HOST}:{port}; database {db_url.rsplit('/', 1)[-1]} "
                f"(PostgreSQL, migrated, thrown away at the end)"
            )
            print(
                f"prompts: {f'{prompt_files} built files (<Play>)' if prompt_files else '<Say>'};"
                f" client: Python threads, keep-alive reused when idle < {KEEPALIVE_REUSE:g} s;"
                f" each call = {len(CALL)} requests incl. the status callback;"
                f" {os.cpu_count()} cores, load average before the run {load}",
                flush=True,
            )

            # (a)
            print(
                f"\n(a) {args.callers} callers, pauses {args.pause_min:g}-{args.pause_max:g} s,"
                f" starting over {args.ramp:g} s ...",
                flush=True,
            )
            if args.warmup:
                workers = set(server_pids) - {server.pid}
                made, reached, failed = warm_up(port, token, args.warmup, workers)
                print(
                    f"  warm-up: {made} whole calls, {args.warmup} at once, no pauses;"
                    f" {len(reached & workers)}/{len(workers)} workers reached"
                    f"{f'; errors {len(failed)}: {failed[0]}' if failed else ''}"
                )
            before, counted = watch.stats(), watch.counts()
            watch.start()
            cpu = CpuWindow(classify).start()
            callers = run_callers(
                port, token, args.callers, args.pause_min, args.pause_max, args.ramp
            )
            cpu.stop()
            watch.stop()
            after = watch.stats()
            counts = {key: n - counted[key] for key, n in watch.counts().items()}
            requests = sum(len(v) for v in callers.latencies.values())
            print(
                f"  calls completed {callers.completed}/{args.callers}, errors"
                f" {len(callers.errors)}, abandoned at the deadline {callers.abandoned};"
                f" {requests} requests in {callers.elapsed:.0f} s"
                f" ({requests / callers.elapsed:.0f} req/s); reconnects {callers.reconnects}"
            )
            for error in callers.errors[:5]:
                print(f"    ! {error}")
            print("\n".join(_table(callers.latencies)))
            overall = summarize([s for v in callers.latencies.values() for s in v])
            verdict = "PASS" if overall.p99 * 1000 < TARGET_P99_MS else "FAIL"
            print(
                f"  p99 overall {overall.p99 * 1000:.1f} ms (target < {TARGET_P99_MS:g}): {verdict}"
            )
            slow = ", ".join(
                f"{k} {s * 1000:.0f} ms (caller {i}, at {t:.1f} s)"
                for s, k, i, t in callers.slowest
            )
            print(f"  slowest: {slow}")
            print(
                f"  database: {counts['received']} dossiers received, {counts['codes']} distinct"
                f" codes, {counts['receipts']} 'received' events (the notice rules' receipt SMS),"
                f" {counts['ended']} calls ended"
            )
            print(f"  CPU: machine {cpu.machine_busy:.0%} busy ({cpu.shares()})")
            print(
                f"  database: {watch.waits()}; connections max {watch.max_connections},"
                f" opened {after['sessions'] - before['sessions']},"
                f" deadlocks {after['deadlocks'] - before['deadlocks']}"
            )

            # (b)
            print(
                f"\n(b) peak throughput: {args.concurrency} concurrent clients in"
                f" {args.client_procs} processes, {args.duration:g} s per run, no pauses;"
                f" {_rounds(args.rounds)} of whole calls, no-op, floor"
                f"{', core step' if args.core_step else ''} (the machine is shared:"
                f" the round with the median ratio is shown in full) ...",
                flush=True,
            )
            watch.dispose()
            rounds: list[dict[str, Measured]] = []
            for number in range(1, args.rounds + 1):
                runs = {
                    kind: measure_throughput(kind, port, token, args, classify, db_url, number - 1)
                    for kind in THROUGHPUT_KINDS + (("core-step",) if args.core_step else ())
                }
                rounds.append(runs)
                print(
                    f"  round {number}: "
                    + ", ".join(f"{_label(k)} {runs[k].run.rate:.0f} req/s" for k in runs)
                    + "; ratio "
                    + ", ".join(f"{k} {_ratio(runs, k):.2f}" for k in runs if k != "noop"),
                    flush=True,
                )
            rounds.sort(key=lambda runs: _ratio(runs, "calls"))
            median = rounds[len(rounds) // 2]
            for kind, measured in median.items():
                _print_throughput(kind, measured)
            ratios = [_ratio(runs, "calls") for runs in rounds]
            floors = sorted(_ratio(runs, "floor") for runs in rounds)
            ratio, floor = _ratio(median, "calls"), floors[len(floors) // 2]
            verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
            print(
                f"  ratio whole calls / no-op {ratio:.2f} (median of {_rounds(len(ratios))},"
                f" {ratios[0]:.2f}-{ratios[-1]:.2f}; target >= {TARGET_RATIO:g}): {verdict}"
            )
            print(
                f"  ratio floor / no-op {floor:.2f} ({floors[0]:.2f}-{floors[-1]:.2f}): the most"
                " any design saving each answer before replying could reach here; whole calls"
                f" reach {ratio / floor:.0%} of it"
                if floor
                else "  ratio floor / no-op: not measured"
            )
            if args.core_step:
                cores = sorted(_ratio(runs, "core-step") for runs in rounds)
                core = cores[len(cores) // 2]
                print(
                    f"  ratio core step / no-op {core:.2f} ({cores[0]:.2f}-{cores[-1]:.2f}): a"
                    f" step by hand in SQLAlchemy Core, {core / floor:.0%} of the floor"
                    if floor
                    else "  ratio core step / no-op: not measured"
                )

            # memory
            memory.stop()
            workers = {pid: kib for pid, kib in memory.peaks.items() if pid != server.pid}
            print(
                f"\npeak resident memory (VmHWM): master {_mib(memory.peaks.get(server.pid, 0))};"
                f" workers {', '.join(_mib(k) for k in workers.values())}"
                f" (sum {_mib(sum(workers.values()))}); all {_mib(sum(memory.peaks.values()))};"
                f" largest summed VmRSS seen {_mib(memory.tree_rss_peak)}"
            )
            problems = [
                line
                for line in log.read_text(errors="replace").splitlines()
                if "Traceback" in line or "ERROR" in line or "WARNING" in line
            ]
            if problems:
                print(f"server log: {len(problems)} warning/error lines, first: {problems[0]}")
        except KeyboardInterrupt:
            print("\ninterrupted: stopping the server and dropping the database", file=sys.stderr)
            return 130
        finally:
            watch.dispose()
            stop_gunicorn(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
