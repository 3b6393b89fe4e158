"""Signed SMS webhooks with values no provider would send get a 400, never a 500. On
PostgreSQL, which enforces column lengths and refuses NUL characters (SQLite does neither)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from sms.dispatch import dispatch_due
from sms.models import InboundMessage, Notice, NoticeStatus
from sms.outbox import enqueue
from tests.fakes import RecordingGateway
from tests.hostile import HUGE, app_with_twilio_token, on_postgresql, post_signed

pytestmark = on_postgresql
INBOUND = {"MessageSid": "SM" + "0" * 32, "From": "+84912345678", "To": "+842553822222",
           "Body": "HUY"}  # fmt: skip


@pytest.fixture
def twilio_app(runtime, tmp_path):
    return app_with_twilio_token(runtime, tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        {"From": "+84912345678" + "9" * 9},
        {"To": "+842553822222" + "9" * 8},
        {"MessageSid": "SM" + "0" * 63},
        {"MessageSid": "SM00\x0001"},
        {"Body": "H\x00UY"},
        {"Body": "x" * 1601},
        {"From": ""},
        {"MessageSid": ""},
    ],
    ids=["from-21", "to-21", "sid-65", "sid-nul", "body-nul", "body-1601", "no-from", "no-sid"],
)
def test_an_inbound_sms_with_a_broken_field_gets_400_and_nothing_is_stored(
    twilio_app, caplog, change
):
    caplog.set_level(logging.INFO)
    response = post_signed(twilio_app.test_client(), "/twilio/sms", {**INBOUND, **change})
    assert response.status_code == 400 and b"Traceback" not in response.data
    runtime = twilio_app.extensions["tongdai"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0
        assert session.scalar(select(func.count()).select_from(Notice)) == 0
    refusals = [r for r in caplog.records if r.name == "plumbing.webhook_form"]
    assert len(refusals) == 1 and "HUY" not in refusals[0].getMessage()


def test_an_inbound_sms_with_line_breaks_is_still_answered(twilio_app):
    response = post_signed(twilio_app.test_client(), "/twilio/sms", {**INBOUND, "Body": "HUY\r\n"})
    assert response.status_code == 200


@pytest.fixture
def sent_notice(twilio_app):
    runtime = twilio_app.extensions["tongdai"]
    with runtime.sessions() as session:
        notice = enqueue(session, runtime.settings, kind="stopped", phone="0912345678",
                         values={"code": "X-261201-0001", "reason": "r"},
                         now=runtime.clock.now())  # fmt: skip
        session.commit()
        notice_id = notice.id
    dispatch_due(runtime.sessions, RecordingGateway(), runtime.settings, runtime.clock)
    with runtime.sessions() as session:
        return session.get(Notice, notice_id)


@pytest.mark.parametrize(
    ("query", "change"),
    [
        (f"?notice={HUGE}", {}),
        ("?notice=-1", {}),
        ("", {"ErrorCode": "3" * 33}),
        ("", {"ErrorCode": "30\x0003"}),
        ("", {"MessageStatus": "undelivered" * 4}),
        ("", {"MessageSid": "SM" + "0" * 63}),
    ],
    ids=["notice-huge", "notice-negative", "error-33", "error-nul", "status-44", "sid-65"],
)
def test_a_delivery_receipt_with_a_broken_field_gets_400_and_changes_nothing(
    twilio_app, sent_notice, query, change
):
    form = {"MessageSid": sent_notice.provider_id, "MessageStatus": "undelivered", **change}
    response = post_signed(twilio_app.test_client(), f"/twilio/sms/status{query}", form)
    assert response.status_code == 400
    runtime = twilio_app.extensions["tongdai"]
    with runtime.sessions() as session:
        notice = session.get(Notice, sent_notice.id)
        assert (notice.status, notice.error_code) == (NoticeStatus.SENT, None)
