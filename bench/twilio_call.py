"""The licence call of bench/licence_call.py as Twilio's signed voice webhooks, for every bench that
plays Twilio: the ladder (bench/voice_webhooks.py, asyncio), the flood (bench/abuse.py, threads)
and the profile (bench/webhook_profile.py, Flask's test client).

`TwilioCall` holds no connection: it gives the next webhook to post and checks each answer (the
TwiML asks what the walk expects, the call hangs up after the code and not before), so each bench
posts the same requests over its own client and paces them as it needs.

Over HTTP the benches reach waitress as nginx does in production (deploy/nginx: `proxy_pass` to
a variable, no `upstream ... keepalive`): a new connection for every request, closed after its
answer. A caller holding its connection open between answers would take one of waitress's
`connection_limit` channels per caller, which no caller behind nginx ever does.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Generator, Sequence
from dataclasses import dataclass

from bench.licence_call import NEW_LICENCE, Answer

HOST = "127.0.0.1"
TWILIO_TIMEOUT = 15.0  # Twilio gives up on a webhook after 15 s
CENTRE_NUMBER = "+842553822222"


class CallFailed(Exception):
    pass


def twilio_form(call_sid: str, caller: str, status: str = "in-progress") -> dict[str, str]:
    """The parameters Twilio sends with every voice webhook (they are all signed)."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": CENTRE_NUMBER,
        "CalledCountry": "VN",
        "Caller": caller,
        "CallerCountry": "VN",
        "Direction": "inbound",
        "From": caller,
        "FromCountry": "VN",
        "To": CENTRE_NUMBER,
        "ToCountry": "VN",
    }


def parse_twiml(status: int, body: bytes, node: str) -> ET.Element:
    if status != 200:
        raise CallFailed(f"{node}: HTTP {status}: {body[:120]!r}")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise CallFailed(f"{node}: not TwiML ({exc}): {body[:120]!r}") from exc


def heard(twiml: ET.Element) -> str:
    """What the caller hears, shortened, for error messages."""
    said = " ".join(el.text or "" for el in twiml.iter("Say"))
    played = " ".join((el.text or "").rsplit("/", 1)[-1] for el in twiml.iter("Play"))
    return (said or played)[:160]


def answer_request(twiml: ET.Element, answer: Answer, vessel: str) -> tuple[str, dict[str, str]]:
    """The action URL and the fields Twilio posts for `answer` to this TwiML; CallFailed when the
    TwiML does not ask what the walk expects (a menu key, a number ending with #, a recording)."""
    if answer.spoken:
        record = twiml.find("Record")
        if record is None:
            raise CallFailed(f"{answer.node}: no <Record> after: {heard(twiml)}")
        sid = "RE" + uuid.uuid4().hex
        return record.get("action", ""), {
            "RecordingSid": sid,
            "RecordingDuration": str(int(answer.spoken)),
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{sid}",
        }
    gathers = twiml.findall("Gather")
    if not gathers:
        raise CallFailed(f"{answer.node}: no <Gather> after: {heard(twiml)}")
    gather, digits = gathers[-1], answer.typed(vessel)
    if not digits:
        return gather.get("action", ""), {}
    one_key = gather.get("numDigits") == "1"
    if one_key != (answer.kind in ("menu key", "submit")):
        raise CallFailed(f"{answer.node}: asked {'a key' if one_key else 'a number'} instead")
    reported = digits[:1] if one_key else digits.removesuffix("#")
    return gather.get("action", ""), {"Digits": reported, "FinishedOnKey": "" if one_key else "#"}


@dataclass(frozen=True)
class Webhook:
    """One request of the call, as Twilio posts it."""

    kind: str  # the step type: dial-in, the answer's kind (licence_call.Answer.kind), status
    node: str  # the flow node answered ("start" for the dial-in, "status" for the callback)
    index: int  # the answer's place in the walk; -1 for the dial-in, len(walk) for the status
    path: str
    form: dict[str, str]
    answer: Answer | None = None  # None for the dial-in and the status callback


def signed_headers(validator, url: str, form: dict[str, str]) -> dict[str, str]:
    """The headers Twilio sends with `form` posted to `url` (a twilio RequestValidator signs)."""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": validator.compute_signature(url, form),
    }


class TwilioCall:
    """A whole call from `caller` for the 5-digit `vessel`: the dial-in, one webhook per answer of
    `answers` and the status callback when it has ended. `next` is the webhook to post (None when
    the call is over); `answered(status, body)` checks the answer to it and moves on, raising
    CallFailed when the call goes another way than the walk."""

    def __init__(self, caller: str, vessel: str, answers: Sequence[Answer] = NEW_LICENCE) -> None:
        self._walk = self._webhooks(caller, vessel, tuple(answers))
        self.next: Webhook | None = next(self._walk)

    def answered(self, status: int, body: bytes) -> Webhook | None:
        try:
            self.next = self._walk.send((status, body))
        except StopIteration:
            self.next = None
        return self.next

    @staticmethod
    def _webhooks(
        caller: str, vessel: str, answers: tuple[Answer, ...]
    ) -> Generator[Webhook, tuple[int, bytes], None]:
        sid = "CA" + uuid.uuid4().hex
        dial_in = twilio_form(sid, caller, "ringing")
        response = yield Webhook("dial-in", "start", -1, "/twilio/voice", dial_in)
        twiml = parse_twiml(*response, "dial-in")
        for index, answer in enumerate(answers):
            path, fields = answer_request(twiml, answer, vessel)
            form = {**twilio_form(sid, caller), **fields}
            response = yield Webhook(answer.kind, answer.node, index, path, form, answer)
            twiml = parse_twiml(*response, answer.node)
            last = index == len(answers) - 1
            if (twiml.find("Hangup") is not None) != last:
                what = "no hang-up" if last else "an early hang-up"
                raise CallFailed(f"{answer.node}: {what}: {heard(twiml)}")
        ended = {**twilio_form(sid, caller, "completed"), "CallDuration": "240"}
        status, _ = yield Webhook("status", "status", len(answers), "/twilio/voice/status", ended)
        if status != 204:
            raise CallFailed(f"status: HTTP {status}")


def post_webhook(
    port: int, webhook: Webhook, validator, timeout: float = TWILIO_TIMEOUT
) -> tuple[int, bytes, float]:
    """Post `webhook` signed to 127.0.0.1:`port` on a connection of its own, closed after the
    answer, as nginx does: (status, body, seconds from connecting to the answer's last byte)."""
    url = f"http://{HOST}:{port}{webhook.path}"
    body = urllib.parse.urlencode(webhook.form)
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        started = time.perf_counter()  # the connect happens in request(), as nginx's does
        connection.request("POST", webhook.path, body, signed_headers(validator, url, webhook.form))
        response = connection.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - started
    finally:
        connection.close()
