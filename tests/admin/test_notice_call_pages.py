"""Staff see how a notice call went: on the dossier page and on the outbox page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.lifecycle import Actor, change_status
from intake.models import Role
from intake.statuses import DossierStatus as S
from ivr.notice_calls import place_due, record_outcome
from scheduler.rules import run_rules
from sms.models import NoticeCall, NoticeCallOutcome
from tests.admin.staff import log_in, make_user
from tests.factories import create_dossier, create_notice

LANDLINE = "02553822123"
STAFF = Actor.staff("lan", Role.OPERATOR)


@pytest.fixture
def calls_on(runtime):
    settings = runtime.settings
    runtime.settings = settings.model_copy(
        update={"notice_calls": settings.notice_calls.model_copy(update={"enabled": True})}
    )
    return runtime


def _operator(client, runtime):
    """Logged in after the calls (the clock moved by days meanwhile)."""
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    return client


def _busy_then_confirmed(runtime) -> int:
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, phone=LANDLINE)
        create_notice(session, runtime, kind="apology", phone=LANDLINE, dossier=dossier,
                      dedupe_key="a")  # fmt: skip
        call_id = session.scalar(select(NoticeCall.id))
    calendar = runtime.calendar()
    for outcome in (NoticeCallOutcome.BUSY, NoticeCallOutcome.CONFIRMED):
        place_due(runtime.sessions, runtime.settings, calendar, runtime.clock.now,
                  lambda call: "chan", sleep=lambda s: None)  # fmt: skip
        with runtime.sessions() as session, session.begin():
            record_outcome(session, runtime.settings, calendar, call_id, outcome,
                           runtime.clock.now())  # fmt: skip
            runtime.clock.set(session.get(NoticeCall, call_id).next_attempt_at)
    return dossier.id


def test_the_dossier_page_shows_the_notice_call_and_each_attempt(client, calls_on):
    dossier_id = _busy_then_confirmed(calls_on)
    operator = _operator(client, calls_on)
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert "Cuộc gọi báo tin" in page
    assert "Đã gọi được: nghe và xác nhận, 2 lần gọi" in page
    assert "01/12 09:00 máy bận; 02/12 09:00 nghe và xác nhận" in page


def test_the_outbox_lists_the_calls_made_instead_of_sms(client, calls_on):
    _busy_then_confirmed(calls_on)
    operator = _operator(client, calls_on)
    page = operator.get("/admin/outbox").get_data(as_text=True)
    assert "Cuộc gọi báo tin gần đây" in page
    assert "0255 3822 123" in page or "02553822123" in page
    assert "Đã gọi được: nghe và xác nhận, 2 lần gọi" in page


def test_a_call_cancelled_because_the_result_came_out_says_why_on_both_pages(client, calls_on):
    runtime = calls_on
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, phone=LANDLINE, status=S.IN_PROCESS)
        create_notice(session, runtime, kind="apology", phone=LANDLINE, dossier=dossier,
                      dedupe_key="a")  # fmt: skip
        change_status(session, dossier, S.RESULT_READY, actor=STAFF, now=runtime.clock.now(),
                      calendar=runtime.calendar())  # fmt: skip
        dossier_id = dossier.id
    run_rules(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now())
    operator = _operator(client, runtime)
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert "Đã hủy: hồ sơ đã có kết quả" in page
    page = operator.get("/admin/outbox").get_data(as_text=True)
    assert "Đã hủy: hồ sơ đã có kết quả" in page
