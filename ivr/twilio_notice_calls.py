"""Notice calls through Twilio: the outbound call (REST `Calls`), its TwiML and its status.

`TwilioNoticeCaller.place` asks Twilio to ring the citizen from the centre's hotline; Twilio
fetches the TwiML from our signed webhook `POST /twilio/notice?call=<id>&attempt=<n>` when the
citizen answers, sends each key to `/twilio/notice/key`, and reports how the call ended to
`/twilio/notice/status` (busy, no answer, failed: the attempt's outcome). The flow is
ivr/notice_flow.py, the words ivr/notice_voice.py; typed text is said with <Say> (the speech
fallback), recorded pieces played when built.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, url_for
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.twiml.voice_response import VoiceResponse

from intake.office_hours import office_open
from intake.runtime import Runtime
from ivr import notice_flow
from ivr.audio_lookup import web_audio_url
from ivr.notice_calls import (
    NoticeCallError,
    PlacedCall,
    notice_script,
    record_outcome,
    settle_answered,
)
from ivr.notice_voice import Typed
from ivr.prompts import part_keys, prompt_catalogue
from ivr.speech import text_of
from plumbing.db import retry_if_disconnected
from plumbing.settings import Settings
from plumbing.twilio_client import rest_client
from plumbing.twilio_signature import require_twilio_signature
from plumbing.webhook_form import DB_INT_MAX, Number, Text, checked_webhook, webhook_values
from sms.models import NoticeCallOutcome

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio_notice", __name__, url_prefix="/twilio/notice")
CALL = Number("call", 1, DB_INT_MAX, in_query=True)
ATTEMPT = Number("attempt", 1, 1000, in_query=True)
REPEATS = Number("repeats", 0, 10, in_query=True)
CALL_SID = Text("CallSid", 64, pattern=r"CA[0-9a-f]{32}", required=True)
# Twilio's CallStatus values that end an attempt without the citizen answering.
UNANSWERED = {
    "busy": NoticeCallOutcome.BUSY,
    "no-answer": NoticeCallOutcome.NO_ANSWER,
    "failed": NoticeCallOutcome.FAILED,
    "canceled": NoticeCallOutcome.FAILED,
}


class TwilioNoticeCaller:
    """Places notice calls with Twilio's Calls API (2010-04-01)."""

    def __init__(
        self,
        settings: Settings,
        account_sid: str,
        auth_token: str,
        *,
        public_url: str,
        http_client: HttpClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.client = rest_client(account_sid, auth_token, http_client, timeout)
        self.base = public_url.rstrip("/")

    def place(self, call: PlacedCall) -> str:
        query = f"call={call.call_id}&attempt={call.attempt}"
        try:
            created = self.client.calls.create(
                to=call.phone,
                from_=_e164(call.caller_id),
                url=f"{self.base}/twilio/notice?{query}",
                method="POST",
                status_callback=f"{self.base}/twilio/notice/status?{query}",
                # No StatusCallbackEvent: Twilio then reports only "completed" (with the final
                # CallStatus: completed, busy, no-answer, failed, canceled), all we need.
                status_callback_method="POST",
                timeout=self.settings.notice_calls.ring_seconds,
            )
        except TwilioRestException as exc:
            raise NoticeCallError(f"Twilio từ chối cuộc gọi ({exc.code or exc.status})") from exc
        except (TwilioException, OSError) as exc:
            raise NoticeCallError(f"không gọi được Twilio ({exc})") from exc
        return str(created.sid)


def _e164(number: str) -> str:
    """02553822222 -> +842553822222 (Twilio wants E.164)."""
    return "+84" + number[1:] if number.startswith("0") else number


def _runtime() -> Runtime:
    return current_app.extensions["tongdai"]


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@blueprint.post("")
@require_twilio_signature
@checked_webhook(CALL_SID, CALL, ATTEMPT)
@retry_if_disconnected
def answered() -> Response:
    """The citizen answered: the notice and the menu."""
    values = webhook_values()
    runtime = _runtime()
    with runtime.sessions() as session:
        script = notice_script(session, runtime.settings, values["call"])
    if script is None:
        response = VoiceResponse()
        response.hangup()
        return _twiml(response)
    actions, state = notice_flow.start(script)
    return _twiml(_perform(runtime, values["call"], values["attempt"], actions, state))


@blueprint.post("/key")
@require_twilio_signature
@checked_webhook(CALL_SID, CALL, ATTEMPT, REPEATS, Text("Digits", 4, pattern=r"[0-9*#]*"))
@retry_if_disconnected
def key() -> Response:
    values = webhook_values()
    runtime = _runtime()
    with runtime.sessions() as session:
        script = notice_script(session, runtime.settings, values["call"]) or ()
    is_open = office_open(runtime.settings, runtime.calendar(), runtime.clock.now())
    state = {"repeats": values["repeats"] or 0}
    actions, state = notice_flow.step(state, (values["Digits"] or "")[:1] or None, script, is_open)
    return _twiml(_perform(runtime, values["call"], values["attempt"], actions, state))


@blueprint.post("/status")
@require_twilio_signature
@checked_webhook(CALL_SID, CALL, ATTEMPT, Text("CallStatus", 16, pattern="[a-z-]+"))
@retry_if_disconnected
def status() -> Response:
    """How the attempt ended; an answered call was settled by its own webhooks already."""
    values = webhook_values()
    outcome = UNANSWERED.get(values["CallStatus"] or "")
    if outcome is not None:
        runtime = _runtime()
        with runtime.sessions() as session, session.begin():
            record_outcome(session, runtime.settings, runtime.calendar(), values["call"], outcome,
                           runtime.clock.now(), attempt=values["attempt"],
                           detail=f"Twilio: {values['CallStatus']}")  # fmt: skip
    return Response(status=204)


def _perform(runtime: Runtime, call_id: int, attempt: int, actions, state) -> VoiceResponse:
    response = VoiceResponse()
    settings = runtime.settings
    for action in actions:
        if isinstance(action, notice_flow.Settle):
            with runtime.sessions() as session, session.begin():
                settle_answered(session, settings, runtime.calendar(), call_id, action.outcome,
                                runtime.clock.now(), callback=action.callback)  # fmt: skip
        elif isinstance(action, notice_flow.Say) and action.listen:
            gather = response.gather(
                action=url_for("twilio_notice.key", call=call_id, attempt=attempt,
                               repeats=state["repeats"]),
                method="POST", input="dtmf", num_digits=1, timeout=6,
                action_on_empty_result=True,
            )  # fmt: skip
            _say(gather, action.parts, settings)
        elif isinstance(action, notice_flow.Say):
            _say(response, action.parts, settings)
        elif isinstance(action, notice_flow.Transfer):
            response.dial(timeout=25).number(settings.ivr.operator_number)
        elif isinstance(action, notice_flow.HangUp):
            response.hangup()
    return response


def _say(target, parts, settings: Settings) -> None:
    """Recorded pieces where built, else Twilio's vi-VN voice; typed text always by voice."""
    catalogue = prompt_catalogue(settings)
    run: list = []

    def flush() -> None:
        if not run:
            return
        keys = part_keys(tuple(run))
        urls = [web_audio_url(settings, key) for key in keys]
        if keys and all(urls):
            for url in urls:
                target.play(url)
        else:
            target.say(text_of(tuple(run), catalogue), language="vi-VN",
                       voice=settings.ivr.twilio_voice)  # fmt: skip
        run.clear()

    for part in parts:
        if isinstance(part, Typed):
            flush()
            target.say(part.text, language="vi-VN", voice=settings.ivr.twilio_voice)
        else:
            run.append(part)
    flush()
