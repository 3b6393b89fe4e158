"""The flow engine: pure, (state, event) -> (actions, new state).

It knows nothing of Twilio, Asterisk, Flask or the database. Front ends turn its telephony
actions (Play, Gather, RecordAnswer, Connect, Hangup) into TwiML or AGI commands; the call service
applies its domain effects (Save, Discard, Ask) and answers every Ask with an Outcome event.

Input rules, the same on every front end:
- `*` repeats the prompt (not counted as a failure);
- `0` at any menu without a choice 0, or `0#` alone at any number (no valid number is a lone 0),
  asks for a person (flow.OPERATOR), keeping every answer; RETURN later leads back there;
- silence repeats the prompt; a wrong key explains what is expected and repeats it;
- after `max_failures` failures in a row the call ends politely and a callback is requested.

Separately, `state["tallies"]` counts outcomes a Decide node marks (`Decide.tally`) for the whole
call: failed citizen-id checks of the status look-up, which going back to the main menu or
starting an application over must not forget.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intake.birth_date import is_adult_birth_date
from intake.digits import is_digits
from intake.phone import is_mobile
from ivr.flow import (
    NEXT,
    NODES,
    OPERATOR,
    RERECORD,
    RETURN,
    Decide,
    Digits,
    End,
    Linger,
    Menu,
    Node,
    Pick,
    PromptSpec,
    Record,
    Say,
    Transfer,
    editable_questions,
    next_question,
)
from ivr.speech import Part, Prompt

# ---- events (what happened) ------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Keys:
    """What the caller typed for the current prompt; "" means silence (timeout)."""

    digits: str


@dataclass(frozen=True)
class Recorded:
    """A spoken answer was recorded (`recording` is our id for it); seconds of audio."""

    recording: str
    seconds: float


@dataclass(frozen=True)
class Outcome:
    """The call service's answer to an Ask, with any values the flow needs next."""

    value: str
    data: Mapping[str, Any] = field(default_factory=dict)  # JSON values the prompts read
    answers: Mapping[str, Any] | None = None  # a resumed draft's answers replace the call's


@dataclass(frozen=True)
class TransferFailed:
    """Nobody took the transfer: `busy` (the line was busy) or `no_answer` (rang out, or could
    not be reached); the call-back request records which."""

    reason: str = "no_answer"


Event = Start | Keys | Recorded | Outcome | TransferFailed

# ---- actions (what to do) --------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    """Say the parts; with `gather`, keys pressed during the prompt are taken at once."""

    parts: tuple[Part, ...]
    gather: Gather | None = None


@dataclass(frozen=True)
class Gather:
    max_digits: int  # 1 for a menu
    finish_on_hash: bool  # numbers end with `#`
    timeout: int


@dataclass(frozen=True)
class RecordAnswer:
    parts: tuple[Part, ...]
    max_seconds: int


@dataclass(frozen=True)
class Connect:
    parts: tuple[Part, ...]
    number: str


@dataclass(frozen=True)
class Hangup:
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Save:
    """Persist one answer now (a dropped call must lose nothing)."""

    key: str
    value: Any


@dataclass(frozen=True)
class Discard:
    """Forget the unfinished application (the caller chose to start again)."""

    offered_draft: int | None = None  # the draft offered for resume, if that is the one


@dataclass(frozen=True)
class Ask:
    """A question for the call service; the engine waits for its Outcome."""

    question: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """Too many failures: the service records a callback request."""

    node: str


Action = Play | RecordAnswer | Connect | Hangup | Save | Discard | Ask | Failed
TELEPHONY = (Play, RecordAnswer, Connect, Hangup)


@dataclass(frozen=True)
class Context:
    """Fixed facts of a call the flow reads (from settings and the caller id)."""

    home_province: str
    caller_national: str | None  # the caller's mobile as read back, or None
    max_failures: int = 3
    timeout: int = 6
    record_max_seconds: int = 30
    operator_number: str = ""
    fees: Mapping[str, int] = field(default_factory=dict)  # "procedure:variant" -> fee
    hotline: str = ""  # national digits, read at the end of an application
    # Each procedure's configurable questions ([procedures.*] phone_questions).
    phone_questions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    today: dt.date | None = None  # the local day, for the date of birth's age check


def new_state() -> dict[str, Any]:
    """A call before its first event. Plain JSON, so it can live in a database column."""
    return {"node": "start", "failures": 0, "answers": {}, "scratch": {}, "done": False,
            "tallies": {}}  # fmt: skip


VALIDATORS: Mapping[str, Callable[[str], bool]] = {"mobile": is_mobile}
# Checks that also need the local day: (typed digits, today) -> acceptable.
DATED_VALIDATORS: Mapping[str, Callable[[str, dt.date], bool]] = {"birth_date": is_adult_birth_date}


def _acceptable(check: str, typed: str, context: Context) -> bool:
    if check in DATED_VALIDATORS:
        return context.today is not None and DATED_VALIDATORS[check](typed, context.today)
    return VALIDATORS[check](typed)


def _commit(name: str, state: dict, context: Context) -> tuple[str, Any]:
    scratch = state["scratch"]
    if name == "vessel":
        return "vessel", f"{context.home_province}:{scratch['vessel_digits']}"
    if name == "vessel_other_province":
        return "vessel", f":{scratch['vessel_digits']}"  # province told by voice, staff complete it
    if name == "citizen_id":
        return "citizen_id", scratch["citizen_id_digits"]
    if name == "date_of_birth":
        return "date_of_birth", scratch["birth_date_digits"]
    if name == "notify_phone_own":
        return "notify_phone", context.caller_national
    if name == "notify_phone":
        return "notify_phone", scratch["phone_digits"]
    raise KeyError(name)


def _view(state: dict, context: Context) -> dict[str, Any]:
    answers = state["answers"]
    fee_key = f"{answers.get('procedure')}:{answers.get('variant') or 'new'}"
    return {
        **state["scratch"],
        "answers": answers,
        "home_province": context.home_province,
        "caller_national": context.caller_national,
        "fee_vnd": context.fees.get(fee_key, 0),
        "hotline": context.hotline,
        "phone_questions": context.phone_questions,
    }


def prompt_parts(spec: PromptSpec, state: dict, context: Context) -> tuple[Part, ...]:
    return spec(_view(state, context)) if callable(spec) else spec


def _copy_state(value: Any) -> Any:
    """A deep copy of a call state. The state is JSON (it lives in a JSON column): dicts and
    lists of strings, numbers, booleans and None, which this copies several times faster than
    `copy.deepcopy` (its memo and dispatch were a fair share of every step's CPU). Anything
    else, which a state should never hold, still gets `copy.deepcopy`."""
    kind = type(value)
    if kind is dict:
        return {key: _copy_state(item) for key, item in value.items()}
    if kind is list:
        return [_copy_state(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def step(state: dict, event: Event, context: Context) -> tuple[list[Action], dict]:
    """Advance the call by one event. Never mutates `state`; returns actions and the new state."""
    state = _copy_state(state)
    if state["done"]:
        return [], state
    node = NODES[state["node"]]
    if isinstance(event, Start):
        return _enter(state, state["node"], context, [])
    if isinstance(node, Menu) and isinstance(event, Keys):
        return _menu_input(state, node, event.digits, context)
    if isinstance(node, Digits) and isinstance(event, Keys):
        return _digits_input(state, node, event.digits, context)
    if isinstance(node, Record) and isinstance(event, Recorded):
        if event.seconds < 1:
            return _failure(state, node, "no_recording", context)
        effects: list[Action] = [Save(node.answer, event.recording)]
        state["answers"][node.answer] = event.recording
        if node.review:
            state["scratch"].update(review_answer=node.answer, review_record=node.name)
            return _go(state, "review", context, effects)
        return _go(state, node.target, context, effects)
    if isinstance(node, Record) and isinstance(event, Keys):
        return _failure(state, node, "no_recording", context)
    if isinstance(node, Decide) and isinstance(event, Outcome):
        if event.value in node.tally:
            tallies = state.setdefault("tallies", {})
            counter = node.tally[event.value]
            tallies[counter] = tallies.get(counter, 0) + 1
        state["scratch"].update(event.data)
        if event.answers is not None:
            state["answers"] = dict(event.answers)
        return _go(state, node.outcomes[event.value], context, [])
    if isinstance(node, Pick) and isinstance(event, Keys):
        return _pick_input(state, node, event.digits, context)
    if isinstance(node, Linger) and isinstance(event, Keys):
        return _linger_input(state, node, event.digits, context)
    if isinstance(node, Transfer) and isinstance(event, TransferFailed):
        state["scratch"]["operator_reason"] = event.reason
        return _go(state, node.target, context, [])
    # An event that does not fit the node (a late webhook, say): repeat where we are.
    return _enter(state, state["node"], context, [])


def _menu_input(state, node: Menu, digits: str, context) -> tuple[list[Action], dict]:
    key = digits[:1]
    if key == "*":
        return _enter(state, node.name, context, [], keep_failures=True)
    if key == "":
        return _failure(state, node, "no_input", context)
    choice = node.options.get(key)
    if choice is None and key == "0":
        return _to_operator(state, node, context)
    if choice is None:
        return _failure(state, node, "invalid_choice", context)
    if choice.target == OPERATOR:
        return _to_operator(state, node, context)
    effects: list[Action] = []
    for name in choice.commit:
        answer, value = _commit(name, state, context)
        state["answers"][answer] = value
        effects.append(Save(answer, value))
    for answer, value in choice.set.items():
        if answer == "_discard_draft":
            effects.append(Discard(state["scratch"].get("resume_draft_id")))
            state["answers"] = {}
            state["scratch"] = {}
            continue
        state["answers"][answer] = value
        effects.append(Save(answer, value))
    return _go(state, choice.target, context, effects)


def _digits_input(state, node: Digits, digits: str, context) -> tuple[list[Action], dict]:
    if "*" in digits:
        return _enter(state, node.name, context, [], keep_failures=True)
    typed = digits.rstrip("#")
    if typed == "0":
        return _to_operator(state, node, context)
    if digits == "" and 0 not in node.lengths:
        return _failure(state, node, "no_input", context)
    valid = is_digits(typed) or (typed == "" and 0 in node.lengths)
    if not valid or len(typed) not in node.lengths:
        return _failure(state, node, node.invalid, context)
    if node.check and not _acceptable(node.check, typed, context):
        return _failure(state, node, node.invalid, context)
    state["scratch"][node.scratch] = typed
    return _go(state, node.target, context, [])


def _pick_input(state, node: Pick, digits: str, context) -> tuple[list[Action], dict]:
    key = digits[:1]
    if key == "*":
        return _enter(state, node.name, context, [], keep_failures=True)
    if key == "":
        return _failure(state, node, "no_input", context)
    if key == "0":
        return _to_operator(state, node, context)
    questions = editable_questions(state["answers"], context.phone_questions)
    if not key.isdigit() or not 1 <= int(key) <= len(questions):
        return _failure(state, node, "invalid_choice", context)
    question = questions[int(key) - 1]
    # Forgotten here, asked again, saved over the old answer; until then a dropped call resumes
    # at the summary with the old one (the draft still has it).
    for answer in (question.answer, *question.clears, "confirmed"):
        state["answers"].pop(answer, None)
    return _go(state, question.node, context, [])


def _linger_input(state, node: Linger, digits: str, context) -> tuple[list[Action], dict]:
    if digits[:1] != "*" or state["failures"] + 1 >= context.max_failures:
        return _go(state, node.target, context, [])
    state["failures"] += 1  # a few repeats, then goodbye: the line is not held forever
    gather = Gather(1, False, context.timeout)
    return [Play(prompt_parts(node.again, state, context), gather)], state


def _to_operator(state, node: Node, context) -> tuple[list[Action], dict]:
    """A person, from wherever the caller is; the first place asked from is where RETURN leads
    (asking again from the unanswered-transfer menu must not make that menu the way back)."""
    state["scratch"].setdefault("return_to", node.name)
    return _go(state, OPERATOR, context, [])


def _failure(state, node: Node, explanation: str, context) -> tuple[list[Action], dict]:
    state["failures"] += 1
    if state["failures"] >= context.max_failures:
        return _go(state, "failed", context, [Failed(node.name)])
    return _enter(state, node.name, context, [], keep_failures=True, before=(Prompt(explanation),))


def _go(state, target: str, context, effects: list[Action]) -> tuple[list[Action], dict]:
    if target == NEXT:
        target = next_question(state["answers"], context.phone_questions)
    elif target == RETURN:
        target = state["scratch"].pop("return_to", None) or "main_menu"
    elif target == RERECORD:
        target = state["scratch"]["review_record"]
    return _enter(state, target, context, effects)


def _enter(
    state,
    name: str,
    context: Context,
    effects: list[Action],
    *,
    keep_failures: bool = False,
    before: tuple[Part, ...] = (),
) -> tuple[list[Action], dict]:
    """Arrive at node `name` and say what it says; chains through nodes that need no caller."""
    if not keep_failures and name != state["node"]:
        state["failures"] = 0
    state["node"] = name
    node = NODES[name]
    parts = before + (prompt_parts(node.prompt, state, context) if hasattr(node, "prompt") else ())
    if isinstance(node, Menu | Pick | Linger):
        gather = Gather(1, False, context.timeout)
        return [*effects, Play(parts, gather)], state
    if isinstance(node, Digits):
        gather = Gather(max(node.lengths) + 1, True, context.timeout)
        return [*effects, Play(parts, gather)], state
    if isinstance(node, Record):
        return [*effects, RecordAnswer(parts, context.record_max_seconds)], state
    if isinstance(node, Decide):
        return [
            *effects,
            *([Play(parts)] if parts else []),
            Ask(node.question, _ask_args(node, state)),
        ], state
    if isinstance(node, Say):
        actions, state = _go(state, node.target, context, [])
        # Say's words come first, then whatever the next node says or asks.
        return [*effects, Play(parts), *actions], state
    if isinstance(node, Transfer):
        return [*effects, Connect(parts, context.operator_number)], state
    if isinstance(node, End):
        state["done"] = True
        return [*effects, Hangup(parts)], state
    raise TypeError(f"unknown node type {type(node).__name__}")


def _ask_args(node: Decide, state) -> dict[str, Any]:
    if node.question == "lookup_allowed":
        return {"failures": state.get("tallies", {}).get("lookup_failures", 0)}
    if node.question == "find_dossier":
        return {"query": state["scratch"].get("status_query", "")}
    if node.question == "verify_citizen_id":
        return {"last4": state["scratch"].get("status_verify", "")}
    if node.question == "submit":
        return {"answers": dict(state["answers"])}
    return {}


def telephony(actions: list[Action]) -> list[Action]:
    return [action for action in actions if isinstance(action, TELEPHONY)]


__all__ = [
    "Action",
    "Ask",
    "Connect",
    "Context",
    "Discard",
    "Event",
    "Failed",
    "Gather",
    "Hangup",
    "Keys",
    "Outcome",
    "Play",
    "RecordAnswer",
    "Recorded",
    "Save",
    "Start",
    "TransferFailed",
    "new_state",
    "step",
    "telephony",
]
