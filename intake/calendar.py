"""Working days and legal due dates.

Convention (docs/domain.md, "Working days and due dates"; the cut-off is a setting):
- a dossier received on a working day before the cut-off is received that day; after the cut-off
  or on a non-working day it counts as received on the next working day;
- counting starts the working day after receipt; the due date is the N-th working day counted
  that way, and the result is due by the end of that day;
- the working days a dossier spends waiting for the citizen's supplement move the due date.

Public holidays (lunar Tết and Hùng Kings day, observed days, the government's swapped days off
and worked Saturdays) come from the `holidays` package. Each year's notice can still differ, so
the centre's own corrections (extra holidays, worked days, removed holidays) live in the database
and are layered on top; every process builds its calendar from the same rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import holidays

from intake.statuses import Timeliness

ONE_DAY = dt.timedelta(days=1)
# A due date can never be further than this from its start: guards against an empty calendar.
_MAX_SCAN_DAYS = 3660


class WorkingCalendar:
    """Answers "is this a working day?" and computes receipt and due dates."""

    def __init__(
        self,
        *,
        zone: ZoneInfo,
        cutoff: dt.time,
        extra_holidays: Iterable[dt.date] = (),
        worked_days: Iterable[dt.date] = (),
        removed_holidays: Iterable[dt.date] = (),
    ) -> None:
        self.zone = zone
        self.cutoff = cutoff
        self.extra_holidays = frozenset(extra_holidays)
        self.worked_days = frozenset(worked_days)
        self.removed_holidays = frozenset(removed_holidays)
        self._public = holidays.country_holidays("VN")
        # The package fills its dict lazily per year; fill it under a lock so threads sharing one
        # calendar (web workers, the AGI server) never see a half-filled year.
        self._lock = threading.Lock()
        self._years: set[int] = set()

    def _ensure_year(self, year: int) -> None:
        if year not in self._years:
            with self._lock:
                if year not in self._years:
                    _ = dt.date(year, 1, 1) in self._public  # membership fills the year
                    self._years.add(year)

    def public_holiday_name(self, day: dt.date) -> str | None:
        self._ensure_year(day.year)
        return self._public.get(day)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.worked_days:
            return True
        if day in self.extra_holidays:
            return False
        self._ensure_year(day.year)
        if day in self._public.weekend_workdays:
            return True
        if day.weekday() >= 5:
            return False
        return day in self.removed_holidays or day not in self._public

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after `day`."""
        return self.add_working_days(day, 1)

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The `count`-th working day after `day` (`day` itself is never counted)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        current = day
        for _ in range(_MAX_SCAN_DAYS):
            current += ONE_DAY
            if self.is_working_day(current):
                count -= 1
                if count == 0:
                    return current
        raise RuntimeError("no working day found within ten years: is the calendar empty?")

    def working_days_between(self, after: dt.date, until: dt.date) -> int:
        """Working days d with after < d <= until (0 when until <= after)."""
        count, current = 0, after
        while current < until:
            current += ONE_DAY
            if self.is_working_day(current):
                count += 1
        return count

    def local(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: give an aware time")
        return moment.astimezone(self.zone)

    def receipt_day(self, received_at: dt.datetime) -> dt.date:
        """The day a dossier counts as received (cut-off and non-working days applied)."""
        local = self.local(received_at)
        day = local.date()
        if self.is_working_day(day) and local.time() < self.cutoff:
            return day
        return self.next_working_day(day)

    def due_date(self, received_at: dt.datetime, working_days: int) -> dt.date:
        """The legal due date: the N-th working day after the receipt day."""
        return self.add_working_days(self.receipt_day(received_at), working_days)

    def classify(
        self, due: dt.date, ready_at: dt.datetime, *, apologised: bool = False
    ) -> Timeliness:
        """Early, on time or late, judged against the original due date.

        A dossier that needed an apology letter is late whatever its new date.
        """
        if apologised:
            return Timeliness.LATE
        ready_day = self.local(ready_at).date()
        if ready_day < due:
            return Timeliness.EARLY
        if ready_day == due:
            return Timeliness.ON_TIME
        return Timeliness.LATE
