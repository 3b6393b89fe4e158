"""The nightly reconciliation: our dossiers changed on a day against the portal's (TraCuuHoSo).

Each dossier whose events fall on that local day and that has nothing still on its way is
looked up; a difference is written down in Vietnamese for staff (the Health page shows the
latest report): missing at the portal, another status, other field values, progress records
missing. The portal's calls are made with no database session open.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from intake.clock import Clock
from intake.models import Dossier, DossierEvent
from intake.statuses import Channel
from onestop.models import Reconciliation, SyncItem, SyncKind, SyncStatus
from onestop.portal import Portal, PortalError, Record
from onestop.queries import IN_FLIGHT
from onestop.records import dossier_record, load_facts
from onestop.sync import province_pushes
from plumbing.settings import Settings

log = logging.getLogger(__name__)
MAX_MISMATCHES = 500  # kept in the report; the count of the rest is logged


@dataclass(frozen=True)
class Expected:
    code: str
    record: Record
    progress: int  # progress records the portal took


def _day_bounds(day: dt.date, settings: Settings) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=settings.zone)
    return start, start + dt.timedelta(days=1)


def changed_on(session: Session, day: dt.date, settings: Settings) -> list[Dossier]:
    """Phone dossiers with an event on `day` (local) and nothing still on its way."""
    start, end = _day_bounds(day, settings)
    on_its_way = exists().where(SyncItem.dossier_id == Dossier.id, SyncItem.status.in_(IN_FLIGHT))
    # An event that day, or a staff edit of the form (which records no event, so its change
    # reaches the portal only with the dossier's next event: the report shows it meanwhile).
    changed = or_(
        exists().where(
            DossierEvent.dossier_id == Dossier.id, DossierEvent.at >= start, DossierEvent.at < end
        ),
        and_(Dossier.updated_at >= start, Dossier.updated_at < end),
    )
    return list(
        session.scalars(
            select(Dossier)
            .where(
                Dossier.channel == Channel.PHONE,
                Dossier.code.is_not(None),
                changed,
                ~on_its_way,
            )
            .order_by(Dossier.id)
        )
    )


def expected(session: Session, day: dt.date, settings: Settings) -> list[Expected]:
    found = []
    for dossier in changed_on(session, day, settings):
        if province_pushes(dossier, settings):
            continue
        progress = session.scalars(
            select(SyncItem.id).where(
                SyncItem.dossier_id == dossier.id,
                SyncItem.kind == SyncKind.PROGRESS,
                SyncItem.status == SyncStatus.SENT,
            )
        ).all()
        record = dossier_record(load_facts(session, dossier, settings), settings)
        found.append(Expected(dossier.code or "", record, len(progress)))
    return found


def differences(ours: Expected, theirs: Record | None) -> str | None:
    """What differs, in words for staff; None when the portal agrees."""
    if theirs is None:
        return "Cổng chưa có hồ sơ này"
    problems = []
    if theirs.get("TrangThaiHoSo") != ours.record["TrangThaiHoSo"]:
        problems.append(
            f"trạng thái trên Cổng là {theirs.get('TrangThaiHoSo')!s}, "
            f"của Trung tâm là {ours.record['TrangThaiHoSo']}"
        )
    fields = sorted(
        key
        for key, value in ours.record.items()
        if key != "TrangThaiHoSo" and key in theirs and theirs[key] != value
    )
    if fields:
        problems.append("khác ở " + ", ".join(fields))
    steps = theirs.get("TienDo")
    if isinstance(steps, list) and len(steps) < ours.progress:
        problems.append(f"Cổng có {len(steps)} bước xử lý, Trung tâm đã gửi {ours.progress}")
    return "; ".join(problems) or None


def reconcile(
    sessions: sessionmaker[Session],
    portal: Portal,
    settings: Settings,
    clock: Clock,
    day: dt.date | None = None,
) -> Reconciliation:
    """Compare the dossiers changed on `day` (default: yesterday, local) and store the report."""
    now = clock.now()
    day = day or (now.astimezone(settings.zone).date() - dt.timedelta(days=1))
    with sessions() as session:
        wanted = expected(session, day, settings)
    mismatches: list[dict[str, str]] = []
    error = None
    for ours in wanted:
        try:
            theirs = portal.lookup(ours.code)
        except PortalError as exc:
            error = f"Không tra cứu được trên Cổng: {exc}"
            log.warning("onestop: reconciliation of %s stopped: %s", day, exc)
            break
        problem = differences(ours, theirs)
        if problem:
            mismatches.append({"code": ours.code, "problem": problem})
    report = Reconciliation(
        day=day,
        ran_at=now,
        checked=len(wanted),
        mismatches=mismatches[:MAX_MISMATCHES],
        error=error,
    )
    with sessions() as session, session.begin():
        session.add(report)
        session.flush()
        session.expunge(report)
    log.info("onestop: reconciliation of %s: %d checked, %d differ", day, len(wanted),
             len(mismatches))  # fmt: skip
    return report
