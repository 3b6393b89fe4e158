"""The call flow, defined once as data and driven by every front end (Twilio, Asterisk, terminal).

A node is one thing the IVR does: play a menu and take one key, take a number ending in `#`,
record a spoken answer, ask the domain something (a decision), or end the call. Targets are node
names; the special target NEXT means "the first application question not yet answered", which is
what makes a resumed call skip everything the caller already told us.

`check_flow` verifies the graph at load: every target exists, every prompt key is in config,
every node is reachable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.speech import Part, Prompt, Words, date_words, digit_words, number_words


def province_key(code: str) -> str:
    """`ĐNa` -> province_DNa (file-name safe, still readable)."""
    return "province_" + code.replace("Đ", "D").replace("đ", "d")


NEXT = "@next"
State = Mapping[str, Any]  # the call's answers and scratch values, read by dynamic prompts
PromptSpec = tuple[Part, ...] | Callable[[State], tuple[Part, ...]]


@dataclass(frozen=True)
class Choice:
    target: str
    set: Mapping[str, Any] = field(default_factory=dict)  # answers this key gives
    commit: tuple[str, ...] = ()  # scratch values this key confirms as answers


@dataclass(frozen=True)
class Menu:
    """Play a prompt; one key chooses."""

    name: str
    prompt: PromptSpec
    options: Mapping[str, Choice]


@dataclass(frozen=True)
class Digits:
    """Take a number ended by `#` (or by silence). Stored in scratch until confirmed."""

    name: str
    prompt: PromptSpec
    lengths: tuple[int, ...]  # accepted lengths; 0 allows a lone `#`
    scratch: str
    invalid: str  # prompt key explaining what is expected
    target: str
    check: str | None = None  # name of a validator in engine.VALIDATORS


@dataclass(frozen=True)
class Record:
    """Record a spoken answer after a beep; the recording's id becomes the answer."""

    name: str
    prompt: PromptSpec
    answer: str
    target: str


@dataclass(frozen=True)
class Decide:
    """Ask the domain (the call service) and branch on its answer.

    `tally` names, per outcome, a counter of the whole call that the outcome adds one to. Unlike
    the failures in a row, these survive the main menu and a restarted application, so a limit
    per call (guessed citizen ids, say) cannot be reset by going round the menu.
    """

    name: str
    question: str
    outcomes: Mapping[str, str]  # outcome -> target
    tally: Mapping[str, str] = field(default_factory=dict)  # outcome -> per-call counter


@dataclass(frozen=True)
class Say:
    """Say something, then go on without waiting for a key."""

    name: str
    prompt: PromptSpec
    target: str


@dataclass(frozen=True)
class Transfer:
    """Connect the caller to the operator; `target` is where a failed transfer continues."""

    name: str
    prompt: PromptSpec
    target: str


@dataclass(frozen=True)
class End:
    name: str
    prompt: PromptSpec


Node = Menu | Digits | Record | Decide | Say | Transfer | End


def P(*keys: str) -> tuple[Part, ...]:  # noqa: N802 - reads like the data it builds
    return tuple(Prompt(key) for key in keys)


# The application questions in the order they are asked. A question applies when its condition
# holds for the answers so far; it is answered when its answer key is present.
@dataclass(frozen=True)
class Question:
    node: str
    answer: str
    applies: Callable[[State], bool] = lambda answers: True
    # Asked only for the procedures whose `phone_questions` (config.toml) name `answer`.
    configurable: bool = False


def _is_licence(answers: State) -> bool:
    return answers.get("procedure") == "fishing_licence"


APPLICATION: tuple[Question, ...] = (
    Question("licence_variant", "variant", _is_licence),
    Question("reissue_reason", "reissue_reason", lambda a: a.get("variant") == "reissue"),
    Question("vessel_digits", "vessel"),
    Question("length_band", "length_band", configurable=True),
    Question("citizen_id", "citizen_id"),
    Question("birth_date", "date_of_birth", configurable=True),
    Question("owner_name", "owner_name_recording"),
    Question("address", "address_recording"),
    Question("delivery", "delivery"),
    Question("phone_check", "notify_phone"),
    Question("summary", "confirmed"),
)


def next_question(answers: State, asked: Mapping[str, Collection[str]] | None = None) -> str:
    """The first question not yet answered; `asked` is each procedure's configurable questions."""
    extra = (asked or {}).get(answers.get("procedure", ""), ())
    for question in APPLICATION:
        if question.configurable and question.answer not in extra:
            continue
        if question.applies(answers) and question.answer not in answers:
            return question.node
    return "submit"


# --- dynamic prompts: read back what the caller typed ---------------------------------------


def _vessel_readback(state: State) -> tuple[Part, ...]:
    return (Prompt("vessel_is"), Prompt(province_key(state["home_province"])),
            digit_words(state["vessel_digits"]), Prompt("vessel_suffix"),
            Prompt("vessel_confirm"))  # fmt: skip


def _citizen_id_readback(state: State) -> tuple[Part, ...]:
    return (Prompt("citizen_id_is"), digit_words(state["citizen_id_digits"]), Prompt("confirm"))


def _birth_date_readback(state: State) -> tuple[Part, ...]:
    digits = state["birth_date_digits"]
    born = dt.date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    return (Prompt("birth_date_is"), date_words(born), Prompt("confirm"))


def _own_phone(state: State) -> tuple[Part, ...]:
    return (Prompt("phone_own"), digit_words(state["caller_national"]),
            Prompt("phone_own_confirm"))  # fmt: skip


def _phone_readback(state: State) -> tuple[Part, ...]:
    return (Prompt("phone_is"), digit_words(state["phone_digits"]), Prompt("confirm"))


def _summary(state: State) -> tuple[Part, ...]:
    answers = state["answers"]
    vessel = answers["vessel"]
    province, digits = vessel.split(":") if ":" in vessel else ("", vessel)
    fee = state["fee_vnd"]
    fee_parts: tuple[Part, ...] = (
        (Prompt("fee_is"), number_words(fee), Words(("đồng",)), Prompt("fee_payment"))
        if fee
        else (Prompt(f"fee_{_procedure_variant(answers)}"),)
    )
    return (
        Prompt("summary_intro"),
        Prompt(f"procedure_{answers['procedure']}_{answers.get('variant') or 'new'}"),
        Prompt("summary_vessel"),
        *((Prompt(province_key(province)),) if province else ()),
        digit_words(digits),
        Prompt("summary_post" if answers["delivery"] == "post" else "summary_collect"),
        *fee_parts,
        Prompt("summary_confirm"),
    )


def _procedure_variant(answers: dict) -> str:
    return f"{answers['procedure']}_{answers.get('variant') or 'new'}"


def _due(state: State) -> Words:
    return date_words(dt.date.fromisoformat(state["due"]))


def _due_or_later(state: State) -> tuple[Part, ...]:
    """The due date when it is known; otherwise what is missing, and that it comes by SMS."""
    if state.get("due"):
        return (Prompt("due_is"), _due(state))
    missing = tuple(Prompt(f"missing_{key}") for key in state.get("missing", ()))
    return ((Prompt("missing_intro"), *missing, Prompt("staff_will_call")) if missing else ()) + (
        Prompt("due_when_complete"),
    )


def _submitted(state: State) -> tuple[Part, ...]:
    papers = f"papers_{_procedure_variant(state['answers'])}"
    # Without a due date, "it will come by SMS" already says an SMS follows.
    sms = (Prompt("sms_follows"),) if state.get("due") else ()
    return (Prompt("submitted"), digit_words(state["spoken_code"]), *_due_or_later(state),
            Prompt("papers_intro"), Prompt(papers), *sms,
            Prompt("goodbye"))  # fmt: skip


def _status(state: State) -> tuple[Part, ...]:
    due = (Prompt("due_is"), _due(state)) if state.get("due") else (Prompt("due_when_complete"),)
    return (Prompt("status_dossier"), digit_words(state["spoken_code"]), Prompt("status_now"),
            Prompt(f"status_{state['status']}"), *due, Prompt("goodbye"))  # fmt: skip


AGAIN_OR_OTHER = {"1": "correct", "2": "again"}

FLOW: tuple[Node, ...] = (
    Say("start", P("greeting"), "resume_check"),
    Decide("resume_check", "resumable_draft", {"yes": "resume_offer", "no": "main_menu"}),
    Menu("resume_offer", P("resume_offer"), {
        "1": Choice("resume_load"),
        "2": Choice("main_menu", set={"_discard_draft": True}),
    }),
    Decide("resume_load", "load_draft", {"ok": NEXT, "gone": "main_menu"}),
    Menu("main_menu", P("main_menu"), {
        "1": Choice(NEXT, set={"procedure": "fishing_licence"}),
        "2": Choice(NEXT, set={"procedure": "vessel_safety", "variant": "new"}),
        "3": Choice("status_allowed"),
        "0": Choice("operator"),
    }),
    Menu("licence_variant", P("licence_variant"), {
        "1": Choice(NEXT, set={"variant": "new"}),
        "2": Choice(NEXT, set={"variant": "reissue"}),
    }),
    Menu("reissue_reason", P("reissue_reason"), {
        "1": Choice(NEXT, set={"reissue_reason": "lost"}),
        "2": Choice(NEXT, set={"reissue_reason": "damaged"}),
        "3": Choice(NEXT, set={"reissue_reason": "changed"}),
        "4": Choice(NEXT, set={"reissue_reason": "expired"}),
    }),
    Digits("vessel_digits", P("vessel_digits"), (5,), "vessel_digits", "vessel_invalid",
           "vessel_confirm"),
    Menu("vessel_confirm", _vessel_readback, {
        "1": Choice(NEXT, commit=("vessel",)),
        "2": Choice("vessel_digits"),
        "3": Choice("vessel_province", commit=("vessel_other_province",)),
    }),
    Record("vessel_province", P("vessel_province"), "vessel_province_recording", NEXT),
    Menu("length_band", P("length_band"), {
        "1": Choice(NEXT, set={"length_band": "under_12"}),
        "2": Choice(NEXT, set={"length_band": "12_to_15"}),
        "3": Choice(NEXT, set={"length_band": "15_up"}),
    }),
    Digits("citizen_id", P("citizen_id"), (12,), "citizen_id_digits", "citizen_id_invalid",
           "citizen_id_confirm"),
    Menu("citizen_id_confirm", _citizen_id_readback, {
        "1": Choice(NEXT, commit=("citizen_id",)),
        "2": Choice("citizen_id"),
    }),
    Digits("birth_date", P("birth_date"), (8,), "birth_date_digits", "birth_date_invalid",
           "birth_date_confirm", check="birth_date"),
    Menu("birth_date_confirm", _birth_date_readback, {
        "1": Choice(NEXT, commit=("date_of_birth",)),
        "2": Choice("birth_date"),
    }),
    Record("owner_name", P("owner_name"), "owner_name_recording", NEXT),
    Record("address", P("address"), "address_recording", NEXT),
    Menu("delivery", P("delivery"), {
        "1": Choice(NEXT, set={"delivery": "post"}),
        "2": Choice(NEXT, set={"delivery": "collect"}),
    }),
    Decide("phone_check", "caller_has_mobile", {"yes": "phone_own", "no": "phone_digits"}),
    Menu("phone_own", _own_phone, {
        "1": Choice(NEXT, commit=("notify_phone_own",)),
        "2": Choice("phone_digits"),
    }),
    Digits("phone_digits", P("phone_digits"), (10,), "phone_digits", "phone_invalid",
           "phone_confirm", check="mobile"),
    Menu("phone_confirm", _phone_readback, {
        "1": Choice(NEXT, commit=("notify_phone",)),
        "2": Choice("phone_digits"),
    }),
    Menu("summary", _summary, {
        "1": Choice(NEXT, set={"confirmed": True}),
        "2": Choice("main_menu", set={"_restart": True}),
    }),
    Decide("submit", "submit", {"ok": "submitted"}),
    End("submitted", _submitted),
    # The status look-up. A code or vessel number that is not the caller's own goes through the
    # citizen-id check whether or not it exists (no "not found" before the digits: codes are
    # sequential and that would tell which exist), and every failed check counts against the
    # call's allowance (intake/status_lookup.py has the limit per dossier).
    Decide("status_allowed", "lookup_allowed", {"yes": "status_query", "no": "status_limit"}),
    Say("status_limit", P("lookup_limit_reached"), "main_menu"),
    Digits("status_query", P("status_query"), (0, 5, 10), "status_query", "status_invalid",
           "status_find"),
    Decide("status_find", "find_dossier", {
        "mine": "status_say", "verify": "status_verify", "none": "status_not_found",
    }),
    Digits("status_verify", P("status_verify"), (4,), "status_verify", "status_verify_invalid",
           "status_check_id"),
    Decide("status_check_id", "verify_citizen_id", {"ok": "status_say", "no": "status_not_found"},
           tally={"no": "lookup_failures"}),
    End("status_say", _status),
    Say("status_not_found", P("status_not_found"), "main_menu"),
    Decide("operator", "office_open", {"yes": "operator_transfer", "no": "operator_closed"}),
    Transfer("operator_transfer", P("operator_connecting"), "operator_busy"),
    Record("operator_busy", P("operator_busy"), "operator_message", "callback"),
    Record("operator_closed", P("operator_closed"), "operator_message", "callback"),
    Decide("callback", "create_callback", {"ok": "callback_goodbye"}),
    End("callback_goodbye", P("callback_promise")),
    End("failed", P("too_many_failures")),
)  # fmt: skip

NODES: dict[str, Node] = {node.name: node for node in FLOW}


class FlowError(Exception):
    """The flow definition is inconsistent (found at start-up, never during a call)."""


def targets_of(node: Node) -> list[str]:
    if isinstance(node, Menu):
        return [choice.target for choice in node.options.values()]
    if isinstance(node, Decide):
        return list(node.outcomes.values())
    if isinstance(node, Digits | Record | Say | Transfer):
        return [node.target]
    return []


def static_prompt_keys(node: Node) -> list[str]:
    prompt = getattr(node, "prompt", ())
    if not isinstance(prompt, tuple):
        prompt = ()
    keys = [part.key for part in prompt if isinstance(part, Prompt)]
    if isinstance(node, Digits):
        keys.append(node.invalid)
    return keys


def check_flow(prompts: Mapping[str, str], nodes: Mapping[str, Node] = NODES) -> None:
    """Raise FlowError naming the first inconsistency."""
    for node in nodes.values():
        for target in targets_of(node):
            if target != NEXT and target not in nodes:
                raise FlowError(f"node {node.name!r} leads to unknown node {target!r}")
        for key in static_prompt_keys(node):
            if key not in prompts:
                raise FlowError(f"node {node.name!r} needs prompt {key!r} in [prompts]")
    for question in APPLICATION:
        if question.node not in nodes:
            raise FlowError(f"application question {question.node!r} is not a node")
    reachable, todo = set(), ["start", "failed"]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        targets = targets_of(nodes[name])
        if NEXT in targets:
            targets = [t for t in targets if t != NEXT] + [q.node for q in APPLICATION] + ["submit"]
        todo.extend(targets)
    unreachable = sorted(set(nodes) - reachable)
    if unreachable:
        raise FlowError(f"nodes never reached: {', '.join(unreachable)}")
