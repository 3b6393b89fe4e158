"""The TwiML checker itself must be able to fail; the IVR's TwiML is checked in every call test."""

from __future__ import annotations

import pytest

from tests.ivr.twiml_check import problems


def test_valid_twiml_passes():
    twiml = (
        '<Response><Gather action="/s?seq=1" actionOnEmptyResult="true" input="dtmf" '
        'numDigits="1" timeout="6"><Say language="vi-VN" voice="Google.vi-VN-Standard-A">'
        "Xin chào</Say></Gather><Hangup /></Response>"
    )
    assert problems(twiml) == []


@pytest.mark.parametrize(
    ("twiml", "complaint"),
    [
        ('<Response><Say voice="Polly.vi-VN">x</Say></Response>', "not a valid SayVoice"),
        ('<Response><Say language="vn">x</Say></Response>', "not a valid SayLanguage"),
        ('<Response><Gather numDigits="one" /></Response>', "not a valid number"),
        ('<Response><Gather input="dtmf keypad" /></Response>', "not a valid GatherInput[]"),
        ('<Response><Record playBeep="yes" /></Response>', "not a valid boolean"),
        ("<Response><Gather><Record /></Gather></Response>", "may not be inside <Gather>"),
        ('<Response><Play speed="2">x</Play></Response>', "has no attribute 'speed'"),
        ("<Response><Speak>x</Speak></Response>", "unknown verb <Speak>"),
    ],
)
def test_invalid_twiml_is_caught(twiml, complaint):
    assert any(complaint in problem for problem in problems(twiml))
