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
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import summarize, throwaway_database
from bench.twilio_call import TwilioCall

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

        def call(number: int) -> None:
            walk = TwilioCall(f"+849{number:08d}", f"{10000 + number % 90000}")
            webhook = walk.next
            while webhook is not None:
                signature = validator.compute_signature(BASE + webhook.path, webhook.form)
                before, started = statements[0], time.process_time()
                response = client.post(
                    webhook.path, data=webhook.form, headers={"X-Twilio-Signature": signature}
                )
                cpu[webhook.kind].append(time.process_time() - started)
                per_kind[webhook.kind].append(statements[0] - before)
                webhook = walk.answered(response.status_code, response.data)

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
