"""Property: no signed voice webhook body, however hostile, ends in a 500 (PostgreSQL).

Together with tests/sms/test_random_webhooks.py and tests/admin/test_random_queries.py this
sends over 10,000 random requests; `max_examples` is sized so they take about 90 s on a
2-core machine (`--hypothesis-show-statistics` shows what each path answered).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.hostile import (
    CALL_SID,
    RECORDING_SID,
    app_with_twilio_token,
    on_postgresql,
    post_signed,
    requests_with_one_hostile_value,
    signed_request,
)

CURRENT = "current"  # stands for the live call's step number, known only at run time
REQUIRED = {"CallSid": st.sampled_from([CALL_SID, CALL_SID, CALL_SID, "CA" + "f" * 32])}
OPTIONAL = {
    "From": st.sampled_from(["+84912345678", "+842553822222", "anonymous", "client:lan"]),
    "Digits": st.text(alphabet="0123456789*#", max_size=14),
    "RecordingSid": st.just(RECORDING_SID),
    "RecordingUrl": st.just(f"https://api.twilio.com/2010-04-01/Recordings/{RECORDING_SID}"),
    "RecordingDuration": st.integers(0, 60).map(str),
    "CallStatus": st.sampled_from(["completed", "in-progress", "busy", "no-answer"]),
    "CallDuration": st.integers(0, 5000).map(str),
    "DialCallStatus": st.sampled_from(["completed", "no-answer", "busy"]),
}
QUERY = {
    "seq": st.sampled_from([CURRENT, CURRENT, CURRENT, "0", "1", "2"]),
    "record": st.sampled_from(["0", "1"]),
}
PATHS = st.sampled_from(
    ["/twilio/voice", "/twilio/voice/step", "/twilio/voice/step", "/twilio/voice/step",
     "/twilio/voice/dial", "/twilio/voice/status"]
)  # fmt: skip


class LiveCall:
    """The app and a call in progress, so steps with its CallSid reach the flow."""

    def __init__(self, client) -> None:
        self.client = client
        self.seq = "0"

    def post(self, path: str, form: dict[str, str], query: dict[str, str]):
        if query.get("seq") == CURRENT:
            query = {**query, "seq": self.seq}
        response = post_signed(self.client, signed_request(path, query), form)
        if match := re.search(rb"seq=([0-9]+)", response.data):
            self.seq = match[1].decode()
        return response


@pytest.fixture
def live_call(runtime, tmp_path):
    call = LiveCall(app_with_twilio_token(runtime, tmp_path).test_client())
    assert call.post("/twilio/voice", {"CallSid": CALL_SID, "From": "+84912345678"}, {})
    return call


@on_postgresql
@settings(
    max_examples=3500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=PATHS, request=requests_with_one_hostile_value(REQUIRED, OPTIONAL, QUERY))
def test_no_signed_voice_webhook_ends_in_a_500(live_call, path, request):
    form, query = request
    response = live_call.post(path, form, query)
    event(f"{path} answered {response.status_code}")
    assert response.status_code != 403, "the test signed the request wrongly"
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
