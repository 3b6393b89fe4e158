"""Today's new fishing-licence call, answer by answer: the one walk the call benchmarks share.

The answers follow ivr/flow.py with config.toml's `phone_questions` for the licence (the vessel's
length band and the owner's date of birth), the offer to hear each recording back and the code
read out at the end, as tests/asterisk/test_end_to_end.py's `answer_up_to_the_owners_name` and
`answer_from_the_owners_name` walk them. `check_walk()` drives the flow engine through them and
stops the benchmark with a message naming the step when a question is not the one expected: a
flow change breaks the benchmarks loudly instead of making them measure another call.

    from bench.licence_call import check_walk, new_licence
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ivr import engine
from ivr.prompts import part_keys


@dataclass(frozen=True)
class Answer:
    """One answer of the caller: `keys` pressed, or `speak` seconds said and ended with `#`, or
    (neither) silence until the question times out."""

    question: str  # the first prompt key of the question it answers
    keys: str = ""
    speak: float = 0.0

    @property
    def silent(self) -> bool:
        return not self.keys and not self.speak


def new_licence(vessel: str = "90617", citizen_id: str = "012345678901") -> tuple[Answer, ...]:
    """A new fishing licence: vessel `vessel` (five digits), 12 to under 15 m, the citizen id,
    born 05/09/1975, name and address spoken and not heard back, by post, SMS to the calling
    phone, the summary confirmed, then silence while the code is read out (the call ends)."""
    return (
        Answer("main_menu", "1"),
        Answer("licence_variant", "1"),
        Answer("vessel_digits", f"{vessel}#"),
        Answer("vessel_is", "1"),
        Answer("length_band", "2"),
        Answer("citizen_id", f"{citizen_id}#"),
        Answer("citizen_id_is", "1"),
        Answer("birth_date", "05091975#"),
        Answer("birth_date_is", "1"),
        Answer("owner_name", speak=4.0),
        Answer("review_choice", "3"),  # go on without hearing it back
        Answer("address", speak=4.0),
        Answer("review_choice", "3"),
        Answer("delivery", "1"),  # by post
        Answer("phone_own", "1"),  # the SMS to the phone calling
        Answer("summary_intro", "1"),  # send
        Answer("submitted"),  # the code, due date, SMS and hotline heard; nothing more wanted
    )


def vessel_number(index: int) -> str:
    """A distinct five-digit vessel number per call (one open dossier per vessel is allowed)."""
    return f"{10000 + index % 90000:05d}"


def engine_events(answers: Iterable[Answer]) -> list[engine.Event]:
    """The flow engine's events for the answers (a recording as `rec-<n>`)."""
    events: list[engine.Event] = []
    for number, answer in enumerate(answers):
        if answer.speak:
            events.append(engine.Recorded(f"rec-{number}", answer.speak))
        else:
            events.append(engine.Keys(answer.keys))
    return events


# The outcomes the call service would give the engine on the happy path.
ASKED = {
    "resumable_draft": engine.Outcome("no"),
    "caller_has_mobile": engine.Outcome("yes"),
    "submit": engine.Outcome("ok", data={
        "spoken_code": "2612010001", "due": None,
        "missing": ["safety_certificate_number", "main_gear"]}),
}  # fmt: skip


def check_walk(answers: Sequence[Answer], phone_questions: dict, today: dt.date | None = None):
    """Walk the flow engine through `answers`; SystemExit naming the first step whose question
    is not the one the flow asks, or when the call does not end at the goodbye."""
    context = engine.Context(
        home_province="QNg",
        caller_national="0912345678",
        fees={"fishing_licence:new": 40000},
        hotline="02553822222",
        phone_questions=phone_questions,
        today=today or dt.date(2026, 12, 1),
    )
    state = engine.new_state()
    pending: list[engine.Event] = [engine.Start()]
    remaining = list(zip(answers, engine_events(answers), strict=True))
    while pending:
        actions, state = engine.step(state, pending.pop(0), context)
        asks = [action for action in actions if isinstance(action, engine.Ask)]
        if asks:
            pending.append(ASKED[asks[0].question])
            continue
        asking = [
            action for action in engine.telephony(actions)
            if isinstance(action, engine.RecordAnswer)
            or (isinstance(action, engine.Play) and action.gather is not None)
        ]  # fmt: skip
        if not asking:
            continue
        if not remaining:
            raise SystemExit(
                f"the flow asks {part_keys(asking[0].parts)[:1]} after the last answer"
            )
        answer, event = remaining.pop(0)
        first = part_keys(asking[0].parts)[:1]
        if first != [answer.question]:
            raise SystemExit(
                f"the licence walk (bench/licence_call.py) is out of date: answer {answer!r} "
                f"expects the question {answer.question!r}, the flow asks {first}"
            )
        pending.append(event)
    if remaining or not state["done"] or state["node"] != "goodbye":
        raise SystemExit(
            f"the licence walk ended at {state['node']!r} with {len(remaining)} answers left"
        )


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
