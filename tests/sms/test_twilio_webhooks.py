"""The Twilio SMS webhooks: signatures, inbound replies through the outbox, delivery receipts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from sms.dispatch import dispatch_due
from sms.models import InboundMessage, Notice, NoticeStatus
from sms.outbox import enqueue
from tests.fakes import RecordingGateway
from tongdai.app import create_app

TOKEN = "test-auth-token"


@pytest.fixture
def signed_runtime(runtime):
    runtime.settings = runtime.settings.model_copy(update={"twilio_auth_token": TOKEN})
    return runtime


@pytest.fixture
def twilio_client(signed_runtime):
    return create_app(signed_runtime).test_client()


def post_signed(client, path, form, *, url=None, token=TOKEN, **kwargs):
    url = url or f"http://localhost{path}"
    signature = RequestValidator(token).compute_signature(url, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature}, **kwargs)


INBOUND = {"MessageSid": "SM0001", "From": "+84912345678", "To": "+8479", "Body": "HUY"}


def test_a_signed_inbound_sms_is_answered_through_the_outbox(twilio_client, session):
    response = post_signed(twilio_client, "/twilio/sms", INBOUND)
    assert response.status_code == 200
    assert response.data.decode().endswith("<Response />")
    reply = session.scalars(select(Notice)).one()
    assert (reply.kind, reply.phone, reply.status) == ("opted_out", "+84912345678", "pending")


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Signature": "forged"}, {"X-Twilio-Signature": ""}],
    ids=["missing", "forged", "empty"],
)
def test_an_unsigned_or_forged_request_gets_403_and_changes_nothing(twilio_client, session,
                                                                    headers):  # fmt: skip
    response = twilio_client.post("/twilio/sms", data=INBOUND, headers=headers)
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 0


def test_a_signature_made_with_another_token_is_refused(twilio_client):
    assert post_signed(twilio_client, "/twilio/sms", INBOUND, token="other").status_code == 403


def test_a_tampered_body_is_refused(twilio_client):
    signature = RequestValidator(TOKEN).compute_signature("http://localhost/twilio/sms", INBOUND)
    tampered = {**INBOUND, "Body": "DK"}
    response = twilio_client.post("/twilio/sms", data=tampered,
                                  headers={"X-Twilio-Signature": signature})  # fmt: skip
    assert response.status_code == 403


def test_without_an_auth_token_nothing_is_accepted(runtime):
    client = create_app(runtime).test_client()
    assert post_signed(client, "/twilio/sms", INBOUND).status_code == 403


def test_behind_a_proxy_the_public_url_is_what_twilio_signed(signed_runtime):
    public = "https://tongdai.example.vn"
    signed_runtime.settings = signed_runtime.settings.model_copy(update={"public_url": public})
    client = create_app(signed_runtime).test_client()
    # Twilio signed the https public address; the app itself is reached over http inside.
    ok = post_signed(client, "/twilio/sms", INBOUND, url=f"{public}/twilio/sms")
    inside = post_signed(client, "/twilio/sms", {**INBOUND, "MessageSid": "SM0002"})
    assert (ok.status_code, inside.status_code) == (200, 403)


def test_the_same_inbound_sms_delivered_twice_is_handled_once(twilio_client, session):
    assert post_signed(twilio_client, "/twilio/sms", INBOUND).status_code == 200
    assert post_signed(twilio_client, "/twilio/sms", INBOUND).status_code == 200
    assert session.scalar(select(func.count()).select_from(Notice)) == 1


def _sent_notice(runtime, session):
    values = {"code": "X-261201-0001", "reason": "r"}
    notice = enqueue(session, runtime.settings, kind="stopped", phone="0912345678",
                     values=values, now=runtime.clock.now())  # fmt: skip
    session.commit()
    dispatch_due(runtime.sessions, RecordingGateway(), runtime.settings, runtime.clock)
    session.refresh(notice)
    return notice


def test_delivery_receipts_in_any_order_end_delivered(twilio_client, signed_runtime, session):
    notice = _sent_notice(signed_runtime, session)
    path = f"/twilio/sms/status?notice={notice.id}"
    for state in ("delivered", "sent", "queued"):
        form = {"MessageSid": notice.provider_id, "MessageStatus": state}
        response = post_signed(twilio_client, path, form, url=f"http://localhost{path}")
        assert response.status_code == 204
    session.refresh(notice)
    assert notice.status is NoticeStatus.DELIVERED


def test_an_undelivered_receipt_keeps_the_error_code(twilio_client, signed_runtime, session):
    notice = _sent_notice(signed_runtime, session)
    form = {"MessageSid": notice.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_signed(twilio_client, "/twilio/sms/status", form).status_code == 204
    session.refresh(notice)
    assert (notice.status, notice.error_code) == (NoticeStatus.UNDELIVERED, "30003")


def test_a_receipt_for_an_unknown_message_is_logged_and_answered_204(twilio_client, caplog):
    form = {"MessageSid": "SMunknown", "MessageStatus": "delivered"}
    assert post_signed(twilio_client, "/twilio/sms/status", form).status_code == 204
    assert "unknown message SMunknown" in caplog.text
