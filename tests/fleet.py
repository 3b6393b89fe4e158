"""Worker processes that crash tests start, replace when they die and kill from outside: the
SMS outbox's dispatchers and the portal sync's workers are tested the same way."""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Fleet:
    """`python -m <module> <arguments> --seed <seed>:<index>` processes, each logging to
    `logs/worker-NNN.log`. Only a worker alive `warm_seconds` may be killed from outside: one
    killed while importing would test nothing."""

    module: str
    arguments: list[str]
    seed: int
    logs: Path
    warm_seconds: float
    alive: list[subprocess.Popen[bytes]] = field(default_factory=list)
    born: dict[int, float] = field(default_factory=dict)  # pid -> time.monotonic() at start
    started: int = 0
    killed_by_test: set[int] = field(default_factory=set)
    self_killed: int = 0
    exited: int = 0
    crashed: list[int] = field(default_factory=list)  # exit codes other than 0 and SIGKILL

    def start(self) -> None:
        index = self.started
        self.started += 1
        with (self.logs / f"worker-{index:03d}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.arguments, "--seed",
                 f"{self.seed}:{index}"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.alive.append(process)
        self.born[process.pid] = time.monotonic()

    def reap(self) -> int:
        """Forget dead processes; how many died."""
        dead = [process for process in self.alive if process.poll() is not None]
        for process in dead:
            self.alive.remove(process)
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
        warm = [p for p in self.alive if time.monotonic() - self.born[p.pid] >= self.warm_seconds]
        if warm:
            victim = draws.choice(warm)
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
