"""Making a database ready: migrations, then the calendar seeded from config.toml."""

from __future__ import annotations

import logging
from pathlib import Path

from intake.calendar_store import seed_calendar
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import Settings
from tongdai.migrate import upgrade

log = logging.getLogger(__name__)


def prepare_database(settings: Settings) -> None:
    if settings.database_url.startswith("sqlite:///"):
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session, session.begin():
            added = seed_calendar(session, settings)
    finally:
        engine.dispose()
    if added:
        log.info("calendar: %d day(s) from config.toml added to the database", added)
