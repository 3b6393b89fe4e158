"""The flow as data: the summary's list of answers to change comes from APPLICATION alone, and
`0` reaches a person from any question, straight through the pure engine."""

from __future__ import annotations

import copy

import pytest

from ivr import engine, flow
from ivr.flow import APPLICATION, FlowError, Question, check_flow
from ivr.prompts import prompt_catalogue
from ivr.speech import Prompt

CONTEXT = engine.Context(home_province="QNg", caller_national="0912345678")
ANSWERED = {
    "procedure": "fishing_licence", "variant": "new", "vessel": "QNg:90617",
    "citizen_id": "012345678901", "owner_name_recording": "1", "address_recording": "2",
    "delivery": "post", "notify_phone": "0912345678",
}  # fmt: skip


def at(node: str, answers=ANSWERED) -> dict:
    state = engine.new_state()
    state.update(node=node, answers=dict(answers))
    return state


def prompt_keys(actions) -> list[str]:
    return [
        part.key
        for action in engine.telephony(actions)
        for part in action.parts
        if isinstance(part, Prompt)
    ]


def test_a_new_answer_step_with_a_label_is_offered_at_the_summary_without_more_code(
    monkeypatch,
):
    # As the completeness issue adds its questions: a Question with a label, nothing else.
    extra = Question("delivery", "second_copy", label="edit_delivery")
    monkeypatch.setattr(flow, "APPLICATION", (*APPLICATION[:-1], extra, APPLICATION[-1]))
    actions, state = engine.step(at("summary"), engine.Keys("2"), CONTEXT)
    assert state["node"] == "summary_edit"
    assert "press_8" in prompt_keys(actions) and "press_9" not in prompt_keys(actions)
    actions, state = engine.step(state, engine.Keys("8"), CONTEXT)
    assert state["node"] == "delivery"


def test_more_answers_to_change_than_keys_is_refused_at_start_up(monkeypatch, base_settings):
    many = tuple(Question("delivery", f"answer_{n}", label="edit_delivery") for n in range(10))
    monkeypatch.setattr(flow, "APPLICATION", many)
    with pytest.raises(FlowError, match="more than 9"):
        check_flow(prompt_catalogue(base_settings))


def test_the_shipped_flow_and_prompts_pass_the_check(base_settings):
    check_flow(prompt_catalogue(base_settings))


@pytest.mark.parametrize(
    ("node", "keys"),
    [("licence_variant", "0"), ("vessel_digits", "0#"), ("vessel_digits", "0"),
     ("summary", "0"), ("summary_edit", "0"), ("review", "0")],
)  # fmt: skip
def test_zero_from_any_question_asks_for_a_person_and_keeps_every_answer(node, keys):
    state = at(node)
    state["scratch"] = {"review_answer": "owner_name_recording", "review_record": "owner_name"}
    actions, state = engine.step(state, engine.Keys(keys), CONTEXT)
    assert [a for a in actions if isinstance(a, engine.Ask)] == [engine.Ask("office_open")]
    assert state["answers"] == ANSWERED and state["scratch"]["return_to"] == node
    assert state["failures"] == 0
    actions, state = engine.step(state, engine.Outcome("yes"), CONTEXT)
    actions, state = engine.step(state, engine.TransferFailed("busy"), CONTEXT)
    assert prompt_keys(actions)[:2] == ["operator_busy", "operator_choice"]
    actions, state = engine.step(state, engine.Keys("2"), CONTEXT)
    assert state["node"] == node and "return_to" not in state["scratch"]


def test_a_step_leaves_the_state_it_was_given_untouched():
    """The engine copies the state (dicts and lists all the way down) before it changes it: the
    call service keeps the old one until the step is saved, and a replay starts from it."""
    state = at("summary")
    state["scratch"] = {"review_answer": "citizen_id", "resume_answers": {"procedure": "x"}}
    state["tallies"] = {"id_checks": 1}
    state["history"] = [["menu", {"keys": "1"}]]
    before = copy.deepcopy(state)
    for event in (engine.Keys("0"), engine.Keys("9"), engine.Keys("1")):
        _, after = engine.step(state, event, CONTEXT)
        assert state == before
        after["answers"]["procedure"] = "changed"
        after["scratch"]["resume_answers"]["procedure"] = "changed"
        after.setdefault("tallies", {})["id_checks"] = 9
        after.get("history", [[None, {}]])[0][1]["keys"] = "changed"
        assert state == before
