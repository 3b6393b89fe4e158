"""Today's new-licence call as the benches walk it: one list of the caller's answers, each named by
the flow node (ivr/flow.py) that waits for it, and a rehearsal on the real flow engine that checks
the list against the flow and says what the caller hears before each answer.

A change of the flow (a question added, removed or moved) makes `rehearse` stop with the node it
expected and the one it found, so every bench walking this list breaks loudly instead of
measuring some other call. The answers are the end-to-end tests' own
(tests/asterisk/test_end_to_end.py, tests/ivr/test_twilio_calls.py LICENCE_NEW): a new licence,
a vessel of 12 to under 15 m, the owner's date of birth (both in the licence's
`phone_questions`, config.toml), the name and address spoken and not heard back, delivery by
post, the SMS to the calling mobile, the summary confirmed, then silence after the code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ivr import engine
from ivr.prompts import part_keys
from plumbing.settings import Settings

VESSEL = "{vessel}"  # replaced by each caller's own 5 digits (one open dossier per vessel)


@dataclass(frozen=True)
class Answer:
    """What the caller does at `node`: type `keys` (a menu key, or digits ending with `#`; ""
    is silence until the question times out) or speak for `spoken` seconds after the beep."""

    node: str
    keys: str = ""
    spoken: float = 0.0
    note: str = ""

    @property
    def silent(self) -> bool:
        return not self.keys and not self.spoken

    @property
    def kind(self) -> str:
        """The step type the benches report: menu key, number, recording, submit, silence."""
        if self.spoken:
            return "recording"
        if self.node == "summary":
            return "submit"
        if not self.keys:
            return "silence"
        return "number" if self.keys.endswith("#") else "menu key"

    def typed(self, vessel: str) -> str:
        return self.keys.replace(VESSEL, vessel)

    def event(self, vessel: str, recording: str = "rec") -> engine.Event:
        if self.spoken:
            return engine.Recorded(recording, self.spoken)
        return engine.Keys(self.typed(vessel))


NEW_LICENCE: tuple[Answer, ...] = (
    Answer("main_menu", "1", note="fishing licence"),
    Answer("licence_variant", "1", note="new"),
    Answer("vessel_digits", f"{VESSEL}#", note="the vessel's 5 digits"),
    Answer("vessel_confirm", "1", note="read back: correct"),
    Answer("length_band", "2", note="12 to under 15 m"),
    Answer("citizen_id", "012345678901#"),
    Answer("citizen_id_confirm", "1"),
    Answer("birth_date", "05091975#", note="5 September 1975"),
    Answer("birth_date_confirm", "1"),
    Answer("owner_name", spoken=4.0),
    Answer("review", "3", note="go on without hearing it back"),
    Answer("address", spoken=5.0),
    Answer("review", "3"),
    Answer("delivery", "1", note="by post"),
    Answer("phone_own", "1", note="SMS to the calling mobile"),
    Answer("summary", "1", note="send: the dossier is filed"),
    Answer("submitted", "", note="silence after the code: goodbye and hang-up"),
)


def new_licence(vessel: str = "90617") -> tuple[Answer, ...]:
    """NEW_LICENCE with the vessel's own digits typed in."""
    return tuple(replace(answer, keys=answer.typed(vessel)) for answer in NEW_LICENCE)


def vessel_number(index: int) -> str:
    """A distinct five-digit vessel number per call (one open dossier per vessel is allowed)."""
    return f"{10000 + index % 90000:05d}"


# How the call service answers the engine's questions on a first call from a mobile; the submit's
# code and what a licence always lacks (the keypad cannot give the certificate number or gear).
_OUTCOMES: Mapping[str, engine.Outcome] = {
    "resumable_draft": engine.Outcome("no"),
    "caller_has_mobile": engine.Outcome("yes"),
    "submit": engine.Outcome("ok", data={
        "spoken_code": "2612018001", "due": None,
        "missing": ["safety_certificate_number", "main_gear"]}),
}  # fmt: skip


@dataclass(frozen=True)
class Heard:
    """Before answer `answer`: the prompt audio keys played since the previous answer."""

    answer: Answer
    keys: tuple[str, ...]


def context_of(settings: Settings, today: dt.date, caller_national: str = "0912345678"):
    """The engine context the call service builds (ivr/call_service.py `context`)."""
    from intake.phone import national_display

    ivr = settings.ivr
    return engine.Context(
        home_province=settings.centre.home_province,
        caller_national=caller_national,
        max_failures=ivr.max_failures,
        timeout=ivr.input_timeout_seconds,
        record_max_seconds=ivr.record_max_seconds,
        operator_number=ivr.operator_number,
        fees={
            f"{code}:{name}": variant.fee_vnd
            for code, procedure in settings.procedures.items()
            for name, variant in procedure.variants.items()
        },
        hotline=national_display(settings.centre.hotline),
        phone_questions={
            code: tuple(procedure.phone_questions)
            for code, procedure in settings.procedures.items()
        },
        today=today,
    )


def rehearse(
    context: engine.Context,
    answers: Sequence[Answer] = NEW_LICENCE,
    outcomes: Mapping[str, engine.Outcome] = _OUTCOMES,
    vessel: str = "90617",
) -> list[Heard]:
    """Walk the flow engine through `answers`; raise SystemExit where the flow waits at another
    node than the list says, or does not end with the goodbye. Returns, for each answer, the
    prompt keys heard just before it (the last item: the goodbye, after the last answer)."""
    state = engine.new_state()
    heard: list[Heard] = []
    keys: list[str] = []
    pending: list[engine.Event] = [engine.Start()]
    script = list(answers)
    while True:
        while pending:
            actions, state = engine.step(state, pending.pop(0), context)
            for action in engine.telephony(actions):
                keys += part_keys(action.parts)
            asks = [action for action in actions if isinstance(action, engine.Ask)]
            if asks:
                pending.append(outcomes[asks[0].question])
        if not script or state["done"]:
            break
        answer = script.pop(0)
        if state["node"] != answer.node:
            raise SystemExit(
                f"the flow has changed: the walk answers at {answer.node!r} but the call waits at"
                f" {state['node']!r} (bench/licence_call.py NEW_LICENCE)"
            )
        heard.append(Heard(answer, tuple(keys)))
        keys = []
        pending.append(answer.event(vessel))
    if script or not state["done"] or state["node"] != "goodbye":
        raise SystemExit(
            f"the flow has changed: the walk ended at {state['node']!r} with"
            f" {len(script)} answers left, not at the goodbye (bench/licence_call.py NEW_LICENCE)"
        )
    heard.append(Heard(Answer("goodbye"), tuple(keys)))
    return heard


@dataclass(frozen=True)
class Filed:
    calls: int  # calls made
    filed: int  # dossiers out of draft for those vessels
    complete: int  # filed with every answer of the walk saved
    codes: int  # distinct dossier codes among them

    def line(self) -> str:
        return (
            f"filed {self.filed}/{self.calls}, every answer saved {self.complete}/{self.calls}, "
            f"{self.codes} distinct codes"
        )


def check_filed(database_url: str, vessels: Sequence[str], citizen_id: str = "012345678901"):
    """What the database holds for the calls of `vessels` (walked with `new_licence`): dossiers
    filed, those with every answer of the walk saved, and their distinct codes."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("""
                    SELECT d.code, d.status, d.delivery, d.notify_phone,
                           d.form->>'citizen_id', d.form->>'date_of_birth', v.length_band,
                           (SELECT count(*) FROM recording r WHERE r.dossier_id = d.id
                              AND r.purpose IN ('owner_name_recording', 'address_recording'))
                    FROM dossier d JOIN vessel v ON v.id = d.vessel_id
                    WHERE v.digits = ANY(:vessels)
                """),
                {"vessels": list(vessels)},
            ).all()
    finally:
        engine.dispose()
    filed = [row for row in rows if row[1] != "draft"]
    complete = [
        row for row in filed
        if row[0] and row[2] == "post" and row[3] and row[4] == citizen_id
        and row[5] == "1975-09-05" and row[6] == "12_to_15" and row[7] == 2
    ]  # fmt: skip
    return Filed(len(vessels), len(filed), len(complete), len({row[0] for row in filed}))
