"""The webhook signature check accepts exactly what twilio's own validator accepts."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from plumbing.twilio_signature import valid_signature

TOKEN = "12345678901234567890123456789012"
FORM = MultiDict([("CallSid", "CA" + "0" * 32), ("Digits", "1"), ("Digits", "2"), ("From", "")])


def signed(url: str, form=FORM, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


@pytest.mark.parametrize(
    ("signed_as", "called"),
    [
        (
            "https://tongdai.example/twilio/voice/step?seq=3",
            "https://tongdai.example/twilio/voice/step?seq=3",
        ),
        # Twilio's back end signs with or without the default port; both are Twilio's.
        ("https://tongdai.example:443/twilio/voice", "https://tongdai.example/twilio/voice"),
        ("https://tongdai.example/twilio/voice", "https://tongdai.example:443/twilio/voice"),
        ("http://localhost:8000/twilio/voice", "http://localhost:8000/twilio/voice"),
    ],
)
def test_a_signature_twilio_accepts_is_accepted(signed_as, called):
    signature = signed(signed_as)
    assert RequestValidator(TOKEN).validate(called, FORM, signature)
    assert valid_signature(TOKEN, called, FORM, signature)


@pytest.mark.parametrize(
    "signature",
    [
        signed("https://tongdai.example/twilio/voice/step?seq=4"),  # another step's URL
        signed("https://tongdai.example/twilio/voice/step?seq=3", MultiDict([("Digits", "1")])),
        signed("https://tongdai.example/twilio/voice/step?seq=3", token="x" * 32),
        "",
        "không phải chữ ký",  # not even ASCII
    ],
)
def test_any_other_signature_is_refused(signature):
    url = "https://tongdai.example/twilio/voice/step?seq=3"
    assert not RequestValidator(TOKEN).validate(url, FORM, signature)
    assert not valid_signature(TOKEN, url, FORM, signature)
