"""The portal sync queue: every phone dossier reaches the national portal, in order, once.

Records are queued in the transaction that records the dossier's event (`queue_for_event`, a
follower of intake.dossier_commands.record_event): a *snapshot* item (the whole dossier, built
when it is sent, so a newer state replaces an unsent older one: a dossier has at most one
pending snapshot) and a *progress* item (the step, frozen as it happened).

The queue is plumbing/queue.py's, with the outbox's discipline: claim with SKIP LOCKED and
commit, call the portal with no session open, record the outcome with guarded updates. What is
the sync's own:
- a dossier's items go strictly in order: an item is claimable only when no earlier item of its
  dossier is unsettled (pending, sending, unknown, refused or failed), so progress never
  overtakes the create it needs, and a refused record stops its own dossier and no other;
- up to `[onestop] batch_size` records go in one call; a batch the portal refuses is sent again
  record by record, so only the record at fault is refused;
- create or update is decided from our own acknowledged state (a sent snapshot), and when in
  doubt (an earlier attempt of this item) from TraCuuHoSo; a create answered "đã tồn tại"
  becomes an update;
- a call that went out and got no answer (time-out, or a worker killed during the call) leaves
  the item `sending`; once `unknown_window` has passed since the call began (so the portal is
  done with it) it becomes `unknown`: a snapshot is then sent again (a full snapshot is safe
  to repeat, and its create-or-update is looked up), a progress record only if TraCuuHoSo does
  not show it;
- anything else is retried with backoff and jitter until `[onestop] retry_hours` after it was
  queued, then shown to staff as failed; a supervisor's "sync again" queues it once more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased, object_session, sessionmaker

from intake.clock import Clock
from intake.dossier_commands import follow_events
from intake.models import Dossier, DossierEvent
from intake.statuses import Channel
from onestop.catalogue import refresh_if_stale
from onestop.models import SyncItem, SyncKind, SyncStatus
from onestop.models.sync_item import UNSETTLED
from onestop.portal import (
    AlreadyExists,
    Portal,
    PortalError,
    PortalInDoubt,
    PortalRefused,
    Record,
)
from onestop.records import dossier_record, load_facts, progress_record, staff_roles
from plumbing import queue
from plumbing.queue import Claimed, WorkQueue
from plumbing.settings import Settings

log = logging.getLogger(__name__)
AFTER_CLAIM, AFTER_CALL, AFTER_RECORD = queue.AFTER_CLAIM, queue.AFTER_CALL, queue.AFTER_RECORD
FOLLOWER = "onestop"


def _no_earlier_unsettled(model: Any) -> Any:
    earlier = aliased(model)
    return ~exists().where(
        earlier.dossier_id == model.dossier_id,
        earlier.id < model.id,
        earlier.status.in_(UNSETTLED),
    )


SYNC = WorkQueue(
    SyncItem,
    SyncStatus.PENDING,
    SyncStatus.SENDING,
    SyncStatus.UNKNOWN,
    ready=_no_earlier_unsettled,
)


# Queuing: the follower of every dossier event.


def province_pushes(dossier: Dossier, settings: Settings) -> bool:
    """After the province system registered the dossier, it alone may push it (a setting)."""
    return settings.onestop.after_registration == "province" and bool(dossier.external_code)


def queue_for_event(
    session: Session, dossier: Dossier, event: DossierEvent, settings: Settings
) -> None:
    """Queue the dossier's snapshot (unless one is already waiting) and the event's progress
    record, in the caller's transaction."""
    if dossier.channel is not Channel.PHONE or not dossier.code:
        return
    if province_pushes(dossier, settings):
        return
    now = event.at
    with session.no_autoflush:
        roles = staff_roles(session, [event])
        if not _snapshot_waiting(session, dossier.id):
            session.add(_item(dossier.id, SyncKind.SNAPSHOT, {}, now))
    record = progress_record(dossier, event, roles, settings)
    session.add(_item(dossier.id, SyncKind.PROGRESS, record, now))


def queue_snapshot(session: Session, dossier: Dossier, now: dt.datetime) -> bool:
    """Queue the dossier's snapshot unless one is waiting; True when one was added."""
    if _snapshot_waiting(session, dossier.id):
        return False
    session.add(_item(dossier.id, SyncKind.SNAPSHOT, {}, now))
    return True


def _item(dossier_id: int, kind: SyncKind, payload: Record, now: dt.datetime) -> SyncItem:
    return SyncItem(
        dossier_id=dossier_id,
        kind=kind,
        payload=payload,
        status=SyncStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def _snapshot_waiting(session: Session, dossier_id: int) -> bool:
    for pending in session.new:  # queued earlier in this transaction, not flushed yet
        if (
            isinstance(pending, SyncItem)
            and pending.dossier_id == dossier_id
            and pending.kind is SyncKind.SNAPSHOT
        ):
            return True
    # FOR UPDATE: a worker claiming that snapshot right now would build it from the state
    # before this transaction; the lock makes the claim pass it over until we commit (or, if
    # the claim got there first, we see it `sending` and queue a new one).
    return (
        session.scalar(
            select(SyncItem.id)
            .where(
                SyncItem.dossier_id == dossier_id,
                SyncItem.kind == SyncKind.SNAPSHOT,
                SyncItem.status == SyncStatus.PENDING,
            )
            .limit(1)
            .with_for_update()
        )
        is not None
    )


def install(settings: Settings) -> None:
    """Follow dossier events when the sync is enabled (and stop following when it is not)."""
    if settings.onestop.enabled:
        follow_events(FOLLOWER, lambda s, d, e: queue_for_event(s, d, e, settings))
    else:
        follow_events(FOLLOWER, None)


# Sending.


@dataclass(frozen=True)
class SyncJob:
    """What one portal call needs, copied out of the claim's transaction."""

    dossier_id: int
    kind: SyncKind
    code: str
    record: Record
    created_at: dt.datetime
    acknowledged: bool = False  # a snapshot of this dossier was sent: the portal has it
    in_doubt: bool = False  # an earlier attempt of this item: ask the portal first
    skip: bool = False  # the province system pushes this dossier


@dataclass
class SyncReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    settled: int = 0

    @property
    def claimed(self) -> int:
        return sum(
            len(x)
            for x in (
                self.sent,
                self.retrying,
                self.refused,
                self.failed,
                self.unknown,
                self.skipped,
            )
        )

    def summary(self) -> str:
        return (
            f"{len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.unknown)} in doubt,"
            f" {len(self.refused)} refused, {len(self.failed)} failed,"
            f" {len(self.skipped)} left to the province system, {self.settled} settled"
        )


def describe(session: Session, item: SyncItem, settings: Settings) -> SyncJob:
    dossier = session.get(Dossier, item.dossier_id)
    assert dossier is not None and dossier.code
    base = SyncJob(item.dossier_id, item.kind, dossier.code, item.payload, item.created_at)
    if province_pushes(dossier, settings):
        return dataclasses.replace(base, skip=True)
    if item.kind is SyncKind.PROGRESS:
        return base
    acknowledged = (
        session.scalar(
            select(SyncItem.id)
            .where(
                SyncItem.dossier_id == item.dossier_id,
                SyncItem.kind == SyncKind.SNAPSHOT,
                SyncItem.status == SyncStatus.SENT,
            )
            .limit(1)
        )
        is not None
    )
    record = dossier_record(load_facts(session, dossier, settings), settings)
    return dataclasses.replace(
        base, record=record, acknowledged=acknowledged, in_doubt=item.attempts > 1
    )


def sync_due(
    sessions: sessionmaker[Session],
    portal: Portal,
    settings: Settings,
    clock: Clock,
    *,
    limit: int = 100,
    dossier_id: int | None = None,
    checkpoint: Callable[[str], None] = lambda point: None,
) -> SyncReport:
    """Settle what dead workers left, then send what is due (only `dossier_id`'s, if given)."""
    report = SyncReport()
    refresh_if_stale(sessions, portal, settings, clock.now())
    report.settled = settle_unknown(sessions, portal, settings, clock)
    work = SYNC
    if dossier_id is not None:
        work = dataclasses.replace(
            SYNC, ready=lambda m: and_(_no_earlier_unsettled(m), m.dossier_id == dossier_id)
        )
    claimed = work.claim_batch(
        sessions, clock.now(), limit, lambda item: _describe_in(item, settings)
    )
    checkpoint(AFTER_CLAIM)
    sender = _Sender(sessions, portal, settings, clock, report, checkpoint)
    sender.skip([c for c in claimed if c.job.skip])
    live = [c for c in claimed if not c.job.skip]
    progress = [c for c in live if c.job.kind is SyncKind.PROGRESS]
    snapshots = [c for c in live if c.job.kind is SyncKind.SNAPSHOT]
    doubtful = [c for c in snapshots if c.job.in_doubt and not c.job.acknowledged]
    sure = [c for c in snapshots if c not in doubtful]
    sender.settle_doubt(doubtful)
    updates = [c for c in sure if c.job.acknowledged] + sender.known
    creates = [c for c in sure if not c.job.acknowledged] + sender.new
    for chunk in _chunks(creates, settings.onestop.batch_size):
        sender.send(chunk, "create")
    for chunk in _chunks(updates, settings.onestop.batch_size):
        sender.send(chunk, "update")
    for chunk in _chunks(progress, settings.onestop.batch_size):
        sender.send(chunk, "progress")
    return report


def _describe_in(item: SyncItem, settings: Settings) -> SyncJob:
    session = object_session(item)
    assert session is not None
    return describe(session, item, settings)


def _chunks(items: Sequence[Claimed[SyncJob]], size: int) -> Iterable[list[Claimed[SyncJob]]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class _Sender:
    """Carries out claimed items and records each outcome with a guarded update."""

    def __init__(self, sessions, portal, settings, clock, report, checkpoint) -> None:
        self.sessions: sessionmaker[Session] = sessions
        self.portal: Portal = portal
        self.settings: Settings = settings
        self.clock: Clock = clock
        self.report: SyncReport = report
        self.checkpoint: Callable[[str], None] = checkpoint
        self.known: list[Claimed[SyncJob]] = []
        self.new: list[Claimed[SyncJob]] = []

    def skip(self, items: list[Claimed[SyncJob]]) -> None:
        if items:
            self._record(items, SyncStatus.SKIPPED, error=None)
            self.report.skipped.extend(c.id for c in items)

    def settle_doubt(self, items: list[Claimed[SyncJob]]) -> None:
        """A snapshot tried before: does the portal already hold the dossier?"""
        for item in items:
            try:
                found = self.portal.lookup(item.job.code)
            except PortalError as error:
                self._failed([item], error)
                continue
            (self.known if found is not None else self.new).append(item)

    def send(self, items: list[Claimed[SyncJob]], how: str) -> None:
        items = self._restamp(items)
        if not items:
            return
        try:
            self._call(items, how)
        except AlreadyExists as error:
            if len(items) == 1:
                self.send_one_as_update(items[0], error)
                return
            self._one_by_one(items, how)
            return
        except PortalRefused as error:
            if len(items) == 1:
                self._refused(items[0], error)
                return
            self._one_by_one(items, how)
            return
        except PortalError as error:
            self._failed(items, error)
            return
        self.checkpoint(AFTER_CALL)
        self._sent(items)
        self.checkpoint(AFTER_RECORD)

    def send_one_as_update(self, item: Claimed[SyncJob], error: AlreadyExists) -> None:
        log.info("onestop: %s already exists at the portal: updating it", item.job.code)
        self.send([item], "update")

    def _one_by_one(self, items: list[Claimed[SyncJob]], how: str) -> None:
        """A batch refused as a whole: find the record at fault by sending each alone."""
        for item in items:
            self.send([item], how)

    def _call(self, items: list[Claimed[SyncJob]], how: str) -> None:
        records = [c.job.record for c in items]
        if how == "progress":
            self.portal.send_progress(records)
        else:
            self.portal.sync_dossiers(records, updating=how == "update")

    def _restamp(self, items: list[Claimed[SyncJob]]) -> list[Claimed[SyncJob]]:
        """Just before the call: the unknown window covers this call, not the whole batch."""
        return self._record(items, SyncStatus.SENDING, claimed_at=self.clock.now())

    def _record(
        self, items: list[Claimed[SyncJob]], status: SyncStatus, **values: Any
    ) -> list[Claimed[SyncJob]]:
        now = self.clock.now()
        moved = []
        # One transaction for the batch (a commit per record was most of the time spent),
        # moving rows in id order: the only other writer of `sending` rows, mark_stale below,
        # skips locked rows, so two workers can wait for each other but never deadlock.
        with self.sessions() as session, session.begin():
            for item in sorted(items, key=lambda c: c.id):
                if SYNC.move(
                    session,
                    item.id,
                    expected=[SyncStatus.SENDING],
                    attempt=item.attempt,
                    status=status,
                    updated_at=now,
                    **values,
                ):
                    moved.append(item)
        return moved

    def _sent(self, items: list[Claimed[SyncJob]]) -> None:
        self._record(items, SyncStatus.SENT, sent_at=self.clock.now(), error=None)
        self.report.sent.extend(c.id for c in items)

    def _refused(self, item: Claimed[SyncJob], error: PortalRefused) -> None:
        self._record([item], SyncStatus.REFUSED, error=error.message[:2000])
        self.report.refused.append(item.id)
        log.warning("onestop: the portal refused %s %s: %s", item.job.kind, item.job.code, error)

    def _failed(self, items: list[Claimed[SyncJob]], error: PortalError) -> None:
        if isinstance(error, PortalInDoubt):
            # It may have been taken, or be still under way at the portal: the items stay
            # `sending` until the unknown window has passed since the call began, then become
            # `unknown` and a look-up decides before anything is sent again (as the outbox).
            self._record(items, SyncStatus.SENDING, error=str(error)[:2000])
            self.report.unknown.extend(c.id for c in items)
            log.info("onestop: %d record(s) in doubt: %s", len(items), error)
            return
        now = self.clock.now()
        scheduler = self.settings.scheduler
        horizon = dt.timedelta(hours=self.settings.onestop.retry_hours)
        for item in items:
            delay = queue.backoff_delay(
                item.attempt, scheduler.retry_base_seconds, scheduler.retry_max_delay_seconds
            )
            retry_at = now + dt.timedelta(seconds=delay)
            if retry_at > item.job.created_at + horizon:
                text = f"đã thử {item.attempt} lần không thành công: {error}"
                self._record([item], SyncStatus.FAILED, error=text[:2000])
                self.report.failed.append(item.id)
                log.warning("onestop: %s %s failed for good: %s", item.job.kind, item.job.code,
                            error)  # fmt: skip
            else:
                self._record(
                    [item], SyncStatus.PENDING, next_attempt_at=retry_at, error=str(error)[:2000]
                )
                self.report.retrying.append(item.id)
        log.info("onestop: %d record(s) to retry: %s", len(items), error)


# Settling what a dead worker or a lost answer left.


def unknown_window(settings: Settings) -> dt.timedelta:
    """How long an item may stay `sending`: longer than the longest call it can be in."""
    return dt.timedelta(seconds=3 * settings.onestop.timeout_seconds)


def settle_unknown(
    sessions: sessionmaker[Session],
    portal: Portal,
    settings: Settings,
    clock: Clock,
    *,
    limit: int = 50,
) -> int:
    now = clock.now()
    with sessions() as session, session.begin():
        mark_stale(session, now, unknown_window(settings))
        rows = session.execute(
            select(SyncItem.id, SyncItem.kind, SyncItem.attempts, SyncItem.payload, Dossier.code)
            .join(Dossier, Dossier.id == SyncItem.dossier_id)
            .where(SyncItem.status == SyncStatus.UNKNOWN)
            .order_by(SyncItem.claimed_at)
            .limit(limit)
            .with_for_update(of=SyncItem, skip_locked=True)
        ).all()
        # A snapshot is safe to send again (its create or update is looked up first).
        snapshots = [row.id for row in rows if row.kind is SyncKind.SNAPSHOT]
        if snapshots:
            session.execute(
                update(SyncItem)
                .where(SyncItem.id.in_(snapshots), SyncItem.status == SyncStatus.UNKNOWN)
                .values(status=SyncStatus.PENDING, next_attempt_at=now, updated_at=now)
            )
    settled = len(snapshots)
    for row in rows:
        if row.kind is not SyncKind.PROGRESS:
            continue
        try:
            found = portal.lookup(row.code)
        except PortalError as error:
            log.info("onestop: cannot settle progress %d yet: %s", row.id, error)
            continue
        arrived = found is not None and any(
            _same_step(step, row.payload) for step in found.get("TienDo") or []
        )
        values = (
            {"status": SyncStatus.SENT, "sent_at": now, "error": None}
            if arrived
            else {"status": SyncStatus.PENDING, "next_attempt_at": now}
        )
        with sessions() as session, session.begin():
            if SYNC.move(
                session,
                row.id,
                expected=[SyncStatus.UNKNOWN],
                attempt=row.attempts,
                updated_at=now,
                **values,
            ):
                settled += 1
        log.info(
            "onestop: progress %d of %s %s", row.id, row.code,
            "had arrived" if arrived else "never arrived: sending it again",
        )  # fmt: skip
    return settled


def mark_stale(session: Session, now: dt.datetime, window: dt.timedelta) -> int:
    """Items `sending` for longer than `window` become `unknown`. Unlike the skeleton's
    single UPDATE, the rows are locked first in id order with SKIP LOCKED, so this never waits
    for (nor deadlocks with) a worker recording its batch."""
    stale = list(
        session.scalars(
            select(SyncItem.id)
            .where(SyncItem.status == SyncStatus.SENDING, SyncItem.claimed_at < now - window)
            .order_by(SyncItem.id)
            .with_for_update(skip_locked=True)
        )
    )
    if stale:
        session.execute(
            update(SyncItem)
            .where(SyncItem.id.in_(stale), SyncItem.status == SyncStatus.SENDING)
            .values(status=SyncStatus.UNKNOWN, updated_at=now)
        )
    return len(stale)


STEP_KEYS = ("MaHoSo", "ThoiDiemXuLy", "TrangThai", "NoiDungXuLy")


def _same_step(step: Record, payload: Record) -> bool:
    return all(step.get(key) == payload.get(key) for key in STEP_KEYS)


# Staff: "sync again".


def sync_again(session: Session, dossier: Dossier, now: dt.datetime) -> int:
    """A supervisor's "sync again": refused and failed items of the dossier are queued again
    (their retry horizon starts over) and a fresh snapshot is queued; returns how many items
    will go."""
    again = session.execute(
        update(SyncItem)
        .where(
            SyncItem.dossier_id == dossier.id,
            SyncItem.status.in_([SyncStatus.REFUSED, SyncStatus.FAILED]),
        )
        .values(
            status=SyncStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    ).rowcount
    added = queue_snapshot(session, dossier, now) if dossier.code else False
    return again + int(added)
