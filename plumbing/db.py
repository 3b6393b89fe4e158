"""The database: declarative base, engine and session factory.

Plain SQLAlchemy 2.0 with explicit sessions (no Flask-SQLAlchemy): the FastAGI server, the
scheduler and the CLI all run outside Flask and share these.

One way to write: `with sessions() as session, session.begin():` commits when the block ends,
rolls back when it raises, and closes the session. A block that only reads may leave out
`session.begin()` (closing the session ends its implicit transaction).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from enum import StrEnum
from typing import ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    MetaData,
    case,
    create_engine,
    event,
    exc,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# Stable constraint names so Alembic migrations compare and downgrade cleanly.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every backend (SQLite forgets the zone; we put it back).

    Naive datetimes are refused: a local time stored as if it were UTC is a seven-hour bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC time is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# The largest value of PostgreSQL's `integer`, the type of every id column: a larger id in a
# request is refused (400) or not found (404) before it reaches a query.
INTEGER_MAX = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime()}


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the web, AGI and scheduler threads read while one writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        _note_commits(engine)
        return engine
    # A pool as large as a web worker's threads (8 under waitress), or connections beyond it are
    # opened and closed on every request under load.
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    _note_commits(engine)
    return engine


# A pooled connection that was in use less than this long ago is handed out without a ping.
PING_IF_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, but only for connections that sat idle in the pool.

    Under load a webhook's connection was last used milliseconds ago, and the ping was a round
    trip of its own on every request (bench/voice_webhooks.py). Dead connections come
    from a database restart or failover: the first statement to meet one fails, SQLAlchemy then
    discards every older connection, and the call steps run again once on a new one
    (`retry_if_disconnected`). Idle connections are still pinged, so a quiet page never errors.
    """

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        returned = record.info.get("returned_at")  # None: opened just now, nothing to check
        if returned is None or time.monotonic() - returned < PING_IF_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # Likely a restart: the pool drops every connection older than now and hands out a
            # new one.
            raise exc.InvalidatePoolError(str(error)) from error


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def str_enum(kind: type[StrEnum], length: int) -> Enum:
    """A StrEnum stored as its value in a VARCHAR with a CHECK (no native enum to migrate)."""
    return Enum(
        kind,
        native_enum=False,
        length=length,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
        name=kind.__name__.lower(),
    )


P = ParamSpec("P")
R = TypeVar("R")
# Set when this unit of work sent COMMIT: after that, a lost connection leaves its outcome unknown.
_commit_sent: ContextVar[bool] = ContextVar("commit_sent", default=False)


def _note_commits(engine: Engine) -> None:
    @event.listens_for(engine, "commit")
    def _committing(connection) -> None:
        _commit_sent.set(True)


def retry_if_disconnected(work: Callable[P, R]) -> Callable[P, R]:
    """Run a unit of work (one transaction) a second time when its connection turned out to be
    dead before it sent COMMIT, so it certainly changed nothing. A connection lost during the
    COMMIT itself leaves the outcome unknown: that error goes to the caller as before."""

    @functools.wraps(work)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _commit_sent.set(False)
        try:
            return work(*args, **kwargs)
        except exc.DBAPIError as error:
            if not error.connection_invalidated or _commit_sent.get():
                raise
            log.warning("database connection lost; running %s again", work.__qualname__)
        finally:
            _commit_sent.reset(token)
        return work(*args, **kwargs)

    return run


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of a grouped or whole-table SELECT meet `condition` (0, never NULL), so one
    pass over the rows can count several things at once."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
