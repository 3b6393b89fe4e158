"""Property: whatever a caller presses, and wherever they hang up, the IVR answers with valid
TwiML and every answer it accepted is already saved on the draft."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from intake.models import Dossier
from ivr.models import IvrCall

NOT_ON_THE_DRAFT = {"operator_message"}  # goes to the callback request instead
_numbers = itertools.count(1)

keys = st.text(alphabet="0123456789*#", min_size=0, max_size=13)
moves = st.lists(
    st.one_of(
        st.tuples(st.just("keys"), keys),
        st.tuples(st.just("menu"), st.sampled_from("0123456789")),
        st.tuples(st.just("speak"), st.sampled_from([0, 1, 3, 7])),
        st.tuples(st.just("dial"), st.sampled_from(["completed", "no-answer", "busy"])),
        st.tuples(st.just("hang_up"), st.none()),
    ),
    min_size=1,
    max_size=40,
)


def _lost_answers(session, caller_number: str) -> list[str]:
    """Every answer the IVR accepted from this caller that is not saved on a draft."""
    session.expire_all()
    lost = []
    for call in session.scalars(select(IvrCall).where(IvrCall.caller == caller_number)):
        answers = {k: v for k, v in call.state["answers"].items() if k not in NOT_ON_THE_DRAFT}
        if answers and call.dossier_id is None:
            lost.append(f"answers {answers} but no draft")
            continue
        saved = session.get(Dossier, call.dossier_id).form.get("ivr", {}) if answers else {}
        lost += [
            f"{k}={v!r} accepted but not saved" for k, v in answers.items() if saved.get(k) != v
        ]
    return lost


def _act(caller, move) -> bool:
    """Do one move that fits what the IVR is waiting for; False when the call is over."""
    kind, value = move
    twiml = caller.twiml
    if caller.hung_up or kind == "hang_up":
        caller.hang_up()
        return False
    if twiml.find("Record") is not None:
        if kind == "speak" and value:
            caller.speak(value)
        else:
            caller.say_nothing()
    elif twiml.find("Dial") is not None:
        dial = twiml.find("Dial")
        status = value if kind == "dial" else "no-answer"
        caller._follow(caller.post(dial.get("action"), {"DialCallStatus": status}))
    elif kind == "menu":
        caller.press(value)
    elif kind == "keys" and value:
        caller.press(value)
    else:
        caller.silence()
    return True


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=moves, second=moves)
def test_random_callers_never_break_the_ivr_or_lose_an_answer(new_caller, session, first, second):
    number = f"+8491{next(_numbers):07d}"
    for script in (first, second):  # the second call may resume the first's draft
        caller = new_caller(caller=number)
        caller.dial_in()
        for move in script:
            if not _act(caller, move):
                break
            assert _lost_answers(session, number) == []
        else:
            caller.hang_up()
        assert _lost_answers(session, number) == []
