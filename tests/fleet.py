"""Worker processes that crash tests start, replace when they die and kill from outside: the
SMS outbox's dispatchers (HTTP and SMPP) and the portal sync's workers are tested the same way.

A worker says it is ready (`announce_ready`: imported, connected, about to work) on its standard
output, and `Fleet.fill` waits for that before the test goes on. Imports alone take 11-20 s on
a loaded 2-core machine: a worker killed before it is ready would test nothing, and a test whose
deadline counted those seconds would fail for the load, not for a lost or duplicated message.
So only ready workers are killed from outside, and `Fleet.seconds_since` leaves the wait out.
"""

from __future__ import annotations

import logging
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = b"ready\n"
# A bound on one worker's start, not a speed target: far above the 20 s imports took under load.
READY_SECONDS = 180.0


class WorkerNeverReady(RuntimeError):
    pass


def announce_ready() -> None:
    """In a worker: tell the Fleet that started it that from now on it works (and may be killed)."""
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()


@dataclass
class Fleet:
    """`python -m <module> <arguments> --seed <seed>:<index>` processes, each logging its
    standard error to `logs/worker-NNN.log` and saying on its standard output when it is ready."""

    module: str
    arguments: list[str]
    seed: int
    logs: Path
    alive: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0
    waited: float = 0.0  # seconds spent waiting for workers to get ready
    log_of: dict[int, Path] = field(default_factory=dict)  # pid -> its log
    killed_by_test: set[int] = field(default_factory=set)
    self_killed: int = 0
    exited: int = 0
    crashed: list[int] = field(default_factory=list)  # exit codes other than 0 and SIGKILL

    def _spawn(self) -> subprocess.Popen[bytes]:
        index = self.started
        self.started += 1
        path = self.logs / f"worker-{index:03d}.log"
        with path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.arguments, "--seed",
                 f"{self.seed}:{index}"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
            )  # fmt: skip
        self.log_of[process.pid] = path
        return process

    def _wait_ready(self, process: subprocess.Popen[bytes], deadline: float) -> None:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = process.stdout.readline() if ready else b""
        if line != READY:
            process.kill()
            process.wait()
            log = self.log_of[process.pid].read_text(errors="replace")
            said = "exited" if ready else f"was not ready within {READY_SECONDS:.0f} s"
            raise WorkerNeverReady(f"{self.module} {said} (exit code {process.returncode}):\n{log}")

    def fill(self, count: int) -> None:
        """Start workers until `count` are alive, and wait until the new ones are ready."""
        began = time.monotonic()
        new = [self._spawn() for _ in range(count - len(self.alive))]
        try:
            for process in new:
                self._wait_ready(process, began + READY_SECONDS)
        finally:
            self.alive.extend(process for process in new if process.returncode is None)
            self.waited += time.monotonic() - began

    def seconds_since(self, start: float) -> float:
        """Seconds since `start` (a time.monotonic()) less those spent waiting for workers to
        get ready: the timed part of a crash test, which slow imports cannot stretch."""
        return time.monotonic() - start - self.waited

    def reap(self) -> int:
        """Forget dead processes; how many died."""
        dead = [process for process in self.alive if process.poll() is not None]
        for process in dead:
            self.alive.remove(process)
            if process.stdout is not None:
                process.stdout.close()
            if process.pid in self.killed_by_test:
                continue
            if process.returncode == -signal.SIGKILL:
                self.self_killed += 1
            elif process.returncode == 0:
                self.exited += 1
            else:
                self.crashed.append(process.returncode)
        return len(dead)

    def kill_one(self, draws: random.Random) -> None:
        if self.alive:  # every one of them is ready (`fill` waited for it)
            victim = draws.choice(self.alive)
            self.killed_by_test.add(victim.pid)
            victim.kill()

    def wait_all(self, seconds: float) -> None:
        """Let the workers finish (they exit when idle); kill what is left after `seconds`."""
        deadline = time.monotonic() + seconds
        for process in self.alive:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.reap()


def work_until_idle(
    step: Callable[[], bool],
    outstanding: Callable[[], int],
    *,
    max_seconds: float,
    idle_exit: float,
    pause: float,
    log: logging.Logger,
) -> None:
    """A worker's loop: `step()` (True when it did something) until nothing is outstanding for
    `idle_exit` seconds, or `max_seconds` have passed."""
    deadline = time.monotonic() + max_seconds
    idle_since: float | None = None
    while time.monotonic() < deadline:
        if step():
            idle_since = None
            continue
        if outstanding() == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= idle_exit:
                log.info("nothing left to do: exiting")
                return
        else:
            idle_since = None
        time.sleep(pause)
