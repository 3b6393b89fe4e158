"""Supervisor alerts for what still fails: on the dashboard (a `staff_alert` row), by email
(TONGDAI_SMTP_URL, `[scheduler] supervisor_emails`) and by SMS to `supervisor_phones` when the
problem is not the SMS path itself. At most once per problem per (local) day.

Problems looked at, each tick of the leader's rules:
- `notices_failing`: `alert_failed_notices` or more notices failed, were undelivered or stayed
  unknown in the last 24 hours;
- `sms_backlog`: `alert_sms_backlog` or more SMS due and not yet sent;
- `notice_calls_failed`: notice calls that ended today without reaching the citizen (staff have
  a call-back task for each);
- `onestop_refused` and `onestop_behind` (when the portal sync is on): dossiers whose records the
  portal refused (or that failed past the retry horizon), waiting for staff; a record waiting
  longer than `onestop.queries.LATE_AFTER` (the same rule /healthz reports).
And, looked at from outside the leader (it cannot see its own absence): by the standby
replicas, and by the watchdog of every web process (scheduler/watchdog.py), so that the silence
of a single scheduler is reported too:
- `scheduler_no_leader`: the leader's heartbeat is older than LEADER_SILENT_SECONDS (it died
  with no standby to take over, or it holds the lock but is stuck).

Several processes may look at once: the `staff_alerts` row of the rate-limit table is locked
while a look decides what is new, so a problem is recorded (and mailed) once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.calendar import WorkingCalendar
from onestop.queries import backlog as onestop_backlog
from plumbing.heartbeat import Heartbeat
from plumbing.mailer import Mail, Mailer, MailError, SmtpMailer
from plumbing.settings import Settings
from scheduler.models import StaffAlert
from sms.models import Notice, NoticeCall, NoticeCallStatus, NoticeStatus
from sms.models.rate_limit import lock_row
from sms.outbox import enqueue

log = logging.getLogger(__name__)
FAILING = (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED, NoticeStatus.UNKNOWN)
# Problems of the SMS path itself: an SMS about them might not arrive either.
SMS_PATH = frozenset({"notices_failing", "sms_backlog"})
LEADER_HEARTBEAT = "scheduler-leader"  # written by scheduler/process.py's leader_tick
LEADER_SILENT_SECONDS = 300
ALERTS_LOCK = "staff_alerts"  # the rate-limit row locked while alerts are decided


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str  # Vietnamese, for supervisors
    sms_reason: str  # no diacritics, short: the supervisor_alert SMS template's {reason}


def find_problems(session: Session, settings: Settings, now: dt.datetime) -> list[Problem]:
    limits = settings.scheduler
    problems = []
    failing = session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.status.in_(FAILING), Notice.updated_at > now - dt.timedelta(hours=24))
    )
    if failing >= limits.alert_failed_notices:
        problems.append(Problem(
            "notices_failing",
            f"{failing} tin nhắn không gửi được, không đến hoặc chưa rõ trong 24 giờ qua. "
            "Vui lòng kiểm tra trang Tin nhắn.",
            f"{failing} tin nhan loi trong 24h",
        ))  # fmt: skip
    backlog = session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.status == NoticeStatus.PENDING, Notice.next_attempt_at <= now)
    )
    if backlog >= limits.alert_sms_backlog:
        problems.append(Problem(
            "sms_backlog",
            f"{backlog} tin nhắn đến hạn mà chưa gửi. Vui lòng kiểm tra cổng tin nhắn.",
            f"{backlog} tin nhan ton dong",
        ))  # fmt: skip
    start = _day_start(settings, now)
    gave_up = session.scalar(
        select(func.count())
        .select_from(NoticeCall)
        .where(NoticeCall.status == NoticeCallStatus.GAVE_UP, NoticeCall.finished_at >= start)
    )
    if gave_up:
        problems.append(Problem(
            "notice_calls_failed",
            f"{gave_up} cuộc gọi báo tin hôm nay không gặp được công dân sau mọi lần gọi; "
            "đã tạo yêu cầu gọi lại cho cán bộ.",
            f"{gave_up} cuoc goi bao tin khong duoc",
        ))  # fmt: skip
    if settings.onestop.enabled:
        problems += _onestop_problems(session, now)
    return problems


def _onestop_problems(session: Session, now: dt.datetime) -> list[Problem]:
    waiting = onestop_backlog(session)
    problems = []
    if waiting.stopped_dossiers:
        problems.append(Problem(
            "onestop_refused",
            f"{waiting.stopped_dossiers} hồ sơ bị Cổng Dịch vụ công quốc gia từ chối hoặc gửi "
            "không thành công; xem lý do trên trang hồ sơ rồi bấm «Đồng bộ lại».",
            f"{waiting.stopped_dossiers} ho so bi Cong DVCQG tu choi",
        ))  # fmt: skip
    if waiting.is_late(now):
        minutes = int(waiting.waited(now).total_seconds() // 60)  # type: ignore[union-attr]
        problems.append(Problem(
            "onestop_behind",
            f"Đồng bộ Cổng Dịch vụ công quốc gia chậm: {waiting.waiting} bản ghi đang chờ, lâu "
            f"nhất {minutes} phút. Vui lòng kiểm tra trang Sức khỏe hệ thống.",
            f"Dong bo Cong DVCQG cham {minutes} phut",
        ))  # fmt: skip
    return problems


def standby_problems(session: Session, settings: Settings, now: dt.datetime) -> list[Problem]:
    """What a standby replica sees: a leader that stopped beating."""
    row = session.get(Heartbeat, LEADER_HEARTBEAT)
    if row is None or row.beat_at >= now - dt.timedelta(seconds=LEADER_SILENT_SECONDS):
        return []
    silent = int((now - row.beat_at).total_seconds() // 60)
    return [Problem(
        "scheduler_no_leader",
        f"Bộ lập lịch không có tiến trình chính đã {silent} phút ({row.holder}): tin nhắn theo "
        "quy tắc, xin lỗi tự động và cảnh báo đang dừng. Vui lòng kiểm tra máy chủ.",
        f"Bo lap lich dung {silent} phut",
    )]  # fmt: skip


def raise_alerts(
    sessions: sessionmaker[Session],
    settings: Settings,
    calendar: WorkingCalendar,
    now: dt.datetime,
    mailer: Mailer | None,
    *,
    leader: bool = True,
) -> list[Problem]:
    """Record each problem not yet alerted today, then email it (no session open meanwhile).
    The leader looks for every problem; a standby (`leader=False`) only for a silent leader."""
    start = _day_start(settings, now)
    find = find_problems if leader else standby_problems
    with sessions() as session, session.begin():
        lock_row(session, ALERTS_LOCK, now)
        alerted = set(
            session.scalars(select(StaffAlert.kind).where(StaffAlert.created_at >= start))
        )
        new = [p for p in find(session, settings, now) if p.kind not in alerted]
        day = now.astimezone(settings.zone).date().isoformat()
        for problem in new:
            session.add(StaffAlert(kind=problem.kind, message=problem.message, created_at=now))
            if problem.kind in SMS_PATH:
                continue
            for phone in settings.scheduler.supervisor_phones:
                enqueue(session, settings, kind="supervisor_alert", phone=phone, now=now,
                        values={"code": "-", "reason": problem.sms_reason},
                        dedupe_key=f"alert:{problem.kind}:{day}:{phone}")  # fmt: skip
    emails = settings.scheduler.supervisor_emails
    if new and mailer is not None and emails:
        for problem in new:
            mail = Mail(emails, f"[Tổng đài] Cảnh báo: {problem.message[:60]}", problem.message)
            try:
                mailer.send(mail)
            except MailError as exc:  # the dashboard has it; the next problem may still go
                log.warning("alerts: email not sent (%s)", exc)
    return new


def mailer_from_settings(settings: Settings) -> Mailer | None:
    """The supervisors' mail server (TONGDAI_SMTP_URL), or None: alerts stay on the dashboard."""
    if not settings.smtp_url:
        return None
    return SmtpMailer.from_url(settings.smtp_url, settings.scheduler.alert_sender)


def _day_start(settings: Settings, now: dt.datetime) -> dt.datetime:
    local = now.astimezone(settings.zone)
    return dt.datetime.combine(local.date(), dt.time(0), tzinfo=settings.zone).astimezone(dt.UTC)
