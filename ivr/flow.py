"""The call flow, defined once as data and driven by every front end (Twilio, Asterisk, terminal).

A node is one thing the IVR does: play a menu and take one key, take a number ending in `#`,
record a spoken answer, ask the domain something (a decision), or end the call. Targets are node
names; the special target NEXT means "the first application question not yet answered", which is
what makes a resumed call skip everything the caller already told us, and what brings a caller
who changed one answer at the summary back to the summary. RETURN means "where the caller was
before asking for a person" (`0` at any menu, `0#` at any number: engine.py).

`check_flow` verifies the graph at load: every target exists, every prompt key is in config,
every node is reachable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.speech import (
    PAUSE,
    Part,
    Playback,
    Prompt,
    Words,
    date_words,
    digit_words,
    grouped_digits,
    number_words,
    phone_groups,
)


def province_key(code: str) -> str:
    """`ĐNa` -> province_DNa (file-name safe, still readable)."""
    return "province_" + code.replace("Đ", "D").replace("đ", "d")


NEXT = "@next"
RETURN = "@return"
RERECORD = "@rerecord"  # the recording just reviewed, asked again
OPERATOR = "operator"  # the node `0` leads to from any question
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
    review: bool = False  # offer to hear it back and record it again before going on


@dataclass(frozen=True)
class Pick:
    """The summary's "which answer to change": one key per answer step that applies (in the order
    of APPLICATION, numbered from 1); the key forgets that answer and asks its question again,
    and NEXT then leads back to the summary. New answer steps with a `label` join by themselves."""

    name: str
    prompt: PromptSpec


@dataclass(frozen=True)
class Linger:
    """The last words of a call, then a short wait: `*` says `again` (the code, say) and waits
    once more; any other key, or silence, goes on to `target` (the goodbye)."""

    name: str
    prompt: PromptSpec
    again: PromptSpec
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


Node = Menu | Digits | Record | Pick | Linger | Decide | Say | Transfer | End


def P(*keys: str) -> tuple[Part, ...]:  # noqa: N802 - reads like the data it builds
    return tuple(Prompt(key) for key in keys)


# The application questions in the order they are asked. A question applies when its condition
# holds for the answers so far; it is answered when its answer key is present. One with a `label`
# (the prompt naming it in the summary's list of answers to change) can be changed at the
# summary; changing it forgets its answer and those in `clears`, which are asked again after it.
@dataclass(frozen=True)
class Question:
    node: str
    answer: str
    applies: Callable[[State], bool] = lambda answers: True
    label: str | None = None
    clears: tuple[str, ...] = ()
    # Asked only for the procedures whose `phone_questions` (config.toml) name `answer`.
    configurable: bool = False


def _is_licence(answers: State) -> bool:
    return answers.get("procedure") == "fishing_licence"


APPLICATION: tuple[Question, ...] = (
    Question("licence_variant", "variant", _is_licence, "edit_variant", ("reissue_reason",)),
    Question("reissue_reason", "reissue_reason", lambda a: a.get("variant") == "reissue"),
    Question("vessel_digits", "vessel", label="edit_vessel",
             clears=("vessel_province_recording",)),
    Question("length_band", "length_band", label="edit_length_band", configurable=True),
    Question("citizen_id", "citizen_id", label="edit_citizen_id"),
    Question("birth_date", "date_of_birth", label="edit_date_of_birth", configurable=True),
    Question("owner_name", "owner_name_recording", label="edit_owner_name"),
    Question("address", "address_recording", label="edit_address"),
    Question("delivery", "delivery", label="edit_delivery"),
    Question("phone_check", "notify_phone", label="edit_notify_phone"),
    Question("summary", "confirmed"),
)  # fmt: skip
MAX_PICK = 9  # one key each


def next_question(answers: State, asked: Mapping[str, Collection[str]] | None = None) -> str:
    """The first question not yet answered; `asked` is each procedure's configurable questions."""
    for question in APPLICATION:
        if _asked(question, answers, asked) and question.answer not in answers:
            return question.node
    return "submit"


def _asked(question: Question, answers: State, asked: Mapping[str, Collection[str]] | None) -> bool:
    if question.configurable and question.answer not in (asked or {}).get(
        answers.get("procedure", ""), ()
    ):
        return False
    return question.applies(answers)


def editable_questions(
    answers: State, asked: Mapping[str, Collection[str]] | None = None
) -> list[Question]:
    """The answers the summary offers to change, in the order they were asked; `asked` is each
    procedure's configurable questions."""
    return [q for q in APPLICATION if q.label and _asked(q, answers, asked)][:MAX_PICK]


# --- dynamic prompts: read back what the caller typed ---------------------------------------


CITIZEN_ID_GROUPS = (3, 3, 3, 3)
CODE_GROUPS = (6, 4)  # the dossier code as spoken: the receipt date yyMMdd, then the sequence


def procedure_key(answers: State) -> str:
    return f"procedure_{answers['procedure']}_{answers.get('variant') or 'new'}"


def vessel_parts(vessel: str) -> tuple[Part, ...]:
    """`QNg:90617` -> Quảng Ngãi chín không sáu một bảy tê ét (the province, when known)."""
    province, digits = vessel.split(":") if ":" in vessel else ("", vessel)
    return (*((Prompt(province_key(province)),) if province else ()), digit_words(digits),
            Prompt("vessel_suffix"))  # fmt: skip


def code_parts(spoken_code: str) -> tuple[Part, ...]:
    return grouped_digits(spoken_code, CODE_GROUPS)


def _vessel_readback(state: State) -> tuple[Part, ...]:
    return (Prompt("vessel_is"), Prompt(province_key(state["home_province"])),
            digit_words(state["vessel_digits"]), Prompt("vessel_suffix"),
            Prompt("vessel_confirm"))  # fmt: skip


def _citizen_id_readback(state: State) -> tuple[Part, ...]:
    return (Prompt("citizen_id_is"), *grouped_digits(state["citizen_id_digits"], CITIZEN_ID_GROUPS),
            Prompt("confirm"))  # fmt: skip


def _birth_date_readback(state: State) -> tuple[Part, ...]:
    digits = state["birth_date_digits"]
    born = dt.date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    return (Prompt("birth_date_is"), date_words(born), Prompt("confirm"))


def _own_phone(state: State) -> tuple[Part, ...]:
    return (Prompt("phone_own"), *phone_groups(state["caller_national"]),
            Prompt("phone_own_confirm"))  # fmt: skip


def _phone_readback(state: State) -> tuple[Part, ...]:
    return (Prompt("phone_is"), *phone_groups(state["phone_digits"]), Prompt("confirm"))


def _resume_offer(state: State) -> tuple[Part, ...]:
    """Which application is waiting: its procedure and, once given, its vessel."""
    waiting = state.get("resume_answers") or {}
    named: tuple[Part, ...] = ()
    if waiting.get("procedure"):
        named = (Prompt(procedure_key(waiting)),)
        if waiting.get("vessel"):
            named += (Prompt("summary_vessel"), *vessel_parts(waiting["vessel"]))
    return (Prompt("resume_offer"), *named, Prompt("resume_choice"))


def _review_playback(state: State) -> tuple[Part, ...]:
    return (Prompt("review_playback"), Playback(str(state["answers"][state["review_answer"]])),
            Prompt("review_choice"))  # fmt: skip


def _summary(state: State) -> tuple[Part, ...]:
    answers = state["answers"]
    by_post = answers["delivery"] == "post"
    fee = state["fee_vnd"]
    if fee:
        fee_parts: tuple[Part, ...] = (
            Prompt("fee_is"),
            number_words(fee),
            Words(("đồng",)),
            Prompt("fee_payment_post" if by_post else "fee_payment"),
        )
    else:
        fee_parts = (
            Prompt(f"fee_{_procedure_variant(answers)}"),
            *((Prompt("postage_on_delivery"),) if by_post else ()),
        )
    reason = answers.get("reissue_reason") if answers.get("variant") == "reissue" else None
    return (
        Prompt("summary_intro"),
        Prompt(procedure_key(answers)),
        *((Prompt(f"summary_reason_{reason}"),) if reason else ()),
        Prompt("summary_vessel"),
        *vessel_parts(answers["vessel"]),
        Prompt("summary_post" if by_post else "summary_collect"),
        *fee_parts,
        Prompt("summary_confirm"),
    )


def _procedure_variant(answers: dict) -> str:
    return f"{answers['procedure']}_{answers.get('variant') or 'new'}"


def _edit_list(state: State) -> tuple[Part, ...]:
    parts: list[Part] = [Prompt("edit_intro")]
    questions = editable_questions(state["answers"], state.get("phone_questions"))
    for number, question in enumerate(questions, start=1):
        parts += [Prompt(question.label or ""), Prompt(f"press_{number}")]
    return tuple(parts)


def _due(state: State) -> Words:
    """A due date is weeks away at most: its day and month say it (the year alone would take
    longer to say than both)."""
    return date_words(dt.date.fromisoformat(state["due"]), year=False)


def what_next(state: State) -> tuple[Part, ...]:
    """The end of an application call: that an SMS follows, and the hotline. Kept as one small
    piece so what else the caller must know can join it."""
    return (Prompt("sms_follows"), Prompt("hotline_is"), *phone_groups(state["hotline"]))


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
    return (Prompt("submitted"), *code_parts(state["spoken_code"]), PAUSE,
            *_due_or_later(state), Prompt("papers_intro"), Prompt(papers), *what_next(state),
            Prompt("repeat_code"))  # fmt: skip


def _code_again(state: State) -> tuple[Part, ...]:
    return (Prompt("code_is"), *code_parts(state["spoken_code"]), Prompt("repeat_code"))


def _status(state: State) -> tuple[Part, ...]:
    due = (Prompt("due_is"), _due(state)) if state.get("due") else (Prompt("due_when_complete"),)
    return (Prompt("status_dossier"), *code_parts(state["spoken_code"]), PAUSE,
            Prompt("status_now"), Prompt(f"status_{state['status']}"), *due)  # fmt: skip


def _status_then_menu(state: State) -> tuple[Part, ...]:
    return (*_status(state), Prompt("menu_again"))


def _duplicate_known(state: State) -> tuple[Part, ...]:
    return (Prompt("duplicate_open"), *_status(state), Prompt("goodbye"))


def _operator_unanswered(state: State) -> tuple[Part, ...]:
    return (Prompt(f"operator_{state.get('operator_reason') or 'no_answer'}"),
            Prompt("operator_choice"))  # fmt: skip


AGAIN_OR_OTHER = {"1": "correct", "2": "again"}

FLOW: tuple[Node, ...] = (
    Say("start", P("greeting"), "resume_check"),
    Decide("resume_check", "resumable_draft", {"yes": "resume_offer", "no": "main_menu"}),
    Menu("resume_offer", _resume_offer, {
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
    Record("vessel_province", P("vessel_province"), "vessel_province_recording", NEXT, review=True),
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
    Record("owner_name", P("owner_name"), "owner_name_recording", NEXT, review=True),
    Record("address", P("address"), "address_recording", NEXT, review=True),
    # After a recording with `review`: hear it back, say it again, or go on (engine.py).
    Menu("review", P("review_choice"), {
        "1": Choice("review_playback"),
        "2": Choice(RERECORD),
        "3": Choice(NEXT),
    }),
    Menu("review_playback", _review_playback, {
        "1": Choice("review_playback"),
        "2": Choice(RERECORD),
        "3": Choice(NEXT),
    }),
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
        "2": Choice("summary_edit"),
    }),
    Pick("summary_edit", _edit_list),
    # No second open dossier for the same vessel and procedure (intake.dossier_queries): the
    # caller whose citizen id matches hears that one; anyone else only that staff will call.
    Decide("submit", "submit", {
        "ok": "submitted", "duplicate_known": "duplicate_known",
        "duplicate_other": "duplicate_other", "not_filed": "not_filed",
    }),
    Linger("submitted", _submitted, _code_again, "goodbye"),
    End("goodbye", P("goodbye")),
    End("duplicate_known", _duplicate_known),
    End("duplicate_other", P("duplicate_open", "duplicate_callback")),
    # The day's codes are used up: nothing is lost, staff file it and call back.
    End("not_filed", P("not_filed", "callback_promise")),
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
    Say("status_say", _status_then_menu, "main_menu"),
    Say("status_not_found", P("status_not_found"), "main_menu"),
    # `0` from any question. In office hours a transfer; one nobody takes offers a message or
    # the way back to where the caller was (the draft is never touched). Outside them, a message.
    Decide("operator", "office_open", {"yes": "operator_transfer", "no": "operator_closed"}),
    Transfer("operator_transfer", P("operator_connecting"), "operator_unanswered"),
    Menu("operator_unanswered", _operator_unanswered, {
        "1": Choice("operator_busy"),
        "2": Choice(RETURN),
    }),
    Record("operator_busy", P("operator_leave_message"), "operator_message", "callback"),
    Record("operator_closed", P("operator_closed"), "operator_message", "callback"),
    Decide("callback", "create_callback", {"ok": "callback_goodbye"}),
    End("callback_goodbye", P("callback_promise")),
    End("failed", P("too_many_failures")),
)  # fmt: skip

NODES: dict[str, Node] = {node.name: node for node in FLOW}


class FlowError(Exception):
    """The flow definition is inconsistent (found at start-up, never during a call)."""


REVIEW_TARGETS = ("review",)  # where a Record with `review` goes (engine.py)


def targets_of(node: Node) -> list[str]:
    if isinstance(node, Menu):
        targets = [choice.target for choice in node.options.values()]
    elif isinstance(node, Decide):
        targets = list(node.outcomes.values())
    elif isinstance(node, Record) and node.review:
        targets = [*REVIEW_TARGETS, node.target]
    elif isinstance(node, Digits | Record | Say | Transfer | Linger):
        targets = [node.target]
    elif isinstance(node, Pick):
        targets = [q.node for q in APPLICATION if q.label]
    else:
        targets = []
    if isinstance(node, Menu | Digits | Pick):
        targets.append(OPERATOR)  # `0` (or `0#`) from any question
    return [t for t in targets if t not in (RETURN, RERECORD)]


def static_prompt_keys(node: Node) -> list[str]:
    prompt = getattr(node, "prompt", ())
    if not isinstance(prompt, tuple):
        prompt = ()
    keys = [part.key for part in prompt if isinstance(part, Prompt)]
    if isinstance(node, Digits):
        keys.append(node.invalid)
    if isinstance(node, Pick):
        keys += [q.label for q in APPLICATION if q.label]
        keys += [f"press_{number}" for number in range(1, MAX_PICK + 1)]
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
    for node in nodes.values():
        if isinstance(node, Record) and node.review and node.target != NEXT:
            raise FlowError(f"node {node.name!r}: a reviewed answer goes on to NEXT")
    if sum(1 for question in APPLICATION if question.label) > MAX_PICK:
        raise FlowError(f"more than {MAX_PICK} answers to change: one key each")
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
