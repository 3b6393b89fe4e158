"""Quiet hours: notices the centre initiates are not sent at night."""

from __future__ import annotations

import datetime as dt

from plumbing.settings import Settings, parse_clock


def next_sending_time(settings: Settings, now: dt.datetime) -> dt.datetime:
    """`now` if it is inside the sending window, else the window's next start (aware UTC)."""
    zone = settings.zone
    local = now.astimezone(zone)
    start = parse_clock(settings.sms.quiet_start)  # quiet from here ...
    end = parse_clock(settings.sms.quiet_end)  # ... until here (next morning if it wraps)
    clock = local.time()
    if start == end:
        return now  # no quiet hours configured
    if start > end:  # wraps midnight, e.g. 21:00-07:00
        quiet = clock >= start or clock < end
        day = local.date() + dt.timedelta(days=1) if clock >= start else local.date()
    else:  # e.g. 12:00-13:30
        quiet = start <= clock < end
        day = local.date()
    if not quiet:
        return now
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)
