"""The notice call's own small flow, pure like ivr/engine.py: `(state, event) -> (actions, state)`.

The citizen answered: they hear who is calling and the notice, then "1 to hear it again, 2 to
confirm, 0 for staff". 2 confirms; 0 puts them through to staff in office hours, otherwise
leaves a call-back request; silence or a wrong key repeats the notice once, then the call ends
(answered, not confirmed). The call never asks for an ID number or a payment: it only listens
for 1, 2 and 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ivr.notice_voice import NoticePart
from ivr.speech import Prompt
from sms.models import NoticeCallOutcome

MENU_KEYS = "120"
REPEATS = 1  # how many times silence or a wrong key hears the notice again


@dataclass(frozen=True)
class Say:
    parts: tuple[NoticePart, ...]
    listen: bool = False  # then wait for one key of MENU_KEYS


@dataclass(frozen=True)
class Transfer:
    """To the operator desk (the front end dials it)."""


@dataclass(frozen=True)
class HangUp:
    pass


@dataclass(frozen=True)
class Settle:
    """The attempt's outcome, recorded on the notice call (and a call-back request when asked)."""

    outcome: NoticeCallOutcome
    callback: bool = False


Action = Say | Transfer | HangUp | Settle


def start(notice: tuple[NoticePart, ...]) -> tuple[list[Action], dict[str, Any]]:
    """The citizen answered: the notice and the menu. Answering already counts."""
    return [Settle(NoticeCallOutcome.ANSWERED), Say(notice, listen=True)], {"repeats": 0}


def step(
    state: dict[str, Any], key: str | None, notice: tuple[NoticePart, ...], office_open: bool
) -> tuple[list[Action], dict[str, Any]]:
    """`key` is the digit pressed, or None for silence."""
    if key == "1":
        return [Say(notice, listen=True)], state
    if key == "2":
        return [Settle(NoticeCallOutcome.CONFIRMED), Say(_frame("confirmed")), HangUp()], state
    if key == "0":
        if office_open:
            return [Say(_frame("operator")), Transfer()], state
        callback = Settle(NoticeCallOutcome.ANSWERED, callback=True)
        return [callback, Say(_frame("callback")), HangUp()], state
    if state["repeats"] < REPEATS:
        return [Say(notice, listen=True)], {**state, "repeats": state["repeats"] + 1}
    return [Say(_frame("goodbye")), HangUp()], state


def _frame(name: str) -> tuple[NoticePart, ...]:
    # The frame templates have no placeholders: one recorded piece each.
    return (Prompt(f"notice_{name}_0"),)
