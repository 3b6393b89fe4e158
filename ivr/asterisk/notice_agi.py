"""A notice call over FastAGI (path /notice): the citizen answered the centre's Originate.

The dialplan context `tongdai-notice` (deploy/asterisk/extensions.conf) hands the answered call
to `agi://.../notice?call=<notice call id>`. The notice flow (ivr/notice_flow.py) decides what
is said. The notice and its menu are ONE `EXEC Read` of the recorded pieces and number words
(a key typed while it plays is never lost between two commands; ivr/asterisk/agi.py), what is
said without the menu one `EXEC Playback`. Text staff typed (`Typed`: the missing papers, a
tracking number) is a file espeak-ng synthesises before the call speaks
(ivr/asterisk/speech_files.py), played in its place as Twilio says it with <Say>; when it
cannot be made it is left out and the menu still offers staff. Staff (0 in office hours):
TONGDAI_NEXT=operator, as the intake flow's transfer.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from intake.office_hours import office_open
from intake.runtime import Runtime
from ivr import notice_flow
from ivr.asterisk.agi import AgiChannel
from ivr.asterisk.speech_files import SpeechFiles
from ivr.notice_calls import notice_script, settle_answered
from ivr.notice_voice import NoticePart
from ivr.prompts import part_keys
from ivr.speech import Typed
from plumbing.db import retry_if_disconnected

log = logging.getLogger(__name__)
NOTICE_PATH = "notice"
LISTEN_SECONDS = 6  # silence after the menu before the notice is said again


async def run_notice_call(channel: AgiChannel, runtime: Runtime, query: str) -> None:
    settings = runtime.settings
    raw = parse_qs(query).get("call", [""])[0]
    call_id = int(raw) if raw.isdigit() else None
    script = None if call_id is None else await asyncio.to_thread(_script, runtime, call_id)
    if call_id is None or script is None:
        log.warning("agi: notice call %r not found", raw)
        await channel.set_variable("TONGDAI_NEXT", "hangup")
        return
    typed = {part.text for part in script if isinstance(part, Typed)}
    speech = SpeechFiles(settings)
    spoken_as = {text: await asyncio.to_thread(speech.file_for, text) for text in typed}
    spoken = tuple(part for part in script if not isinstance(part, Typed) or spoken_as[part.text])
    actions, state = notice_flow.start(spoken)
    prefix = settings.asterisk.sounds_prefix
    while True:
        key = None
        for action in actions:
            if isinstance(action, notice_flow.Settle):
                await asyncio.to_thread(_settle, runtime, call_id, action)
            elif isinstance(action, notice_flow.Say):
                key = await _say(channel, _files(action.parts, prefix, spoken_as), action)
            elif isinstance(action, notice_flow.Transfer):
                await channel.set_variable("TONGDAI_OPERATOR_NUMBER", settings.ivr.operator_number)
                await channel.set_variable("TONGDAI_NEXT", "operator")
                return
            elif isinstance(action, notice_flow.HangUp):
                await channel.set_variable("TONGDAI_NEXT", "hangup")
                return
        is_open = office_open(settings, runtime.calendar(), runtime.clock.now())
        actions, state = notice_flow.step(state, key, spoken, is_open)


def _files(parts: tuple[NoticePart, ...], prefix: str, spoken_as: dict[str, str | None]):
    files: list[str] = []
    for part in parts:
        if isinstance(part, Typed):
            files += [spoken_as[part.text]] if spoken_as.get(part.text) else []
        else:
            files += [f"{prefix}/{key}" for key in part_keys((part,))]
    return files


async def _say(channel: AgiChannel, files: list[str], action: notice_flow.Say) -> str | None:
    """The words, and when the flow listens the key pressed (None for silence): one command."""
    if not action.listen:
        await channel.playback(files)
        return None
    return await channel.read_keys(files, max_digits=1, timeout=LISTEN_SECONDS) or None


@retry_if_disconnected
def _script(runtime: Runtime, call_id: int):
    with runtime.sessions() as session:
        return notice_script(session, runtime.settings, call_id)


@retry_if_disconnected
def _settle(runtime: Runtime, call_id: int, action: notice_flow.Settle) -> None:
    with runtime.sessions() as session, session.begin():
        settle_answered(session, runtime.settings, runtime.calendar(), call_id, action.outcome,
                        runtime.clock.now(), callback=action.callback)  # fmt: skip
