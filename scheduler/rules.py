"""The notice rules: which SMS a dossier's history and the calendar call for.

Two kinds of rule:
- from events: the append-only dossier events are read after a cursor (receipt, supplement
  request, early result, dispatch by post, refusal/withdrawal/stop, survey after return, an
  apology with a new date). The cursor row is locked while a scan runs and advanced in the same
  transaction as the notices, and every notice has a dedupe key: a rule never fires twice.
- from time: dossiers at risk (still in work `at_risk_working_days` before their due date) get a
  proposed apology in the supervisors' queue (intake/apologies.py), sent when one approves it;
  open dossiers past their due day without an apology still get one automatically at the start
  of the next working day (the fallback, with a supervisor alert); results waiting for
  collection get one reminder. The queries are index-backed and touch only the rows that need
  action, so a tick costs what is due, not what is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.apologies import propose_apology, suggested_new_date
from intake.calendar import WorkingCalendar
from intake.dossier_queries import (
    at_risk_candidates,
    incomplete_past_deadline,
    overdue_candidates,
    reminder_candidates,
)
from intake.lifecycle import Actor
from intake.models import Dossier, DossierEvent, ProposalStatus
from intake.results import close_pending_proposals, set_new_date
from intake.statuses import CLOCK_RUNNING_STATUSES, Delivery, Timeliness
from intake.statuses import DossierStatus as S
from plumbing.settings import Settings
from scheduler.models import ScanCursor, StaffAlert
from sms.inbound import opted_out
from sms.models import NoticeCall
from sms.notice_calls import cancel_outdated, promote_held
from sms.outbox import enqueue

log = logging.getLogger(__name__)
SCHEDULER = Actor.system("scheduler")
EVENT_CURSOR = "dossier_events"
ENDINGS = {S.REFUSED: "refused", S.WITHDRAWN: "withdrawn", S.STOPPED: "stopped"}


@dataclass
class ScanReport:
    events: int = 0
    notices: int = 0
    apologies: int = 0
    reminders: int = 0
    proposals: int = 0
    calls: int = 0  # notice calls made due because their SMS did not reach the citizen
    held: int = 0  # held notice calls settled (made due, or not needed)
    cancelled: int = 0  # notice calls dropped because their dossier moved on
    alerts: int = 0  # incomplete dossiers past their completeness deadline

    def __str__(self) -> str:
        return (
            f"{self.events} events, {self.notices} notices, {self.proposals} proposed "
            f"apologies, {self.apologies} automatic apologies, {self.reminders} reminders, "
            f"{self.calls} notice calls due, {self.cancelled} cancelled, "
            f"{self.alerts} incomplete-dossier alerts"
        )


class Rules:
    def __init__(self, settings: Settings, calendar: WorkingCalendar) -> None:
        self.settings = settings
        self.calendar = calendar

    # ---- helpers ---------------------------------------------------------------------------

    def _values(self, dossier: Dossier, **extra: object) -> dict[str, object]:
        procedure = self.settings.procedures[dossier.procedure]
        variant = procedure.variants.get(dossier.variant or "") or next(
            iter(procedure.variants.values())
        )
        return {
            "code": dossier.code,
            "procedure_short": procedure.short_name,
            "due": dossier.effective_due_date,
            "papers": variant.papers,
            **extra,
        }

    def _notify(
        self,
        session: Session,
        dossier: Dossier,
        kind: str,
        key: str,
        now: dt.datetime,
        **values: object,
    ) -> bool:
        phone = dossier.notify_phone or dossier.caller_phone or ""
        notice = enqueue(
            session,
            self.settings,
            kind=kind,
            phone=phone,
            now=now,
            dossier=dossier,
            values=self._values(dossier, **values),
            dedupe_key=f"{dossier.id}:{key}",
        )
        return notice is not None

    # ---- rules from events -----------------------------------------------------------------

    def scan_events(self, session: Session, now: dt.datetime, limit: int = 500) -> ScanReport:
        report = ScanReport()
        cursor = session.get(ScanCursor, EVENT_CURSOR, with_for_update=True)
        if cursor is None:
            cursor = ScanCursor(name=EVENT_CURSOR, position=0)
            session.add(cursor)
            session.flush()
            cursor = session.get(ScanCursor, EVENT_CURSOR, with_for_update=True)
        events = list(
            session.scalars(
                select(DossierEvent)
                .where(DossierEvent.id > cursor.position)
                .order_by(DossierEvent.id)
                .limit(limit)
            )
        )
        if not events:
            return report
        dossiers = {
            d.id: d
            for d in session.scalars(
                select(Dossier).where(Dossier.id.in_({e.dossier_id for e in events}))
            )
        }
        for event in events:
            if event.from_status != event.to_status:
                # What the dossier left behind is not said any more (intake/notice_worth.py).
                report.cancelled += cancel_outdated(
                    session, now, NoticeCall.dossier_id == event.dossier_id
                )
            report.notices += self._on_event(session, event, dossiers[event.dossier_id], now)
        cursor.position = events[-1].id
        report.events = len(events)
        return report

    def _on_event(
        self, session: Session, event: DossierEvent, dossier: Dossier, now: dt.datetime
    ) -> int:
        action = (event.details or {}).get("action")
        to = event.to_status
        if action == "new_date":
            number = event.details["number"]
            previous = event.details.get("previous_due")
            return self._notify(
                session,
                dossier,
                "apology",
                f"apology:{number}",
                now,
                reason=event.reason,
                due=dt.date.fromisoformat(previous) if previous else dossier.due_date,
                new_due=dt.date.fromisoformat(event.details["new_due"]),
            )
        if action == "completed":
            # Completed after its reception: the due date now counts, and the citizen is told.
            return self._notify(session, dossier, "complete", "complete", now)
        if action == "dispatched":
            tracking = event.details.get("tracking")
            if not tracking:  # no "(chua co)": the citizen learns the parcel is on its way
                return self._notify(session, dossier, "result_post_untracked", "dispatched", now)
            return self._notify(
                session, dossier, "result_post", "dispatched", now, tracking=tracking
            )
        if action == "inspection":
            details = event.details
            return self._notify(
                session,
                dossier,
                "inspection",
                f"inspection:{details['number']}",
                now,
                place=details["place"],
                time=details["time_text"],
            )
        if event.from_status == to:
            return 0
        if to not in CLOCK_RUNNING_STATUSES:
            # Result ready, ended, or waiting for the citizen: no apology to approve any more (a
            # due date moved by the wait can be at risk again, and is proposed again).
            close_pending_proposals(session, dossier, ProposalStatus.CLOSED, actor=SCHEDULER,
                                    now=now, made_by=event.at)  # fmt: skip
        if event.from_status is S.SUPPLEMENT_REQUESTED and to in (S.ACCEPTED, S.IN_PROCESS):
            # The papers arrived: the wait did not count, so the citizen gets the moved date.
            due = (event.details or {}).get("due")
            return self._notify(
                session,
                dossier,
                "supplement_received",
                f"supplement_received:{dossier.supplement_count}",
                now,
                due=dt.date.fromisoformat(due) if due else dossier.effective_due_date,
            )
        if to is S.RECEIVED:
            missing = (event.details or {}).get("missing")
            if missing:
                # Incomplete at the reception: what was missing, that staff will call, no date
                # (the `complete` notice brings it).
                return self._notify(
                    session, dossier, "receipt_incomplete", "receipt", now,
                    documents=", ".join(missing),
                )  # fmt: skip
            return self._notify(session, dossier, "receipt", "receipt", now)
        if to is S.SUPPLEMENT_REQUESTED:
            documents = ", ".join((event.details or {}).get("documents", [])) or event.reason
            number = (event.details or {}).get("number", dossier.supplement_count)
            return self._notify(
                session,
                dossier,
                "supplement",
                f"supplement:{number}",
                now,
                documents=documents,
                reason=event.reason,
            )
        if to is S.RESULT_READY and dossier.delivery is Delivery.COLLECT:
            timeliness = self.calendar.classify(
                dossier.due_date, event.at, apologised=dossier.apology_count > 0
            )
            # Early keeps its own wording; on time or late, the citizen is still told.
            kind = "result_collect" if timeliness is Timeliness.EARLY else "result_ready"
            return self._notify(session, dossier, kind, "result", now)
        if to in ENDINGS:
            return self._notify(
                session, dossier, ENDINGS[to], ENDINGS[to], now, reason=event.reason
            )
        if to is S.RETURNED:
            phone = dossier.notify_phone or dossier.caller_phone or ""
            if opted_out(session, phone):
                return 0
            return self._notify(session, dossier, "survey", "survey", now)
        return 0

    # ---- rules from time -------------------------------------------------------------------

    def scan_at_risk(self, session: Session, now: dt.datetime, limit: int = 200) -> ScanReport:
        """Dossiers still in work `at_risk_working_days` before their due date get a proposed
        apology (the default reason, a date the calendar suggests) in the supervisors' queue."""
        report = ScanReport()
        today = self.calendar.local(now).date()
        ahead = self.settings.scheduler.at_risk_working_days
        last_due = self.calendar.add_working_days(today, ahead) if ahead else today
        extra = self.settings.scheduler.apology_extra_days
        for dossier in session.scalars(at_risk_candidates(today, last_due, limit)):
            new_date = suggested_new_date(self.calendar, dossier.due_date, today, extra)
            reason = self.settings.scheduler.default_apology_reason
            if propose_apology(session, dossier, reason=reason, new_date=new_date, now=now):
                report.proposals += 1
        return report

    def scan_overdue(self, session: Session, now: dt.datetime, limit: int = 200) -> ScanReport:
        """At the start of the working day after the due day, a late dossier with no new date
        from staff gets the default apology and a proposed date; a supervisor is alerted."""
        report = ScanReport()
        today = self.calendar.local(now).date()
        candidates = session.scalars(overdue_candidates(today, limit))
        extra = self.settings.scheduler.apology_extra_days
        for dossier in candidates:
            if today < self.calendar.next_working_day(dossier.due_date):
                continue  # the due day has ended but the next working day has not begun
            # The scheduler may have been down for days: then the date is promised from today.
            new_date = suggested_new_date(self.calendar, dossier.due_date, today, extra)
            set_new_date(
                session,
                dossier,
                new_date,
                reason=self.settings.scheduler.default_apology_reason,
                actor=SCHEDULER,
                now=now,
                calendar=self.calendar,
                automatic=True,
            )
            self._alert(session, dossier, now, new_date)
            report.apologies += 1
        return report

    def _alert(
        self, session: Session, dossier: Dossier, now: dt.datetime, new_date: dt.date
    ) -> None:
        message = (
            f"Hồ sơ {dossier.code} quá hạn ({dossier.due_date:%d/%m/%Y}) mà chưa ai duyệt thư "
            f"xin lỗi; đã gửi tin xin lỗi tự động, hẹn lại {new_date:%d/%m/%Y}. Vui lòng kiểm tra."
        )
        self._alert_supervisors(
            session, dossier, now, "auto_apology", message, "Qua han, da xin loi tu dong."
        )

    def _alert_supervisors(
        self, session: Session, dossier: Dossier, now: dt.datetime, kind: str, message: str,
        sms_reason: str,
    ) -> None:  # fmt: skip
        """A staff alert on the dashboard, and an SMS to every supervisor phone."""
        session.add(StaffAlert(kind=kind, dossier_id=dossier.id, message=message, created_at=now))
        for phone in self.settings.scheduler.supervisor_phones:
            enqueue(
                session,
                self.settings,
                kind="supervisor_alert",
                phone=phone,
                now=now,
                values={"code": dossier.code, "reason": sms_reason},
                dedupe_key=f"{dossier.id}:alert:{kind}:{phone}",
            )

    def scan_incomplete(self, session: Session, now: dt.datetime, limit: int = 200) -> ScanReport:
        """A received dossier still incomplete after its completeness deadline: supervisors are
        alerted once (staff complete it by phone or request the papers as a supplement)."""
        report = ScanReport()
        today = self.calendar.local(now).date()
        for dossier in session.scalars(incomplete_past_deadline(today, limit)):
            dossier.completeness_alerted_at = now
            message = (
                f"Hồ sơ {dossier.code} chưa đủ thông tin, đã quá hạn kiểm tra "
                f"({dossier.completeness_due:%d/%m/%Y}). Cần gọi công dân bổ sung hoặc yêu cầu "
                "bổ sung giấy tờ."
            )
            self._alert_supervisors(
                session, dossier, now, "incomplete_overdue", message,
                "Chua du thong tin, qua han kiem tra ho so.",
            )  # fmt: skip
            report.alerts += 1
        return report

    def scan_reminders(self, session: Session, now: dt.datetime, limit: int = 200) -> ScanReport:
        """One reminder for a result waiting for collection N working days (opt-out respected)."""
        report = ScanReport()
        today = self.calendar.local(now).date()
        after = self.settings.scheduler.reminder_after_days
        # N working days are at least N calendar days: a cheap, index-friendly first cut.
        threshold = now - dt.timedelta(days=after)
        candidates = session.scalars(reminder_candidates(threshold, limit))
        for dossier in candidates:
            ready = self.calendar.local(dossier.result_ready_at).date()
            if self.calendar.working_days_between(ready, today) < after:
                continue
            dossier.reminder_sent_at = now
            phone = dossier.notify_phone or dossier.caller_phone or ""
            if not opted_out(session, phone):
                report.reminders += self._notify(session, dossier, "reminder", "reminder", now)
        return report

    def scan_held_calls(self, session: Session, now: dt.datetime, limit: int = 500) -> ScanReport:
        """Calls held beside an SMS become due when the SMS did not arrive (sms/notice_calls.py)."""
        report = ScanReport()
        promoted, not_needed = promote_held(session, self.settings, now, limit)
        report.calls, report.held = promoted, promoted + not_needed
        return report


def run_rules(
    sessions,
    settings: Settings,
    calendar: WorkingCalendar,
    now: dt.datetime,
    *,
    batch: int = 500,
    max_batches: int = 100,
) -> ScanReport:
    """One tick: every rule, in batches each in its own transaction (bounded work per tick)."""
    rules = Rules(settings, calendar)
    total = ScanReport()
    scans = (
        rules.scan_overdue,
        rules.scan_at_risk,
        rules.scan_incomplete,
        rules.scan_events,
        rules.scan_reminders,
        rules.scan_held_calls,
    )
    fields = ("events", "notices", "apologies", "reminders", "proposals", "calls", "held", "alerts",
              "cancelled")  # fmt: skip
    for scan in scans:
        for _ in range(max_batches):
            with sessions() as session, session.begin():
                report = scan(session, now, batch)
            for field in fields:
                setattr(total, field, getattr(total, field) + getattr(report, field))
            busy = (report.events, report.apologies, report.reminders, report.proposals,
                    report.held, report.alerts)  # fmt: skip
            if max(busy) < batch:
                break
    return total
