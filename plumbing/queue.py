"""One skeleton for every table of orders that processes carry out against an outside system.

The SMS outbox (`sms/dispatch.py`), the call orders (`ivr/call_orders.py`) and the portal sync
(`onestop/sync.py`) share it; the next such table (notice calls) should too, rather than copying
any of them.

The rules it keeps, whatever the table:
- a row moves pending -> working -> (a final status, or pending again for a retry); a process
  that died while working leaves the row in `working`, and after a window it becomes `unknown`;
- several processes share the work: a claim locks due rows with FOR UPDATE SKIP LOCKED, marks
  them working, counts the attempt and COMMITS before any outside call;
- no database session is open during the outside call (a slow provider must not hold a
  connection or a lock);
- every later move is an UPDATE guarded by the status (and attempt) it expects, so a row another
  process settled meanwhile is never moved twice;
- retries back off exponentially with ±50 % jitter, so retries after an outage do not all arrive
  at once.

A table used with it needs the columns `id`, `status`, `attempts`, `next_attempt_at`,
`claimed_at` and `updated_at`.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

Row = TypeVar("Row")
Job = TypeVar("Job")
Result = TypeVar("Result")
log = logging.getLogger(__name__)

# Fault-injection points: run_batch calls its `checkpoint` with these names (crash tests).
AFTER_CLAIM, AFTER_CALL, AFTER_RECORD = "after_claim", "after_call", "after_record"


def backoff_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base * 2^(attempts-1), capped, ±50 %."""
    delay = min(base_seconds * 2 ** (attempts - 1), max_seconds)
    return delay * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class Claimed(Generic[Job]):
    """A claimed row as plain data: what the outside call needs, taken before the commit."""

    id: int
    attempt: int  # the row's attempt count after this claim; guards every later update
    job: Job


@dataclass(frozen=True)
class WorkQueue(Generic[Row]):
    """A table of orders and the three statuses the skeleton moves rows between."""

    model: type[Row]
    pending: Enum
    working: Enum
    unknown: Enum
    # A further condition a due row must meet to be claimed, given the model (the portal sync:
    # no earlier unsettled row of the same dossier, so a dossier's rows go in order).
    ready: Callable[[Any], Any] | None = None

    @property
    def table(self) -> str:
        return self.model.__tablename__  # type: ignore[attr-defined]

    def claim(self, session: Session, now: dt.datetime, limit: int) -> list[Row]:
        """Lock due pending rows, oldest first, and mark them working (the caller commits).
        SKIP LOCKED: rows another process is claiming are passed over, never waited for."""
        model: Any = self.model
        due = select(model).where(model.status == self.pending, model.next_attempt_at <= now)
        if self.ready is not None:
            due = due.where(self.ready(model))
        rows = list(
            session.scalars(
                due.order_by(model.next_attempt_at, model.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.status = self.working
            row.claimed_at = now
            row.attempts += 1
            row.updated_at = now
        return rows

    def claim_batch(
        self,
        sessions: sessionmaker[Session],
        now: dt.datetime,
        limit: int | Callable[[Session, dt.datetime], int],
        describe: Callable[[Row], Job],
    ) -> list[Claimed[Job]]:
        """Claim and commit; what each outside call needs is copied out before the commit.
        A callable `limit` is asked inside the claim's transaction (a capacity it may lock)."""
        with sessions() as session, session.begin():
            count = limit(session, now) if callable(limit) else limit
            if count <= 0:
                return []
            return [
                Claimed(row.id, row.attempts, describe(row))  # type: ignore[attr-defined]
                for row in self.claim(session, now, count)
            ]

    def move(
        self,
        session: Session,
        row_id: int,
        *,
        expected: Collection[Enum],
        attempt: int | None = None,
        **values: Any,
    ) -> bool:
        """The guarded transition: set `values` only if the row is still in one of the
        `expected` statuses (and at `attempt`, when given). False: someone else moved it."""
        model: Any = self.model
        statuses = list(expected)
        # `=` for one status: an IN list is expanded again at every execution.
        guard = model.status == statuses[0] if len(statuses) == 1 else model.status.in_(statuses)
        query = update(model).where(model.id == row_id, guard)
        if attempt is not None:
            query = query.where(model.attempts == attempt)
        return session.execute(query.values(**values)).rowcount == 1

    def restamp(
        self, sessions: sessionmaker[Session], claimed: Claimed[Any], now: dt.datetime
    ) -> bool:
        """Just before the outside call: the unknown window must cover one call, not a whole
        batch. False when another process settled the row meanwhile (then skip it)."""
        with sessions() as session, session.begin():
            return self.move(
                session,
                claimed.id,
                expected=[self.working],
                attempt=claimed.attempt,
                claimed_at=now,
                updated_at=now,
            )

    def mark_stale(
        self, session: Session, now: dt.datetime, window: dt.timedelta, **values: Any
    ) -> int:
        """Rows working for longer than `window` belonged to a process that died during the
        outside call: they become `unknown` (whether the call happened is not known), with
        `values` set too."""
        model: Any = self.model
        result = session.execute(
            update(model)
            .where(model.status == self.working, model.claimed_at < now - window)
            .values(status=self.unknown, updated_at=now, **values)
        )
        return result.rowcount


def run_batch(
    queue: WorkQueue[Row],
    sessions: sessionmaker[Session],
    now: Callable[[], dt.datetime],
    *,
    limit: int | Callable[[Session, dt.datetime], int],
    describe: Callable[[Row], Job],
    call: Callable[[Job], Result],
    succeeded: Callable[[Claimed[Job], Result], None],
    failed: Callable[[Claimed[Job], Exception], None],
    errors: tuple[type[Exception], ...],
    pace: Callable[[int], Sequence[dt.datetime]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    checkpoint: Callable[[str], None] = lambda point: None,
) -> list[Claimed[Job]]:
    """Claim up to `limit` due rows, then carry each out: `call` runs with no session open;
    `succeeded` or `failed` (for the `errors` the outside system raises) record the outcome,
    each with its own guarded update. `pace(count)` may give the time each call may start
    (a rate limit). Returns the claimed rows."""
    claimed = queue.claim_batch(sessions, now(), limit, describe)
    checkpoint(AFTER_CLAIM)
    slots: Iterable[dt.datetime | None] = (
        pace(len(claimed)) if pace is not None else [None] * len(claimed)
    )
    for item, slot in zip(claimed, slots, strict=True):
        if slot is not None:
            wait = (slot - now()).total_seconds()
            if wait > 0:
                sleep(wait)
        if not queue.restamp(sessions, item, now()):
            log.info("%s %d was settled by another process", queue.table, item.id)
            continue
        try:
            result = call(item.job)
        except errors as error:
            failed(item, error)
            continue
        checkpoint(AFTER_CALL)
        succeeded(item, result)
        checkpoint(AFTER_RECORD)
    return claimed
