"""The centre's calendar corrections in the database: seeded from config, edited by admins."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.calendar import WorkingCalendar
from intake.models import CalendarDay, CalendarDayKind
from plumbing.settings import Settings


def seed_calendar(session: Session, settings: Settings) -> int:
    """Add the days listed in config.toml that the database does not hold yet.

    A day already in the database is left alone: an admin's edit wins over the file.
    Returns the number of days added.
    """
    wanted = [
        *((d, CalendarDayKind.HOLIDAY) for d in settings.calendar.extra_holidays),
        *((d, CalendarDayKind.WORKING) for d in settings.calendar.worked_days),
        *((d, CalendarDayKind.NOT_HOLIDAY) for d in settings.calendar.removed_holidays),
    ]
    existing = set(session.scalars(select(CalendarDay.day)))
    added = 0
    for entry, kind in wanted:
        if entry.date not in existing:
            session.add(CalendarDay(day=entry.date, kind=kind, note=entry.note, source="config"))
            existing.add(entry.date)
            added += 1
    return added


def load_calendar(session: Session, settings: Settings) -> WorkingCalendar:
    """The working-day calendar every process uses: public holidays plus the database's rows."""
    days: dict[CalendarDayKind, list] = {kind: [] for kind in CalendarDayKind}
    for row in session.scalars(select(CalendarDay)):
        days[row.kind].append(row.day)
    return WorkingCalendar(
        zone=settings.zone,
        cutoff=settings.calendar.cutoff_time,
        extra_holidays=days[CalendarDayKind.HOLIDAY],
        worked_days=days[CalendarDayKind.WORKING],
        removed_holidays=days[CalendarDayKind.NOT_HOLIDAY],
    )


def calendar_from_settings(settings: Settings) -> WorkingCalendar:
    """The calendar as config.toml alone describes it (for the CLI without a database)."""
    return WorkingCalendar(
        zone=settings.zone,
        cutoff=settings.calendar.cutoff_time,
        extra_holidays=[d.date for d in settings.calendar.extra_holidays],
        worked_days=[d.date for d in settings.calendar.worked_days],
        removed_holidays=[d.date for d in settings.calendar.removed_holidays],
    )


def corrections_of_year(session: Session, year: int) -> dict[dt.date, CalendarDay]:
    """The centre's own corrections to the calendar in one year, by day."""
    return {
        row.day: row
        for row in session.scalars(
            select(CalendarDay).where(
                CalendarDay.day >= dt.date(year, 1, 1), CalendarDay.day <= dt.date(year, 12, 31)
            )
        )
    }
