"""A simulated Twilio: posts signed webhooks and follows the TwiML it gets back."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from tests.ivr.twiml_check import problems

TOKEN = "test-auth-token"
_sids = itertools.count(1)


class TwilioCaller:
    def __init__(self, client, caller: str = "+84912345678", base: str = "http://localhost"):
        self.client = client
        self.caller = caller
        self.base = base
        self.call_sid = f"CA{next(_sids):032x}"
        self.twiml: ET.Element | None = None
        self.history: list[ET.Element] = []
        self.responses = []

    # -- what Twilio does -----------------------------------------------------------------

    def post(self, path: str, form: dict[str, str]):
        form = {"CallSid": self.call_sid, "From": self.caller, "To": "+842553822222", **form}
        self.last_post = (path, form)
        url = urljoin(self.base + "/", path.lstrip("/"))
        signature = RequestValidator(TOKEN).compute_signature(url, form)
        response = self.client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        self.responses.append(response)
        return response

    def _follow(self, response) -> ET.Element:
        assert response.status_code == 200, response.data
        # Every document the IVR sends must be TwiML Twilio accepts.
        assert problems(response.data.decode()) == [], response.data
        self.twiml = ET.fromstring(response.data)
        self.history.append(self.twiml)
        return self.twiml

    def dial_in(self) -> ET.Element:
        return self._follow(self.post("/twilio/voice", {}))

    def _gather(self) -> ET.Element:
        gathers = self.twiml.findall("Gather")
        assert gathers, f"no Gather in {ET.tostring(self.twiml, encoding='unicode')}"
        return gathers[-1]

    def press(self, digits: str) -> ET.Element:
        """Type keys into the current Gather (as Twilio reports them, without a final #)."""
        gather = self._gather()
        finish = gather.get("finishOnKey")
        reported = digits[:-1] if finish and digits.endswith(finish) else digits
        if gather.get("numDigits") == "1":
            reported = digits[:1]
        return self._follow(self.post(gather.get("action"), {"Digits": reported}))

    def silence(self) -> ET.Element:
        return self._follow(self.post(self._gather().get("action"), {}))

    def speak(self, seconds: float = 3.0, sid: str | None = None) -> ET.Element:
        record = self.twiml.find("Record")
        assert record is not None, ET.tostring(self.twiml, encoding="unicode")
        sid = sid or f"RE{next(_sids):032x}"
        form = {
            "RecordingSid": sid,
            "RecordingDuration": str(int(seconds)),
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{sid}",
        }
        return self._follow(self.post(record.get("action"), form))

    def say_nothing(self) -> ET.Element:
        redirect = self.twiml.find("Redirect")
        assert redirect is not None
        return self._follow(self.post(redirect.text, {}))

    def transfer_ends(self, dial_status: str) -> ET.Element:
        """The <Dial> to the operator ends (`completed`, `busy`, `no-answer`, ...)."""
        dial = self.twiml.find("Dial")
        assert dial is not None, ET.tostring(self.twiml, encoding="unicode")
        return self._follow(self.post(dial.get("action"), {"DialCallStatus": dial_status}))

    def retry_last(self):
        """Twilio re-sends the last webhook (it timed out waiting for us)."""
        path, form = self.last_post
        return self.post(path, form)

    def hang_up(self, status: str = "completed"):
        response = self.post("/twilio/voice/status", {"CallStatus": status, "CallDuration": "42"})
        assert response.status_code == 204
        return response

    # -- what the caller hears ------------------------------------------------------------

    def heard(self) -> str:
        return " ".join(el.text or "" for el in self.twiml.iter("Say"))

    @property
    def hung_up(self) -> bool:
        return self.twiml is not None and self.twiml.find("Hangup") is not None
