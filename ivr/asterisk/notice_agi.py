"""A notice call over FastAGI (path /notice): the citizen answered the centre's Originate.

The dialplan context `tongdai-notice` (deploy/asterisk/extensions.conf) hands the answered call
to `agi://.../notice?call=<notice call id>`. The notice flow (ivr/notice_flow.py) decides what
is said; prompts are STREAM FILE of the recorded pieces and number words, every menu key an
escape digit. Typed text (ivr/notice_voice.py `Typed`) has no speech fallback on Asterisk and is
left out. Staff (0 in office hours): TONGDAI_NEXT=operator, as the intake flow's transfer.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from intake.office_hours import office_open
from intake.runtime import Runtime
from ivr import notice_flow
from ivr.asterisk.agi import AgiChannel
from ivr.notice_calls import notice_script, settle_answered
from ivr.prompts import part_keys
from ivr.speech import Prompt, Words
from plumbing.db import retry_if_disconnected

log = logging.getLogger(__name__)
NOTICE_PATH = "notice"
LISTEN_MS = 6000  # silence after the menu before the notice is said again


async def run_notice_call(channel: AgiChannel, runtime: Runtime, query: str) -> None:
    settings = runtime.settings
    raw = parse_qs(query).get("call", [""])[0]
    call_id = int(raw) if raw.isdigit() else None
    script = None if call_id is None else await asyncio.to_thread(_script, runtime, call_id)
    if call_id is None or script is None:
        log.warning("agi: notice call %r not found", raw)
        await channel.set_variable("TONGDAI_NEXT", "hangup")
        return
    spoken = tuple(part for part in script if isinstance(part, Prompt | Words))
    actions, state = notice_flow.start(spoken)
    prefix = settings.asterisk.sounds_prefix
    while True:
        key = None
        for action in actions:
            if isinstance(action, notice_flow.Settle):
                await asyncio.to_thread(_settle, runtime, call_id, action)
            elif isinstance(action, notice_flow.Say):
                key = await _say(channel, prefix, action)
            elif isinstance(action, notice_flow.Transfer):
                await channel.set_variable("TONGDAI_OPERATOR_NUMBER", settings.ivr.operator_number)
                await channel.set_variable("TONGDAI_NEXT", "operator")
                return
            elif isinstance(action, notice_flow.HangUp):
                await channel.set_variable("TONGDAI_NEXT", "hangup")
                return
        is_open = office_open(settings, runtime.calendar(), runtime.clock.now())
        actions, state = notice_flow.step(state, key, spoken, is_open)


async def _say(channel: AgiChannel, prefix: str, action: notice_flow.Say) -> str | None:
    escape = notice_flow.MENU_KEYS if action.listen else ""
    for key in part_keys(tuple(p for p in action.parts if isinstance(p, Prompt | Words))):
        reply = await channel.stream_file(f"{prefix}/{key}", escape)
        if reply.result == -1:
            log.warning("agi: prompt %s could not be played (missing sound file?)", key)
        if reply.digit:
            return reply.digit
    if not action.listen:
        return None
    return await channel.wait_for_digit(LISTEN_MS) or None


@retry_if_disconnected
def _script(runtime: Runtime, call_id: int):
    with runtime.sessions() as session:
        return notice_script(session, runtime.settings, call_id)


@retry_if_disconnected
def _settle(runtime: Runtime, call_id: int, action: notice_flow.Settle) -> None:
    with runtime.sessions() as session, session.begin():
        settle_answered(session, runtime.settings, runtime.calendar(), call_id, action.outcome,
                        runtime.clock.now(), callback=action.callback)  # fmt: skip
