"""FastAGI under load: N simultaneous calls walking a whole licence application.

The server runs as `tongdai agi` (its own process) on a throw-away PostgreSQL database; the
callers are protocol-level (a scripted Asterisk per call, tests/ivr/asterisk/fake_asterisk.py),
all started at once. Prints, for N = 50, 200, 500: whole calls per second, the server's added
latency per AGI command (from our answer to its next command: the flow engine, the database and
the event loop), errors, and the AGI process's peak resident memory.

    .venv/bin/python bench/agi_calls.py [--calls 50,200,500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import free_port, status_kib, summarize, throwaway_database  # noqa: E402
from tests.ivr.asterisk.fake_asterisk import FakeAsterisk, Speak, keys  # noqa: E402

LICENCE = ["1", "1", "90617#", "1", "012345678901#", "1", Speak(3), Speak(4), "1", "1", "1"]


async def wave(port: int, calls: int, offset: int) -> tuple[float, list[float], int, int]:
    fakes = [
        FakeAsterisk(
            port,
            callerid=f"091{offset + i:07d}",
            uniqueid=f"{offset + i}.1",
            script=keys(*LICENCE),
            timed=True,
        )
        for i in range(calls)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*(fake.call() for fake in fakes), return_exceptions=True)
    elapsed = time.perf_counter() - started
    errors = sum(isinstance(result, BaseException) for result in results)
    finished = sum(
        1 for fake in fakes if fake.variables.get("TONGDAI_NEXT") == "hangup" and fake.script == []
    )
    latencies = [value for fake in fakes for value in fake.latencies]
    return elapsed, latencies, errors, finished


def wait_for_port(port: int, seconds: float = 30) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the AGI server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="50,200,500", help="comma-separated call counts")
    args = parser.parse_args()
    sizes = [int(n) for n in args.calls.split(",")]

    with throwaway_database("tongdai_bench_agi") as url, tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "TONGDAI_DATA_DIR": data,
            "TONGDAI_SECRET_KEY": "bench",
            "TONGDAI_LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "tongdai", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "tongdai", "agi", "--port", str(port)], env=env, cwd=ROOT
        )
        try:
            wait_for_port(port)
            print(
                f"FastAGI server pid {server.pid} on PostgreSQL; whole licence calls "
                f"({len(LICENCE)} caller inputs, ~58 AGI commands each)"
            )
            print(
                f"{'calls':>6} {'calls/s':>8} {'commands':>9} {'p50 ms':>7} {'p95 ms':>7} "
                f"{'p99 ms':>7} {'max ms':>7} {'errors':>6} {'done':>5}"
            )
            offset = 0
            for size in sizes:
                elapsed, latencies, errors, done = asyncio.run(wave(port, size, offset))
                offset += size
                s = summarize(latencies)
                print(
                    f"{size:>6} {size / elapsed:>8.1f} {s.count:>9} {s.p50 * 1000:>7.2f} "
                    f"{s.p95 * 1000:>7.2f} {s.p99 * 1000:>7.2f} {s.max * 1000:>7.1f} "
                    f"{errors:>6} {done:>5}"
                )
            peak = status_kib(server.pid, "VmHWM")
            print(
                f"AGI process peak resident memory: {peak / 1024:.1f} MiB"
                if peak
                else "AGI process memory: unavailable"
            )
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
