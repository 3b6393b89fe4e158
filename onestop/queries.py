"""What the staff page, /healthz and the workers ask of the sync queue, answered once here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from onestop.models import Reconciliation, SyncItem, SyncKind, SyncStatus

IN_FLIGHT = (SyncStatus.PENDING, SyncStatus.SENDING, SyncStatus.UNKNOWN)
STOPPED = (SyncStatus.REFUSED, SyncStatus.FAILED)


def _not_held_back():
    """Items of a dossier that no refused or failed item holds back (those wait for staff)."""
    stopped = aliased(SyncItem)
    return ~exists().where(stopped.dossier_id == SyncItem.dossier_id, stopped.status.in_(STOPPED))


# The portal sync is behind once a record has waited this long (a portal outage, a stopped
# scheduler): /healthz reports it degraded and the supervisors are alerted. Records the portal
# refused wait for staff and are counted apart.
LATE_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Backlog:
    waiting: int  # pending, sending or in doubt, not held back by a refusal
    oldest: dt.datetime | None  # when the oldest of them was queued
    stopped_dossiers: int  # dossiers with a refused or failed record, waiting for staff

    def waited(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.oldest if self.oldest else None

    def is_late(self, now: dt.datetime) -> bool:
        waited = self.waited(now)
        return waited is not None and waited >= LATE_AFTER


def backlog(session: Session) -> Backlog:
    waiting, oldest = session.execute(
        select(func.count(), func.min(SyncItem.created_at)).where(
            SyncItem.status.in_(IN_FLIGHT), _not_held_back()
        )
    ).one()
    stopped = session.scalar(
        select(func.count(func.distinct(SyncItem.dossier_id))).where(SyncItem.status.in_(STOPPED))
    )
    return Backlog(waiting, oldest, stopped or 0)


@dataclass(frozen=True)
class DossierSync:
    """One dossier's state at the portal, for its page."""

    synced_at: dt.datetime | None  # the last record the portal took
    pending_since: dt.datetime | None  # the oldest record still waiting
    problem: str | None  # the portal's message (refused) or why it failed
    problem_status: SyncStatus | None
    created: bool  # the portal holds the dossier

    @property
    def never(self) -> bool:
        return self.synced_at is None and self.pending_since is None and self.problem is None


def dossier_sync(session: Session, dossier_id: int) -> DossierSync:
    items = list(
        session.scalars(
            select(SyncItem).where(SyncItem.dossier_id == dossier_id).order_by(SyncItem.id)
        )
    )
    sent = [i.sent_at for i in items if i.status is SyncStatus.SENT and i.sent_at]
    waiting = [i.created_at for i in items if i.status in IN_FLIGHT]
    stopped = next((i for i in items if i.status in STOPPED), None)
    return DossierSync(
        synced_at=max(sent) if sent else None,
        pending_since=min(waiting) if waiting else None,
        problem=(stopped.error or "") if stopped else None,
        problem_status=stopped.status if stopped else None,
        created=any(i.kind is SyncKind.SNAPSHOT and i.status is SyncStatus.SENT for i in items),
    )


def latest_reconciliation(session: Session) -> Reconciliation | None:
    return session.scalars(
        select(Reconciliation).order_by(Reconciliation.ran_at.desc()).limit(1)
    ).first()
