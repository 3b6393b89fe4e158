"""The procedures' catalogue entries (LayThuTuc), kept in the database and refreshed daily, so
a portal outage does not stop the sync: records carry the last names the portal gave."""

from __future__ import annotations

import datetime as dt
import logging
import weakref

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from onestop.models import ProcedureEntry
from onestop.portal import Portal, PortalError, Record
from plumbing.settings import Settings

log = logging.getLogger(__name__)
REFRESH_EVERY = dt.timedelta(days=1)
# A procedure the portal does not know is asked again after this, not at every sync tick.
RETRY_EVERY = dt.timedelta(minutes=10)
_last_try: weakref.WeakKeyDictionary[Portal, dt.datetime] = weakref.WeakKeyDictionary()


def national_codes(settings: Settings) -> list[str]:
    return sorted({p.national_code for p in settings.procedures.values() if p.national_code})


def entry_values(entry: Record) -> dict[str, str]:
    """The columns we keep from a LayThuTuc `result[0]`."""
    sectors = entry.get("LINHVUCTHUCHIEN") or [{}]
    agencies = entry.get("COQUANTHUCHIEN") or [{}]
    return {
        "name": str(entry.get("TENTTHC") or ""),
        "sector_code": str(sectors[0].get("MALINHVUC") or ""),
        "sector_name": str(sectors[0].get("TENLINHVUC") or ""),
        "agency_name": str(agencies[0].get("TENDONVI") or ""),
    }


def store_entry(session: Session, code: str, entry: Record, now: dt.datetime) -> ProcedureEntry:
    row = session.get(ProcedureEntry, code)
    if row is None:
        row = ProcedureEntry(national_code=code, fetched_at=now)
        session.add(row)
    for key, value in entry_values(entry).items():
        setattr(row, key, value)
    row.fetched_at = now
    return row


def refresh_catalogue(
    sessions: sessionmaker[Session], portal: Portal, settings: Settings, now: dt.datetime
) -> dict[str, Record | None]:
    """Ask LayThuTuc for each configured procedure; store what the portal says (the portal's
    call is made with no session open). Returns the answers; raises PortalError."""
    answers = {code: portal.procedure(code) for code in national_codes(settings)}
    with sessions() as session, session.begin():
        for code, entry in answers.items():
            if entry is not None:
                store_entry(session, code, entry, now)
    return answers


def refresh_if_stale(
    sessions: sessionmaker[Session], portal: Portal, settings: Settings, now: dt.datetime
) -> None:
    """Once a day (or when an entry is missing); a failure leaves the old entries in use."""
    codes = national_codes(settings)
    with sessions() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(ProcedureEntry.fetched_at)).where(
                ProcedureEntry.national_code.in_(codes)
            )
        ).one()
    if count == len(codes) and oldest is not None and now - oldest < REFRESH_EVERY:
        return
    last = _last_try.get(portal)
    if last is not None and dt.timedelta(0) <= now - last < RETRY_EVERY:
        return
    _last_try[portal] = now
    try:
        refresh_catalogue(sessions, portal, settings, now)
    except PortalError as error:
        log.warning("onestop: the procedure catalogue could not be refreshed: %s", error)
