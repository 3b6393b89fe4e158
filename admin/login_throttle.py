"""Log-in throttling per user name and source address.

Every attempt is counted BEFORE its password is checked, by one upsert that returns the new
count (`INSERT … ON CONFLICT DO UPDATE … RETURNING`): concurrent attempts queue on the row's lock
(PostgreSQL) or the database's write lock (SQLite), so however many arrive at once, at most
MAX_FAILURES of them per WINDOW get a password check. A success deletes the row.

The key is the (user name as typed, source) pair, where the source is the client's address (an
IPv6 client's /64): an attacker's failures lock the attacker's address out of that account, not
the owner, who logs in from elsewhere. Unknown names are counted the same way, so a locked
source reads the same whether or not the account exists.

No account-wide cap: it would let anyone with a few addresses lock the owner out again. Spread
over many addresses, each guess still costs the attacker one address's share of MAX_FAILURES per
WINDOW, and each password is at least ten characters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, delete, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.models import LoginThrottle
from plumbing.db import UtcDateTime

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)
KEY_LENGTH = 64


@dataclass(frozen=True)
class Admission:
    allowed: bool
    attempt: int  # this attempt's number in the current window
    retry_at: dt.datetime  # when the window ends and the count starts again


def _moment(value: dt.datetime):
    return literal(value.astimezone(dt.UTC), UtcDateTime())


def admit(session: Session, username: str, source: str, now: dt.datetime) -> Admission:
    """Count one attempt; the caller commits before checking any password."""
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    expired = LoginThrottle.window_started_at <= _moment(now - WINDOW)
    statement = (
        insert(LoginThrottle)
        .values(username=username[:KEY_LENGTH], source=source, attempts=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=["username", "source"],
            set_={
                "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
                "window_started_at": case(
                    (expired, _moment(now)), else_=LoginThrottle.window_started_at
                ),
            },
        )
        .returning(LoginThrottle.attempts, LoginThrottle.window_started_at)
    )
    attempts, started = session.execute(statement).one()
    return Admission(attempts <= MAX_FAILURES, attempts, started + WINDOW)


def succeeded(session: Session, username: str, source: str, now: dt.datetime) -> None:
    """Forget this pair's count, and every count whose window is over (they lock nothing)."""
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.username == username[:KEY_LENGTH], LoginThrottle.source == source
        )
    )
    session.execute(
        delete(LoginThrottle).where(LoginThrottle.window_started_at <= _moment(now - WINDOW))
    )


def clear(session: Session, username: str) -> None:
    """An admin unlocked or reset the account: every source may try again."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


def locked_sources(session: Session, usernames: list[str], now: dt.datetime) -> dict[str, int]:
    """How many sources are locked out of each of these accounts right now."""
    rows = session.execute(
        select(LoginThrottle.username, func.count())
        .where(
            and_(
                LoginThrottle.username.in_(usernames),
                LoginThrottle.attempts >= MAX_FAILURES,
                LoginThrottle.window_started_at > _moment(now - WINDOW),
            )
        )
        .group_by(LoginThrottle.username)
    )
    return {key: count for key, count in rows}
