"""Staff sessions on the server: a row per log-in, checked on every request.

The signed cookie carries a random token; the `staff_session` row (found by the token's SHA-256)
says whose it is and whether it still lives. A session ends at log-out, after INACTIVITY without
a request, LIFETIME after log-in, when its owner changes the password (their other sessions),
when an admin resets the password, disables the account or ends its sessions. An ended session
never comes back, whoever kept a copy of the cookie.

`last_seen_at` is written at most once per TOUCH_EVERY, so a busy page does not write on every
request; the cookie also carries the time of its last request, so the inactivity rule stays
exact to the second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from intake.models import StaffSession, StaffUser

INACTIVITY = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=12)
TOUCH_EVERY = dt.timedelta(minutes=1)
# Ended and expired rows are kept this long (who logged in from where), then deleted.
KEEP_ROWS = dt.timedelta(days=30)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user_id: int, address: str, now: dt.datetime) -> str:
    """A new session for `user_id`; returns the token to put in the cookie."""
    session.execute(
        delete(StaffSession).where(
            StaffSession.staff_user_id == user_id, StaffSession.created_at < now - KEEP_ROWS
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_digest=digest(token),
            staff_user_id=user_id,
            created_at=now,
            last_seen_at=now,
            address=address[:45],
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class Resumed:
    session_id: int
    user: StaffUser | None  # None: the session has ended (or never existed)
    expired: bool = False  # it ended just now, for inactivity or age


def resume(
    session: Session, token: str, now: dt.datetime, cookie_last_seen: dt.datetime | None
) -> Resumed:
    """The live session of this token, touched when due; ends it when it has run out."""
    row = session.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
        .where(StaffSession.token_digest == digest(token))
    ).one_or_none()
    if row is None:
        return Resumed(0, None)
    staff_session, user = row
    if staff_session.ended_at is not None or not user.active:
        return Resumed(staff_session.id, None)
    # The cookie's time is one the server wrote for this session, so never later than its
    # real last request: taking it can only shorten an idle gap that truly happened.
    last_seen = max(staff_session.last_seen_at, cookie_last_seen or staff_session.last_seen_at)
    reason = None
    if now - last_seen > INACTIVITY:
        reason = "idle"
    elif now - staff_session.created_at > LIFETIME:
        reason = "expired"
    if reason is not None:
        end(session, staff_session.id, now, reason)
        return Resumed(staff_session.id, None, expired=True)
    if now - staff_session.last_seen_at >= TOUCH_EVERY:
        session.execute(
            update(StaffSession).where(StaffSession.id == staff_session.id).values(last_seen_at=now)
        )
    return Resumed(staff_session.id, user)


def _live(now: dt.datetime):
    return (
        StaffSession.ended_at.is_(None),
        StaffSession.last_seen_at > now - INACTIVITY,
        StaffSession.created_at > now - LIFETIME,
    )


def end(session: Session, session_id: int, now: dt.datetime, reason: str) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )


def end_all(
    session: Session, user_id: int, now: dt.datetime, reason: str, keep: int | None = None
) -> int:
    """End every session of `user_id` but `keep`; return how many of them were in use."""
    statement = (
        update(StaffSession)
        .where(StaffSession.staff_user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .returning(StaffSession.last_seen_at, StaffSession.created_at)
    )
    if keep is not None:
        statement = statement.where(StaffSession.id != keep)
    ended = session.execute(statement).all()
    return sum(
        1
        for last_seen, created in ended
        if now - last_seen <= INACTIVITY and now - created <= LIFETIME
    )


def live_counts(session: Session, user_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """How many live sessions each of these accounts has."""
    rows = session.execute(
        select(StaffSession.staff_user_id, func.count())
        .where(StaffSession.staff_user_id.in_(user_ids), *_live(now))
        .group_by(StaffSession.staff_user_id)
    )
    return {key: count for key, count in rows}
