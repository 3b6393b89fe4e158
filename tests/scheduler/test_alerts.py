"""Supervisors hear about what still fails: on the dashboard, by email through a real SMTP server
(aiosmtpd on a local port), by SMS when the SMS path is not the problem; once per problem a day."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from ivr.notice_calls import place_due, record_outcome
from onestop.models import SyncItem, SyncKind, SyncStatus
from plumbing.heartbeat import beat
from plumbing.mailer import RecordingMailer, SmtpMailer
from scheduler.alerts import raise_alerts
from scheduler.models import StaffAlert
from sms.dispatch import dispatch_due
from sms.gateways.base import PermanentSendError
from sms.models import Notice, NoticeCall, NoticeCallOutcome
from tests.conftest import free_port
from tests.factories import create_dossier, create_notice
from tests.fakes import RecordingGateway

SUPERVISOR = "giamsat@tthcc.example"


@pytest.fixture
def supervised(runtime):
    settings = runtime.settings
    runtime.settings = settings.model_copy(update={
        "scheduler": settings.scheduler.model_copy(update={
            "supervisor_emails": (SUPERVISOR,), "supervisor_phones": ("0987654321",),
            "alert_failed_notices": 3,
        }),
        "notice_calls": settings.notice_calls.model_copy(
            update={"enabled": True, "retry_days": ()}),
    })  # fmt: skip
    return runtime


def _alerts(runtime, mailer, leader=True):
    return raise_alerts(runtime.sessions, runtime.settings, runtime.calendar(),
                        runtime.clock.now(), mailer, leader=leader)  # fmt: skip


def _failing_sms(runtime, count: int) -> None:
    with runtime.sessions() as session, session.begin():
        for _ in range(count):
            create_notice(session, runtime, kind="stopped")
    refuse = RecordingGateway(lambda sms: PermanentSendError("bị chặn", code="30007"))
    dispatch_due(runtime.sessions, refuse, runtime.settings, runtime.clock)


def test_failing_notices_are_alerted_once_a_day_by_email_but_not_by_sms(session, supervised, inbox):
    handler, url = inbox
    mailer = SmtpMailer.from_url(url, "tongdai@tthcc.example")
    _failing_sms(supervised, 2)
    assert _alerts(supervised, mailer) == []  # under the threshold
    _failing_sms(supervised, 1)
    [problem] = _alerts(supervised, mailer)
    assert problem.kind == "notices_failing"
    assert _alerts(supervised, mailer) == []  # the same day: once
    [mail] = handler.messages
    assert mail["To"] == SUPERVISOR and mail["From"] == "tongdai@tthcc.example"
    assert "3 tin nhắn không gửi được" in mail.get_content()
    [alert] = session.scalars(select(StaffAlert)).all()
    assert alert.kind == "notices_failing"
    # The SMS path is the problem: no SMS to the supervisor about it.
    assert session.scalars(select(Notice).where(Notice.kind == "supervisor_alert")).all() == []
    supervised.clock.advance(dt.timedelta(days=1))
    _failing_sms(supervised, 3)
    assert [p.kind for p in _alerts(supervised, mailer)] == ["notices_failing"]
    assert len(handler.messages) == 2


def test_a_notice_call_that_never_reached_the_citizen_is_alerted_by_email_and_sms(
    session, supervised, inbox
):
    handler, url = inbox
    runtime = supervised
    with runtime.sessions() as s, s.begin():
        create_notice(s, runtime, kind="result_ready", phone="02553822123", dedupe_key="r")
        call_id = s.scalar(select(NoticeCall.id))
    place_due(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now,
              lambda call: "chan", sleep=lambda s: None)  # fmt: skip
    with runtime.sessions() as s, s.begin():
        record_outcome(s, runtime.settings, runtime.calendar(), call_id,
                       NoticeCallOutcome.NO_ANSWER, runtime.clock.now())  # fmt: skip
    [problem] = _alerts(runtime, SmtpMailer.from_url(url, "tongdai@tthcc.example"))
    assert problem.kind == "notice_calls_failed"
    assert "1 cuộc gọi báo tin hôm nay không gặp được công dân" in handler.messages[0].get_content()
    [sms] = session.scalars(select(Notice).where(Notice.kind == "supervisor_alert")).all()
    assert sms.phone == "+84987654321" and "cuoc goi bao tin khong duoc" in sms.text


def test_an_unreachable_mail_server_leaves_the_alert_on_the_dashboard(session, supervised):
    _failing_sms(supervised, 3)
    dead = SmtpMailer.from_url(f"smtp://127.0.0.1:{free_port()}", "tongdai@tthcc.example")
    assert [p.kind for p in _alerts(supervised, dead)] == ["notices_failing"]
    assert [a.kind for a in session.scalars(select(StaffAlert))] == ["notices_failing"]


def test_a_standby_alerts_a_silent_leader_once_and_only_the_leader_looks_at_notices(
    session, supervised
):
    mailer = RecordingMailer()
    _failing_sms(supervised, 3)
    with supervised.sessions() as s, s.begin():
        beat(s, "scheduler-leader", "may-chu-a:42", {}, supervised.clock.now())
    assert _alerts(supervised, mailer, leader=False) == []  # the leader beats: all is well
    supervised.clock.advance(dt.timedelta(minutes=6))
    [problem] = _alerts(supervised, mailer, leader=False)
    assert problem.kind == "scheduler_no_leader" and "may-chu-a:42" in problem.message
    assert _alerts(supervised, mailer, leader=False) == []
    assert [mail.to for mail in mailer.sent] == [(SUPERVISOR,)]
    # Not the SMS path: the supervisor gets an SMS too.
    [sms] = session.scalars(select(Notice).where(Notice.kind == "supervisor_alert")).all()
    assert "Bo lap lich dung 6 phut" in sms.text


def _sync_item(session, dossier_id: int, status, created_at: dt.datetime) -> None:
    session.add(SyncItem(dossier_id=dossier_id, kind=SyncKind.SNAPSHOT, status=status,
                         next_attempt_at=created_at, created_at=created_at,
                         updated_at=created_at, error="MaHoSo không hợp lệ"))  # fmt: skip


def test_a_portal_that_refuses_or_falls_behind_is_alerted_once_each(session, supervised):
    runtime = supervised
    runtime.settings = runtime.settings.model_copy(update={
        "onestop": runtime.settings.onestop.model_copy(update={"enabled": True}),
    })  # fmt: skip
    mailer = RecordingMailer()
    now = runtime.clock.now()
    with runtime.sessions() as s, s.begin():
        refused, waiting = (create_dossier(s, runtime).id for _ in range(2))
        _sync_item(s, refused, SyncStatus.REFUSED, now)
        _sync_item(s, waiting, SyncStatus.PENDING, now - dt.timedelta(minutes=59))
    [problem] = _alerts(runtime, mailer)  # waiting 59 minutes is not yet behind
    assert problem.kind == "onestop_refused" and problem.message.startswith("1 hồ sơ bị Cổng")
    runtime.clock.advance(dt.timedelta(minutes=2))
    [problem] = _alerts(runtime, mailer)  # refused: already alerted today
    assert problem.kind == "onestop_behind" and "lâu nhất 61 phút" in problem.message
    assert _alerts(runtime, mailer) == []
    # Not the SMS path: the supervisors get an SMS too.
    texts = [
        n.text for n in session.scalars(select(Notice).where(Notice.kind == "supervisor_alert"))
    ]
    assert len(texts) == 2 and any("tu choi" in t for t in texts)


def test_a_portal_sync_that_is_off_is_never_alerted(session, supervised):
    now = supervised.clock.now()
    with supervised.sessions() as s, s.begin():
        _sync_item(s, create_dossier(s, supervised).id, SyncStatus.REFUSED, now)
    assert _alerts(supervised, RecordingMailer()) == []
