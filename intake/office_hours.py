"""Hours on working days: when staff answer the phone, and when citizens may be called.

One rule for both questions: a moment is "open" when it falls on a working day of the shared
calendar (intake/calendar.py) inside one of the local windows. The office is open between
`[ivr] office_open` and `office_close` (the IVR's transfer to staff, the notice call's "0");
notice calls are placed only inside `[notice_calls] hours` (ivr/notice_calls.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from intake.calendar import WorkingCalendar
from plumbing.settings import Settings, parse_clock

Windows = Sequence[tuple[dt.time, dt.time]]
# A calendar with no working day in a year is broken: say so rather than loop for ever.
_MAX_SCAN_DAYS = 366


def next_open_time(calendar: WorkingCalendar, windows: Windows, at: dt.datetime) -> dt.datetime:
    """`at` if it is inside one of `windows` (local, in order) on a working day, else the start
    of the next such window (UTC)."""
    zone = calendar.zone
    local = at.astimezone(zone)
    day = local.date()
    for _ in range(_MAX_SCAN_DAYS):
        if calendar.is_working_day(day):
            for start, end in windows:
                opens = dt.datetime.combine(day, start, tzinfo=zone)
                closes = dt.datetime.combine(day, end, tzinfo=zone)
                if local < closes:
                    return at if local >= opens else opens.astimezone(dt.UTC)
        day += dt.timedelta(days=1)
        local = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    raise ValueError("no working day within a year: check the calendar")


def is_open(calendar: WorkingCalendar, windows: Windows, at: dt.datetime) -> bool:
    return next_open_time(calendar, windows, at) == at


def office_windows(settings: Settings) -> Windows:
    ivr = settings.ivr
    return ((parse_clock(ivr.office_open), parse_clock(ivr.office_close)),)


def office_open(settings: Settings, calendar: WorkingCalendar, at: dt.datetime) -> bool:
    """Staff answer the phone: a working day, between `[ivr] office_open` and `office_close`."""
    return is_open(calendar, office_windows(settings), at)
