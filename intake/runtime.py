"""What every process shares: settings, the database, the clock and the calendar.

The roots (tongdai.startup.load_runtime) build one from the checked settings."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from intake.calendar import WorkingCalendar
from intake.calendar_store import load_calendar
from intake.clock import Clock, SystemClock
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import Settings

# How long a process trusts its copy of the calendar before re-reading the database. An admin's
# edit reaches every process (web, AGI, scheduler) within this time.
CALENDAR_TTL_SECONDS = 30.0


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    _calendar: WorkingCalendar | None = None
    _calendar_loaded: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_session_factory(engine), clock or SystemClock())

    def calendar(self) -> WorkingCalendar:
        """The shared working-day calendar, re-read from the database every few seconds."""
        with self._lock:
            stale = time.monotonic() - self._calendar_loaded > CALENDAR_TTL_SECONDS
            if self._calendar is None or stale:
                with self.sessions() as session:
                    self._calendar = load_calendar(session, self.settings)
                self._calendar_loaded = time.monotonic()
            return self._calendar

    def forget_calendar(self) -> None:
        """Drop the cached calendar (after this process edited it)."""
        with self._lock:
            self._calendar = None
