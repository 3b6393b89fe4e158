"""Where a Twilio webhook's CPU time goes: whole licence calls (bench/licence_call.py) through the
signed webhooks in this process (Flask's test client, no HTTP server, no pauses) on a throw-away
PostgreSQL database, under cProfile.

Prints the CPU milliseconds per request (process time, so waiting on PostgreSQL is not counted),
the SQL statements per step type, and the functions with the most CPU time, by their own time
and by cumulative time. cProfile multiplies the cost of every Python call, so it inflates the
figures unevenly (most where the calls are many and small); `--no-profile` measures the same
walk without it, for CPU figures to compare with the benches'.

    .venv/bin/python bench/webhook_profile.py [--calls 40] [--top 25] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import summarize, throwaway_database
from bench.licence_call import NEW_LICENCE
from bench.voice_webhooks import CallFailed, answer_request, twilio_form

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "profile" * 4
BASE = "http://localhost"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40, help="profiled whole calls")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profile", action="store_true", help="CPU figures only, no cProfile")
    args = parser.parse_args()

    from sqlalchemy import event
    from twilio.request_validator import RequestValidator

    from intake.runtime import Runtime
    from plumbing.settings import load_settings
    from tongdai.app import create_app
    from tongdai.bootstrap import prepare_database

    validator = RequestValidator(TOKEN)
    with throwaway_database("tongdai_bench_profile") as url, tempfile.TemporaryDirectory() as data:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TONGDAI_")},
            "DATABASE_URL": url,
            "TONGDAI_DATA_DIR": data,
            "TONGDAI_SECRET_KEY": "bench",
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TONGDAI_PUBLIC_URL": BASE,
        }
        settings = load_settings(ROOT / "config.toml", env=env)
        prepare_database(settings)
        runtime = Runtime.from_settings(settings)
        client = create_app(runtime).test_client()
        statements = [0]
        event.listen(
            runtime.engine,
            "before_cursor_execute",
            lambda *a: statements.__setitem__(0, statements[0] + 1),
        )
        per_kind: dict[str, list[int]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)

        def post(kind: str, path: str, form: dict[str, str]) -> bytes:
            signature = validator.compute_signature(BASE + path, form)
            before, started = statements[0], time.process_time()
            response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
            cpu[kind].append(time.process_time() - started)
            per_kind[kind].append(statements[0] - before)
            if response.status_code not in (200, 204):
                raise CallFailed(f"{kind}: HTTP {response.status_code}")
            return response.data

        def call(number: int) -> None:
            sid, caller = "CA" + uuid.uuid4().hex, f"+849{number:08d}"
            twiml = ET.fromstring(post("dial-in", "/twilio/voice", twilio_form(sid, caller)))
            for answer in NEW_LICENCE:
                path, fields = answer_request(twiml, answer, f"{10000 + number % 90000}")
                body = post(answer.kind, path, {**twilio_form(sid, caller), **fields})
                twiml = ET.fromstring(body)
            post("status", "/twilio/voice/status", twilio_form(sid, caller, "completed"))

        for number in range(5):  # warm-up: imports, caches, the calendar
            call(50_000 + number)
        cpu.clear()
        per_kind.clear()
        profile = cProfile.Profile(time.process_time)  # CPU, not waiting on PostgreSQL
        if not args.no_profile:
            profile.enable()
        for number in range(args.calls):
            call(number)
        profile.disable()
        runtime.engine.dispose()

    everything = [s for values in cpu.values() for s in values]
    under = "without cProfile" if args.no_profile else "under cProfile, which adds to every figure"
    print(
        f"{args.calls} whole calls, {len(everything)} requests in process ({under}):"
        " CPU ms per request"
    )
    for kind, values in cpu.items():
        s = summarize(values)
        print(
            f"  {kind:<10} {s.count:>5} requests: CPU p50 {s.p50 * 1000:.1f} ms,"
            f" mean {sum(values) / len(values) * 1000:.1f} ms; SQL statements"
            f" {sum(per_kind[kind]) / len(per_kind[kind]):.1f} per request"
        )
    print(f"  overall mean CPU {sum(everything) / len(everything) * 1000:.1f} ms per request")
    if args.no_profile:
        return
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
        text = out.getvalue()
        print(f"\n--- by {order} ---")
        print(text[text.index("ncalls") :].replace(str(ROOT) + "/", ""))


if __name__ == "__main__":
    main()
