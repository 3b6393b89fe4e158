"""Deaf time on the FastAGI server: how long, between two commands that play or listen, a key
typed ahead would be lost (Asterisk drops DTMF while no AGI command listens).

The figure is the server's own (ivr/asterisk/agi_server.py logs it per call at hang-up: the gaps
from the reply to one audio command to the sending of the next, and the flow steps, engine and
database, behind them); this script runs `tongdai agi` on a throw-away PostgreSQL database, N
simultaneous paced callers (tests/ivr/asterisk/fake_asterisk.py: each prompt answered after
0.5-1.5 s, as a caller listens and types) walking a whole licence application, and prints the
distribution of those per-call lines for N = 25, 50, 100.

    .venv/bin/python bench/deaf_time.py [--calls 25,50,100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import free_port, summarize, throwaway_database  # noqa: E402
from tests.ivr.asterisk.fake_asterisk import SILENCE, FakeAsterisk, Speak, keys  # noqa: E402

# A new licence, as tests/ivr/asterisk/test_agi_server.py walks it.
LICENCE = ["1", "1", "90617#", "1", "2", "012345678901#", "1", "05091975#", "1", Speak(3), "3",
           Speak(4), "3", "1", "1", "1", SILENCE]  # fmt: skip
LINE = re.compile(
    r"deaf time: (\d+) gaps, p50 ([\d.]+) ms, p95 ([\d.]+) ms, max ([\d.]+) ms; "
    r"flow steps p95 ([\d.]+) ms, max ([\d.]+) ms"
)


def paced(_command: str) -> float:
    return random.uniform(0.5, 1.5)


async def wave(port: int, calls: int, offset: int) -> tuple[float, int]:
    fakes = [
        FakeAsterisk(
            port,
            callerid=f"091{offset + i:07d}",
            uniqueid=f"{offset + i}.1",
            script=keys(*LICENCE),
            pace=paced,
        )  # fmt: skip
        for i in range(calls)
    ]
    started = time.perf_counter()
    results = await asyncio.gather(*(fake.call() for fake in fakes), return_exceptions=True)
    return time.perf_counter() - started, sum(isinstance(r, BaseException) for r in results)


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
    parser.add_argument("--calls", default="25,50,100", help="comma-separated call counts")
    args = parser.parse_args()
    sizes = [int(n) for n in args.calls.split(",")]
    lines: list[tuple[float, ...]] = []

    def collect(stream) -> None:
        for raw in stream:
            match = LINE.search(raw.decode("utf-8", "replace"))
            if match:
                lines.append(tuple(float(value) for value in match.groups()))

    with throwaway_database("tongdai_bench_deaf") as url, tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DATABASE_URL": url, "TONGDAI_DATA_DIR": data,
               "TONGDAI_SECRET_KEY": "bench", "TONGDAI_LOG_LEVEL": "INFO"}  # fmt: skip
        subprocess.run([sys.executable, "-m", "tongdai", "db", "upgrade"], env=env, cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "tongdai", "agi", "--port", str(port)],
                                  env=env, cwd=ROOT, stderr=subprocess.PIPE)  # fmt: skip
        reader = threading.Thread(target=collect, args=(server.stderr,), daemon=True)
        reader.start()
        try:
            wait_for_port(port)
            print(f"load average before: {os.getloadavg()[0]:.2f} (1 min)")
            print(f"{'calls':>6} {'errors':>6} {'gaps':>6} {'call p95 ms: p50':>17} {'p95':>7} "
                  f"{'max':>7} {'deaf max ms':>11} {'step p95 ms':>11} {'step max':>8} "
                  f"{'load':>5}")  # fmt: skip
            offset = 0
            for size in sizes:
                before = len(lines)
                _elapsed, errors = asyncio.run(wave(port, size, offset))
                offset += size
                time.sleep(1)  # the last calls' lines
                these = lines[before:]
                p95s = summarize([line[2] for line in these])
                steps = summarize([line[4] for line in these])
                print(f"{size:>6} {errors:>6} {sum(int(line[0]) for line in these):>6} "
                      f"{p95s.p50:>17.1f} {p95s.p95:>7.1f} {p95s.max:>7.1f} "
                      f"{max((line[3] for line in these), default=0):>11.1f} {steps.p95:>11.1f} "
                      f"{max((line[5] for line in these), default=0):>8.1f} "
                      f"{os.getloadavg()[0]:>5.2f}")  # fmt: skip
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
