"""Property: no signed SMS webhook body (inbound or delivery receipt), however hostile, ends in
a 500 on PostgreSQL. Part of the 10,000 random requests described in
tests/ivr/test_random_webhooks.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sms.dispatch import dispatch_due
from sms.outbox import enqueue
from tests.fakes import RecordingGateway
from tests.hostile import (
    app_with_twilio_token,
    on_postgresql,
    post_signed,
    requests_with_one_hostile_value,
    signed_request,
)

SENT = "FAKE000001"  # the provider id RecordingGateway gives the first notice it sends
MESSAGE_SID = st.sampled_from([SENT, SENT, "SM" + "0" * 32, "SM" + "a" * 32])
PHONES = st.sampled_from(["+84912345678", "+84987654321", "0912345678", "+842553822222"])
INBOUND = (
    {"MessageSid": MESSAGE_SID, "From": PHONES},
    {
        "To": st.just("+842553822222"),
        "Body": st.one_of(
            st.sampled_from(["HUY", "DK", "1", "3", "TT 2612010001", "Tra cứu: 261201 0001"]),
            st.text(max_size=200),
        ),
    },
    {},
)
RECEIPT = (
    {"MessageSid": MESSAGE_SID},
    {
        "MessageStatus": st.sampled_from(["sent", "delivered", "undelivered", "failed", "read"]),
        "SmsSid": MESSAGE_SID,
        "SmsStatus": st.sampled_from(["sent", "delivered"]),
        "ErrorCode": st.sampled_from(["30003", "30005", "21610"]),
    },
    {"notice": st.integers(1, 3).map(str)},
)


@pytest.fixture
def client_with_a_sent_notice(runtime, tmp_path):
    app = app_with_twilio_token(runtime, tmp_path)
    values = {"code": "X-261201-0001", "reason": "r"}
    with runtime.sessions() as session:
        enqueue(session, runtime.settings, kind="stopped", phone="0912345678", values=values,
                now=runtime.clock.now())  # fmt: skip
        session.commit()
    dispatch_due(runtime.sessions, RecordingGateway(), runtime.settings, runtime.clock)
    return app.test_client()


@on_postgresql
@settings(
    max_examples=3500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    request=st.one_of(
        st.tuples(st.just("/twilio/sms"), requests_with_one_hostile_value(*INBOUND)),
        st.tuples(st.just("/twilio/sms/status"), requests_with_one_hostile_value(*RECEIPT)),
    )
)
def test_no_signed_sms_webhook_ends_in_a_500(client_with_a_sent_notice, request):
    path, (form, query) = request
    response = post_signed(client_with_a_sent_notice, signed_request(path, query), form)
    event(f"{path} answered {response.status_code}")
    assert response.status_code != 403, "the test signed the request wrongly"
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
