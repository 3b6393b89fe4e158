"""`tongdai scheduler` processes started for real, on a PostgreSQL database, with the intervals
in seconds: the leader tests and the watchdog test start, kill and watch them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# How long a `tongdai scheduler` may take to start and write its first heartbeat: seconds on an
# idle machine, but imports alone took over 20 s on a shared 2-core runner under load.
STARTUP_SECONDS = 60.0
# No quiet hours: the test runs at any time of day, and a notice held until 07:00 would never be
# "every notice sent" (start == end: no quiet window, sms/quiet_hours.py).
FAST = {
    "rule_seconds": "1",
    "dispatch_seconds": "1",
    "unknown_after_seconds": "3",
    "quiet_start": '"00:00"',
    "quiet_end": '"00:00"',
}


def fast_config(tmp_path: Path) -> Path:
    """config.toml with the scheduler's intervals in seconds (and a short unknown window, so a
    send cut short by the kill is settled within the test), and no quiet hours."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    for key, value in FAST.items():
        text, found = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert found == 1, f"config.toml has no single {key}"
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def wait_for(what: str, predicate: Callable[[], object], seconds: float) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {seconds:.0f} s")


class Schedulers:
    """`tongdai scheduler` processes, each logging to its own file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> int:
        log = self.logs / f"scheduler-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tongdai", "scheduler"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes[process.pid] = process
        return process.pid

    def log(self, pid: int) -> str:
        index = list(self.processes).index(pid)
        return (self.logs / f"scheduler-{index}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def scheduler_fleet(pg_only_url: str, tmp_path: Path) -> Iterator[Schedulers]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TONGDAI_"))}
    env.update(
        DATABASE_URL=pg_only_url,
        TONGDAI_DATA_DIR=str(tmp_path),
        TONGDAI_CONFIG=str(fast_config(tmp_path)),
        TONGDAI_SECRET_KEY="leader-test",
        TONGDAI_SMS_GATEWAY="console",
        TONGDAI_LOG_LEVEL="INFO",
    )
    fleet = Schedulers(env, tmp_path)
    yield fleet
    fleet.stop()
