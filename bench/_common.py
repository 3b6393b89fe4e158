"""Helpers shared by the benchmarks: percentiles, a throw-away PostgreSQL database, the memory and
CPU of a process tree read from /proc, a free local port, a web app's health, stopping a server,
a copy of config.toml with one setting changed."""

from __future__ import annotations

import http.client
import math
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PG_ADMIN_URL = os.environ.get(
    "TONGDAI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# ---- figures -----------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (0 < q <= 100) of already sorted values; nan when empty.

    Nearest rank never interpolates below a value that was observed: p99 of 100 samples is the
    99th slowest, not a blend of the two slowest.
    """
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p95: float
    p99: float
    max: float


def summarize(values: Sequence[float]) -> Summary:
    ordered = sorted(values)
    return Summary(
        len(ordered),
        percentile(ordered, 50),
        percentile(ordered, 95),
        percentile(ordered, 99),
        ordered[-1] if ordered else math.nan,
    )


# ---- network -----------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the usual small race is accepted)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the web app on `port` answers /healthz with 200 (False while it is starting)."""
    try:
        connection = http.client.HTTPConnection(host, port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        finally:
            connection.close()
    except OSError:
        return False


# ---- a throw-away PostgreSQL database ----------------------------------------------------------


@contextmanager
def throwaway_database(prefix: str, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """Create `<prefix>_<random>`, yield its URL, and drop it on the way out (Ctrl-C included).

    The drop uses WITH (FORCE), so connections a crashed server left open do not keep it alive.
    """
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# ---- settings ----------------------------------------------------------------------------------


def config_with(source: Path, folder: Path, key: str, value: str) -> Path:
    """A copy of `source` (a config.toml) in `folder` with the one line `key = ...` set to
    `key = value` (`value` written as TOML: quote strings). Stops the bench when there is not
    exactly one such line, rather than measure a setup it did not mean to."""
    text, count = re.subn(
        rf"(?m)^{re.escape(key)} = .*$", lambda _: f"{key} = {value}", source.read_text("utf-8")
    )
    if count != 1:
        raise SystemExit(f"{source}: {count} lines `{key} = ...`, expected one")
    config = folder / "config.toml"
    config.write_text(text, encoding="utf-8")
    return config


# ---- processes, from /proc ---------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(child) for child in task.read_text().split()]
        except OSError:  # the thread or the process is gone
            pass
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now, parents first."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop(0)
        if Path(f"/proc/{current}").exists():
            tree.append(current)
            pending += _children(current)
    return tree


def ancestors(pid: int) -> list[int]:
    """The parent, grandparent, ... of `pid` up to init (empty when it is gone)."""
    found: list[int] = []
    while pid > 1 and len(found) < 64:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
        found.append(pid)
    return found


def status_kib(pid: int, key: str) -> int | None:
    """A `kB` line of /proc/<pid>/status (VmHWM: peak resident set, VmRSS: resident now)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _stat(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds so far, start time in ticks) of one process; (0, 0) if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0, 0
    # After the command name: state is field 3 of stat, utime 14, stime 15, starttime 22.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS, int(fields[19])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far; 0 when it is gone."""
    return _stat(pid)[0]


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, elapsed) CPU seconds of the whole machine so far, summed over cores (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(values[:8])  # guest time is already counted in user
    idle = values[3] + values[4]  # idle + iowait
    return (total - idle) / _CLOCK_TICKS, total / _CLOCK_TICKS


@dataclass
class TreeMemory:
    """Watches a process tree and keeps each process's peak resident memory (VmHWM).

    The kernel keeps VmHWM itself; sampling only serves to remember processes that exit before
    the end (a worker restarted by its master) and the peak of the tree's summed VmRSS.
    """

    root: int
    interval: float = 0.5
    peaks: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM kB
    names: dict[int, str] = field(default_factory=dict)
    tree_rss_peak: int = 0  # kB, the largest sum of VmRSS seen at one sample
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        total = 0
        for pid in process_tree(self.root):
            hwm, rss = status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS")
            if hwm is None or rss is None:
                continue
            self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
            if pid not in self.names:
                self.names[pid] = "master" if pid == self.root else "worker"
            total += rss
        self.tree_rss_peak = max(self.tree_rss_peak, total)

    def start(self) -> TreeMemory:
        def run() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self.sample()
        self._thread = threading.Thread(target=run, name="tree-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def all_processes() -> dict[int, tuple[str, float, int]]:
    """pid -> (command name, CPU seconds so far, start time) of every process alive now."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            found[int(entry.name)] = (comm, *_stat(int(entry.name)))
    return found


@dataclass
class CpuWindow:
    """CPU seconds used between `start()` and `stop()`, split into groups by
    `classify(pid, command name)`. A process born in the window counts whole; one that died in it
    is lost, which `unaccounted` (the machine's total minus the groups) shows."""

    classify: Callable[[int, str], str]
    used: dict[str, float] = field(default_factory=dict)
    machine_used: float = 0.0  # CPU seconds, all cores
    machine_busy: float = 0.0  # share of all cores busy, 0..1
    seconds: float = 0.0
    _before: dict[int, tuple[str, float, int]] = field(default_factory=dict)
    _machine: tuple[float, float] = (0.0, 0.0)
    _started: float = 0.0

    def start(self) -> CpuWindow:
        self._before, self._machine = all_processes(), machine_cpu_seconds()
        self._started = time.monotonic()
        return self

    def stop(self) -> CpuWindow:
        after, (busy, total) = all_processes(), machine_cpu_seconds()
        self.seconds = time.monotonic() - self._started
        self.used = {}
        for pid, (comm, cpu, born) in after.items():
            before = self._before.get(pid)  # the same process if it started at the same tick
            spent = cpu - before[1] if before and before[2] == born else cpu
            group = self.classify(pid, comm)
            self.used[group] = self.used.get(group, 0.0) + spent
        self.machine_used = busy - self._machine[0]
        span = total - self._machine[1]
        self.machine_busy = self.machine_used / span if span else 0.0
        return self

    @property
    def unaccounted(self) -> float:
        return max(0.0, self.machine_used - sum(self.used.values()))

    def shares(self) -> str:
        """`gunicorn 45%, postgres 30%, ...`: shares of all cores, adding up to `machine_busy`
        (`ended` is what processes that exited during the window used)."""
        capacity = self.seconds * (os.cpu_count() or 1)
        if not capacity:
            return ""
        parts = sorted(self.used.items(), key=lambda item: -item[1])
        parts.append(("ended", self.unaccounted))
        return ", ".join(f"{name} {spent / capacity:.0%}" for name, spent in parts)


def wait_until(predicate, timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def stop_server(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a server we started: SIGINT (each stops cleanly on it), then SIGKILL after `timeout`,
    to its whole process group when it was started in a session of its own (gunicorn's workers)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            own_group = os.getpgid(process.pid) == process.pid
        except ProcessLookupError:  # it ended just now
            own_group = False
        if own_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()
