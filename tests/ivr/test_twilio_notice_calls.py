"""Notice calls through Twilio: the Calls request against Twilio's published contract (the Prism
mock), the TwiML the citizen hears against the verb lists, and every outcome from the status
callbacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from ivr.notice_calls import place_due
from ivr.twilio_notice_calls import TwilioNoticeCaller
from sms.models import NoticeCall, NoticeCallOutcome, NoticeCallStatus
from tests.contract.twilio_contract import ContractHttpClient
from tests.factories import create_dossier, create_notice
from tests.ivr.twilio_caller import TOKEN, TwilioCaller
from tests.ivr.twiml_check import problems
from tongdai.app import create_app

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
PUBLIC_URL = "https://tongdai.quangngai.gov.vn"
LANDLINE = "02553822123"


@pytest.fixture
def twilio_runtime(runtime, tmp_path):
    settings = runtime.settings
    runtime.settings = settings.model_copy(update={
        "twilio_auth_token": TOKEN, "data_dir": tmp_path,
        "notice_calls": settings.notice_calls.model_copy(
            update={"enabled": True, "pace_seconds": 0}),
    })  # fmt: skip
    return runtime


def _queued(runtime) -> int:
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, phone=LANDLINE)
        create_notice(session, runtime, kind="apology", phone=LANDLINE, dossier=dossier,
                      dedupe_key="a",
                      values={"due": "2026-12-09", "new_due": "2026-12-14"})  # fmt: skip
        return session.scalar(select(NoticeCall.id))


def _place(runtime, place) -> None:
    place_due(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now, place)


def _call(runtime, call_id) -> NoticeCall:
    with runtime.sessions() as session:
        return session.get(NoticeCall, call_id)


class NoticeCallee(TwilioCaller):
    """Twilio calling the citizen: it fetches our TwiML when they answer."""

    def answer(self, call_id: int, attempt: int = 1) -> ET.Element:
        return self._follow(self.post(f"/twilio/notice?call={call_id}&attempt={attempt}", {}))


def test_the_calls_request_fits_twilios_contract_and_shows_the_hotline(twilio_runtime, prism_url):
    call_id = _queued(twilio_runtime)
    recorder = ContractHttpClient(forward_to=prism_url)
    caller = TwilioNoticeCaller(twilio_runtime.settings, ACCOUNT_SID, TOKEN,
                                public_url=PUBLIC_URL, http_client=recorder)  # fmt: skip
    _place(twilio_runtime, caller.place)
    assert not recorder.violations
    sent = recorder.last
    assert "/Accounts/" + ACCOUNT_SID + "/Calls.json" in sent.url
    assert sent.form["To"] == "+842553822123" and sent.form["From"] == "+842553822222"
    assert sent.form["Url"] == f"{PUBLIC_URL}/twilio/notice?call={call_id}&attempt=1"
    assert sent.form["StatusCallback"] == (
        f"{PUBLIC_URL}/twilio/notice/status?call={call_id}&attempt=1"
    )
    call = _call(twilio_runtime, call_id)
    assert call.status is NoticeCallStatus.CALLING and call.provider_call_id.startswith("CA")


def test_the_citizen_hears_the_notice_and_confirms_with_2(twilio_runtime):
    call_id = _queued(twilio_runtime)
    _place(twilio_runtime, lambda call: "CA" + "0" * 32)
    twilio = NoticeCallee(create_app(twilio_runtime).test_client(), caller="+842553822222")
    twiml = twilio.answer(call_id)
    [gather] = twiml.findall("Gather")
    assert gather.get("numDigits") == "1"
    spoken = " ".join(say.text for say in gather.iter("Say"))
    assert "Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi gọi điện" in spoken
    assert "hai sáu một hai không một" in spoken  # the code, in groups
    assert "ngày mười bốn tháng mười hai" in spoken  # the new date, in words
    assert _call(twilio_runtime, call_id).outcome is NoticeCallOutcome.ANSWERED
    twiml = twilio.press("2")
    assert problems(ET.tostring(twiml, encoding="unicode")) == []
    assert twiml.find("Hangup") is not None
    call = _call(twilio_runtime, call_id)
    assert (call.status, call.outcome) == (NoticeCallStatus.DONE, NoticeCallOutcome.CONFIRMED)


@pytest.mark.parametrize(
    ("call_status", "outcome"),
    [("busy", NoticeCallOutcome.BUSY), ("no-answer", NoticeCallOutcome.NO_ANSWER),
     ("failed", NoticeCallOutcome.FAILED), ("canceled", NoticeCallOutcome.FAILED)],
)  # fmt: skip
def test_each_unanswered_ending_is_the_attempts_outcome_and_it_is_retried(
    twilio_runtime, call_status, outcome
):
    call_id = _queued(twilio_runtime)
    _place(twilio_runtime, lambda call: "CA" + "0" * 32)
    twilio = NoticeCallee(create_app(twilio_runtime).test_client())
    query = f"call={call_id}&attempt=1"
    response = twilio.post(f"/twilio/notice/status?{query}", {"CallStatus": call_status})
    assert response.status_code == 204
    call = _call(twilio_runtime, call_id)
    assert (call.status, call.outcome) == (NoticeCallStatus.PENDING, outcome)
    # Twilio repeats the callback: the attempt is not counted twice.
    twilio.post(f"/twilio/notice/status?{query}", {"CallStatus": call_status})
    assert len(_call(twilio_runtime, call_id).history) == 1


def test_completed_after_an_answer_changes_nothing_and_unsigned_requests_are_refused(
    twilio_runtime,
):
    call_id = _queued(twilio_runtime)
    _place(twilio_runtime, lambda call: "CA" + "0" * 32)
    client = create_app(twilio_runtime).test_client()
    twilio = NoticeCallee(client)
    twilio.answer(call_id)
    twilio.post(f"/twilio/notice/status?call={call_id}&attempt=1", {"CallStatus": "completed"})
    call = _call(twilio_runtime, call_id)
    assert (call.status, call.outcome) == (NoticeCallStatus.DONE, NoticeCallOutcome.ANSWERED)
    assert client.post(f"/twilio/notice?call={call_id}&attempt=1").status_code == 403
