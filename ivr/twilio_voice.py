"""The Twilio front end: webhooks in, TwiML out, the flow engine in between.

Twilio retries a webhook that timed out, so every action URL carries the call's step number
(`seq`). A request for the step already answered gets the same TwiML again instead of moving the
call on twice; a stale one gets the current prompt. A step whose database connection turned out
to be dead (a restart) runs again on a new one rather than cutting the caller off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from intake.runtime import Runtime
from ivr import engine
from ivr.audio_lookup import web_audio_url
from ivr.call_service import CallService
from ivr.models import IvrCall, Recording
from ivr.prompts import part_keys
from ivr.speech import Playback, text_of
from plumbing.db import retry_if_disconnected
from plumbing.twilio_signature import require_twilio_signature
from plumbing.webhook_form import (
    DB_INT_MAX,
    Number,
    Text,
    checked_webhook,
    column_length,
    webhook_values,
)

# What Twilio sends that we read, checked before any database work (plumbing.webhook_form).
# Twilio's ids have fixed shapes; lengths never exceed the column the value is stored in.
CALL_SID = Text(
    "CallSid",
    column_length(IvrCall.__table__.c.provider_call_id),
    pattern=r"CA[0-9a-f]{32}",
    required=True,
)
CALLER = Text("From", column_length(IvrCall.__table__.c.caller_raw))
STEP_NUMBER = Number("seq", 0, DB_INT_MAX, in_query=True)
STEP_FIELDS = (
    CALL_SID,
    STEP_NUMBER,
    Text("record", 1, pattern="[01]", in_query=True),
    Text("Digits", 40, pattern=r"[0-9*#]*"),
    Text(
        "RecordingSid", column_length(Recording.__table__.c.provider_ref), pattern=r"RE[0-9a-f]{32}"
    ),
    Text(
        "RecordingUrl", column_length(Recording.__table__.c.provider_url), pattern=r"https://[!-~]+"
    ),
    # -1 and 0 mean "nothing recorded" (the question is asked again), never a refusal.
    Number("RecordingDuration", -1, 86_400, integer=False),
)
# Twilio ends a call after 24 hours at most.
STATUS_FIELDS = (
    CALL_SID,
    Text("CallStatus", column_length(IvrCall.__table__.c.end_reason), pattern="[a-z-]+"),
    Number("CallDuration", 0, 86_400),
)
DIAL_FIELDS = (CALL_SID, STEP_NUMBER, Text("DialCallStatus", 32, pattern="[a-z-]+"))

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")


def _runtime() -> Runtime:
    return current_app.extensions["tongdai"]


def _twiml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


@blueprint.post("")
@require_twilio_signature
@checked_webhook(CALL_SID, CALLER)
@retry_if_disconnected
def incoming() -> Response:
    runtime = _runtime()
    service = CallService(runtime)
    with runtime.sessions() as session, session.begin():
        call, created = service.open_call(
            session, "twilio", webhook_values()["CallSid"], webhook_values()["From"]
        )
        if not created and call.last_response:
            return _twiml(call.last_response)  # Twilio retried the first webhook
        return _twiml(_advance(service, session, call, engine.Start()))


@blueprint.post("/step")
@require_twilio_signature
@checked_webhook(*STEP_FIELDS)
@retry_if_disconnected
def step() -> Response:
    with _this_call() as (service, session, call):
        if call is None:
            return _twiml(_hangup_twiml())
        values = webhook_values()
        seq = values["seq"]
        if seq != call.seq:
            log.info("call %d: replaying step %s (now at %d)", call.id, seq, call.seq)
            return _twiml(call.last_response)
        if "RecordingSid" in request.form or values["record"] == "1":
            event = _recorded(service, session, call)
        else:
            event = engine.Keys(values["Digits"] or "")
        return _twiml(_advance(service, session, call, event))


@blueprint.post("/dial")
@require_twilio_signature
@checked_webhook(*DIAL_FIELDS)
@retry_if_disconnected
def dial_done() -> Response:
    with _this_call() as (service, session, call):
        values = webhook_values()
        if call is None or values["seq"] != call.seq:
            return _twiml(call.last_response if call else _hangup_twiml())
        dial_status = values["DialCallStatus"]
        if dial_status in ("completed", "answered"):
            call.outcome = "operator"
            return _twiml(_hangup_twiml())
        reason = "busy" if dial_status == "busy" else "no_answer"  # no-answer, failed, canceled
        return _twiml(_advance(service, session, call, engine.TransferFailed(reason)))


@blueprint.post("/status")
@require_twilio_signature
@checked_webhook(*STATUS_FIELDS)
@retry_if_disconnected
def status() -> Response:
    with _this_call() as (service, session, call):
        values = webhook_values()
        if call is not None and values["CallStatus"] in (
            "completed",
            "busy",
            "failed",
            "no-answer",
            "canceled",
        ):
            service.ended(session, call, values["CallStatus"], values["CallDuration"])
    return Response(status=204)


def _hangup_twiml() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


@contextmanager
def _this_call() -> Iterator[tuple[CallService, Session, IvrCall | None]]:
    """One transaction for this webhook, with its call row (None if unknown) locked."""
    runtime = _runtime()
    service = CallService(runtime)
    with runtime.sessions() as session, session.begin():
        yield (
            service,
            session,
            service.lock_provider_call(session, "twilio", webhook_values()["CallSid"]),
        )


def _recorded(service: CallService, session, call: IvrCall) -> engine.Event:
    values = webhook_values()
    seconds = float(values["RecordingDuration"] or 0)
    if not values["RecordingSid"] or seconds < 1:
        return engine.Recorded("", 0.0)
    recording = service.add_recording(
        session,
        call,
        provider_ref=values["RecordingSid"],
        provider_url=values["RecordingUrl"] or "",
        seconds=seconds,
    )
    return engine.Recorded(str(recording.id), seconds)


def _advance(service: CallService, session, call: IvrCall, event: engine.Event) -> str:
    actions = service.handle(session, call, event)
    call.seq += 1
    call.last_response = render(actions, call.seq, service)
    return call.last_response


def _say_or_play(target, parts, service: CallService) -> None:
    """The caller's own recordings played from Twilio; around them, our prompts."""
    run: list = []
    for part in (*parts, None):
        if part is None or isinstance(part, Playback):
            if run:
                _say_or_play_prompts(target, tuple(run), service)
                run = []
            if part is not None and part.location:
                target.play(part.location)
        else:
            run.append(part)


def _say_or_play_prompts(target, parts, service: CallService) -> None:
    """A human or built recording for every part when we have one, else Twilio's vi-VN voice."""
    keys = part_keys(parts)
    urls = [web_audio_url(service.settings, key) for key in keys]
    if keys and all(urls):
        for url in urls:
            target.play(url)
        return
    text = text_of(parts, _prompt_texts(service))
    if text:
        target.say(text, language="vi-VN", voice=service.settings.ivr.twilio_voice)


def _prompt_texts(service: CallService) -> dict[str, str]:
    """Built once per settings object, not for every prompt of every webhook."""
    from ivr.prompts import prompt_catalogue

    cached = _CATALOGUES.get(id(service.settings))
    if cached is None or cached[0] is not service.settings:
        cached = (service.settings, prompt_catalogue(service.settings))
        _CATALOGUES[id(service.settings)] = cached
    return cached[1]


_CATALOGUES: dict[int, tuple[object, dict[str, str]]] = {}


def render(actions: list[engine.Action], seq: int, service: CallService) -> str:
    """TwiML for the telephony actions, built only with twilio's VoiceResponse."""
    response = VoiceResponse()
    step_url = url_for("twilio_voice.step", seq=seq)
    for action in actions:
        if isinstance(action, engine.Play) and action.gather is not None:
            gather = action.gather
            options = {"finish_on_key": "#"} if gather.finish_on_hash else {"num_digits": 1}
            node = response.gather(
                action=step_url,
                method="POST",
                input="dtmf",
                timeout=gather.timeout,
                action_on_empty_result=True,
                **options,
            )
            _say_or_play(node, action.parts, service)
        elif isinstance(action, engine.Play):
            _say_or_play(response, action.parts, service)
        elif isinstance(action, engine.RecordAnswer):
            _say_or_play(response, action.parts, service)
            response.record(
                action=step_url,
                method="POST",
                max_length=action.max_seconds,
                play_beep=True,
                finish_on_key="#",
                timeout=5,
                trim="trim-silence",
            )
            # Twilio skips the action when nothing was said; come back to retry the question.
            response.redirect(url_for("twilio_voice.step", seq=seq, record=1), method="POST")
        elif isinstance(action, engine.Connect):
            _say_or_play(response, action.parts, service)
            dial = response.dial(
                action=url_for("twilio_voice.dial_done", seq=seq), method="POST", timeout=25
            )
            dial.number(action.number)
        elif isinstance(action, engine.Hangup):
            _say_or_play(response, action.parts, service)
            response.hangup()
    return str(response)
