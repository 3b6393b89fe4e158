"""Signed voice webhooks with values Twilio would never send get a 400, never a 500, and leave
nothing half-written. On PostgreSQL, which (unlike SQLite) enforces column lengths and refuses
NUL characters."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from intake.models import Dossier
from ivr import engine
from ivr.models import IvrCall, Recording
from tests.hostile import CALL_SID, HUGE, NON_ASCII_DIGITS, RECORDING_SID, on_postgresql
from tests.hostile import post_signed as post

REFUSALS = "plumbing.webhook_form"


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@on_postgresql
@pytest.mark.parametrize(
    "form",
    [
        {"CallSid": "CA" + "a" * 63, "From": "+84912345678"},
        {"CallSid": "CA" + "a" * 32 + "\x00", "From": "+84912345678"},
        {"CallSid": CALL_SID, "From": "+8491\x002345678"},
        {"CallSid": CALL_SID, "From": "+84912345678" * 10},
        {"From": "+84912345678"},
        {"CallSid": "", "From": "+84912345678"},
    ],
    ids=["call-sid-65", "call-sid-nul", "from-nul", "from-120", "no-call-sid", "empty-call-sid"],
)
def test_a_first_webhook_with_a_broken_field_gets_400_and_creates_no_call(
    voice_app, session, caplog, form
):
    caplog.set_level(logging.INFO)
    response = post(voice_app.test_client(), "/twilio/voice", form)
    assert response.status_code == 400
    assert response.mimetype == "text/plain" and b"Traceback" not in response.data
    assert _count(session, IvrCall) == 0
    refusals = [r for r in caplog.records if r.name == REFUSALS]
    assert len(refusals) == 1
    assert "8491" not in refusals[0].getMessage()  # the caller's number is not in the log


def _at_the_main_menu(new_caller):
    caller = new_caller()
    caller.dial_in()
    return caller, caller.twiml.find("Gather").get("action")


@on_postgresql
@pytest.mark.parametrize(
    "form",
    [
        {"RecordingSid": RECORDING_SID, "RecordingDuration": "abc"},
        {"RecordingSid": RECORDING_SID, "RecordingDuration": "nan"},
        {"RecordingSid": RECORDING_SID, "RecordingDuration": "inf"},
        {"RecordingSid": RECORDING_SID, "RecordingDuration": HUGE},
        {"RecordingSid": "RE" + "1" * 300, "RecordingDuration": "3"},
        {
            "RecordingSid": RECORDING_SID,
            "RecordingDuration": "3",
            "RecordingUrl": "https://api.twilio.com/" + "a" * 600,
        },
    ],  # fmt: skip
    ids=["duration-abc", "duration-nan", "duration-inf", "duration-huge", "sid-long", "url-long"],
)
def test_a_recording_webhook_with_a_broken_field_gets_400_and_stores_nothing(
    new_caller, session, form
):
    caller, action = _at_the_main_menu(new_caller)
    response = caller.post(action, form)
    assert response.status_code == 400
    assert _count(session, Recording) == 0
    # The call is where it was: the next good webhook carries on.
    assert caller.press("1") is not None and "Cấp mới bấm 1" in caller.heard()


@on_postgresql
def test_a_call_duration_of_ten_to_the_thirty_gets_400_and_the_call_stays_open(new_caller, session):
    caller, _ = _at_the_main_menu(new_caller)
    form = {"CallStatus": "completed", "CallDuration": HUGE}
    assert caller.post("/twilio/voice/status", form).status_code == 400
    session.expire_all()
    assert session.scalars(select(IvrCall)).one().ended_at is None


@on_postgresql
def test_a_long_dial_status_or_step_number_gets_400(new_caller):
    caller, action = _at_the_main_menu(new_caller)
    assert (
        caller.post(f"/twilio/voice/dial?seq={HUGE}", {"DialCallStatus": "x" * 40}).status_code
        == 400
    )
    assert caller.post(action.replace("seq=1", f"seq={HUGE}"), {"Digits": "1"}).status_code == 400


@on_postgresql
@pytest.mark.parametrize("typed", NON_ASCII_DIGITS)
def test_digits_that_are_not_ascii_get_400_and_are_never_stored(new_caller, session, typed):
    caller = new_caller()
    caller.dial_in()
    caller.press("1")
    caller.press("1")  # a new licence: the vessel number comes next
    assert "5 số đăng ký tàu" in caller.heard()
    response = caller.post(caller.twiml.find("Gather").get("action"), {"Digits": typed})
    assert response.status_code == 400
    session.expire_all()
    assert "vessel_digits" not in session.scalars(select(IvrCall)).one().state["scratch"]
    assert all(
        "vessel" not in (d.form or {}).get("ivr", {}) for d in session.scalars(select(Dossier))
    )


@pytest.mark.parametrize("typed", NON_ASCII_DIGITS)
def test_the_flow_itself_takes_only_ascii_digits(typed):
    """Whatever the front end (Asterisk, the terminal): '²³⁴⁵⁶' is a wrong key, not a number."""
    state = {**engine.new_state(), "node": "vessel_digits"}
    actions, after = engine.step(state, engine.Keys(typed + "#"), engine.Context("QNg", None))
    assert after["node"] == "vessel_digits" and "vessel_digits" not in after["scratch"]
    spoken = [p for a in actions if isinstance(a, engine.Play) for p in a.parts]
    assert engine.Prompt("vessel_invalid") in spoken
