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

from ivr import engine
from ivr.audio_lookup import web_audio_url
from ivr.call_service import CallService
from ivr.models import IvrCall
from ivr.prompts import part_keys
from ivr.speech import text_of
from tongdai.db import retry_if_disconnected
from tongdai.runtime import Runtime
from tongdai.twilio_signature import require_twilio_signature

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")


def _runtime() -> Runtime:
    return current_app.extensions["tongdai"]


def _twiml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


@blueprint.post("")
@require_twilio_signature
@retry_if_disconnected
def incoming() -> Response:
    runtime = _runtime()
    service = CallService(runtime)
    with runtime.sessions() as session, session.begin():
        call, created = service.open_call(
            session, "twilio", request.form.get("CallSid", ""), request.form.get("From")
        )
        if not created and call.last_response:
            return _twiml(call.last_response)  # Twilio retried the first webhook
        return _twiml(_advance(service, session, call, engine.Start()))


@blueprint.post("/step")
@require_twilio_signature
@retry_if_disconnected
def step() -> Response:
    with _this_call() as (service, session, call):
        if call is None:
            return _twiml(_hangup_twiml())
        seq = request.args.get("seq", type=int)
        if seq != call.seq:
            log.info("call %d: replaying step %s (now at %d)", call.id, seq, call.seq)
            return _twiml(call.last_response)
        form = request.form
        if "RecordingSid" in form or request.args.get("record") == "1":
            event = _recorded(service, session, call)
        else:
            event = engine.Keys(form.get("Digits", ""))
        return _twiml(_advance(service, session, call, event))


@blueprint.post("/dial")
@require_twilio_signature
@retry_if_disconnected
def dial_done() -> Response:
    with _this_call() as (service, session, call):
        if call is None or request.args.get("seq", type=int) != call.seq:
            return _twiml(call.last_response if call else _hangup_twiml())
        if request.form.get("DialCallStatus") == "completed":
            call.outcome = "operator"
            return _twiml(_hangup_twiml())
        return _twiml(_advance(service, session, call, engine.TransferFailed()))


@blueprint.post("/status")
@require_twilio_signature
@retry_if_disconnected
def status() -> Response:
    with _this_call() as (service, session, call):
        if call is not None and request.form.get("CallStatus") in (
            "completed",
            "busy",
            "failed",
            "no-answer",
            "canceled",
        ):
            duration = request.form.get("CallDuration", type=int)
            service.ended(session, call, request.form["CallStatus"], duration)
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
            service.lock_call(
                session,
                IvrCall.provider == "twilio",
                IvrCall.provider_call_id == request.form.get("CallSid", ""),
            ),
        )


def _recorded(service: CallService, session, call: IvrCall) -> engine.Event:
    form = request.form
    seconds = float(form.get("RecordingDuration") or 0)
    if not form.get("RecordingSid") or seconds < 1:
        return engine.Recorded("", 0.0)
    recording = service.add_recording(
        session,
        call,
        provider_ref=form["RecordingSid"],
        provider_url=form.get("RecordingUrl", ""),
        seconds=seconds,
    )
    return engine.Recorded(str(recording.id), seconds)


def _advance(service: CallService, session, call: IvrCall, event: engine.Event) -> str:
    actions = service.handle(session, call, event)
    call.seq += 1
    call.last_response = render(actions, call.seq, service)
    return call.last_response


def _say_or_play(target, parts, service: CallService) -> None:
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
