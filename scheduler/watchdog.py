"""The scheduler watched from outside: a silent leader is alerted even with a single replica.

A standby scheduler notices a leader that stopped beating (scheduler/alerts.py); with one
scheduler replica nobody is left to notice. So every web process (`tongdai web`, `tongdai run`)
runs this watchdog too: every WATCH_SECONDS it reads the leader's heartbeat and raises the
`scheduler_no_leader` alert (dashboard, email, SMS to supervisors) through the same alert store,
once per problem per day however many processes watch.
"""

from __future__ import annotations

import logging
import threading

from intake.runtime import Runtime
from plumbing.mailer import Mailer
from scheduler.alerts import Problem, mailer_from_settings, raise_alerts

log = logging.getLogger(__name__)
WATCH_SECONDS = 60.0  # well under LEADER_SILENT_SECONDS: the alert comes within a minute of it


class LeaderWatchdog:
    """A daemon thread looking for a silent scheduler leader; `check` is one look."""

    def __init__(
        self,
        runtime: Runtime,
        mailer: Mailer | None = None,
        *,
        interval: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.mailer = mailer
        self.interval = WATCH_SECONDS if interval is None else interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-watchdog", daemon=True)

    @classmethod
    def from_runtime(cls, runtime: Runtime) -> LeaderWatchdog:
        return cls(runtime, mailer_from_settings(runtime.settings))

    def check(self) -> list[Problem]:
        runtime = self.runtime
        return raise_alerts(runtime.sessions, runtime.settings, runtime.calendar(),
                            runtime.clock.now(), self.mailer, leader=False)  # fmt: skip

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 15)

    def _run(self) -> None:
        # The first look only after an interval: a scheduler started with this process (or
        # restarted with it after a night off) beats within seconds, and must not be reported
        # silent for the night its old heartbeat shows.
        while not self._stopping.wait(self.interval):
            try:
                for problem in self.check():
                    log.warning("alert %s: %s", problem.kind, problem.message)
            except Exception:  # the database may be down: the next look tries again
                log.exception("watchdog: look at the scheduler leader failed")
