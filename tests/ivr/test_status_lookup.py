"""Guessing someone else's citizen id through the phone status line, as an attacker would try it,
through the Twilio webhooks and the real call service."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from intake.codes import spoken_part
from intake.models import AuditEvent, DossierLookupAttempt, Role
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier

OWNER = "+84912345678"
CITIZEN_ID = "012345678901"
RIGHT = "8901"
STATUS = "hiện mới được tiếp nhận"  # what a caller hears only when the status is read out
NOT_FOUND = "Không tìm thấy hồ sơ"
LIMIT = "quá số lần cho phép"
ASKS_FOR_A_CODE = "bấm 10 số mã hồ sơ"
ASKS_FOR_DIGITS = "4 số cuối căn cước"
WRONG_GUESSES = ["0000", "1111", "2222", "3333", "4444", "5555", "6666", "7777", "9999"]


def strangers(count: int) -> list[str]:
    return [f"+8498765{index:04d}" for index in range(count)]


@pytest.fixture
def code(session, runtime) -> str:
    """The owner's dossier (vessel QNg-90617-TS); the 10 digits of its code, as typed."""
    dossier = create_dossier(session, runtime, phone=OWNER, citizen_id=CITIZEN_ID, vessel="90617")
    session.commit()
    return spoken_part(dossier.code)


def look_up(caller, query: str, last4: str) -> str:
    """From the main menu: ask for a dossier's status, answer the citizen-id question if asked.
    Returns everything heard along the way."""
    caller.press("3")
    heard = [caller.heard()]
    if ASKS_FOR_A_CODE in heard[-1]:
        caller.press(query + "#")
        heard.append(caller.heard())
        if ASKS_FOR_DIGITS in heard[-1]:
            caller.press(last4 + "#")
            heard.append(caller.heard())
    return " | ".join(heard)


def dial(new_caller, number: str):
    caller = new_caller(caller=number)
    caller.dial_in()
    return caller


def test_one_call_guessing_ten_times_never_hears_the_status(new_caller, code):
    caller = dial(new_caller, strangers(1)[0])
    heard = [look_up(caller, code, last4) for last4 in [*WRONG_GUESSES, RIGHT]]
    assert all(STATUS not in h for h in heard)
    assert not caller.hung_up  # still offered the other services


def test_the_fourth_look_up_in_a_call_is_refused_even_with_the_right_digits(new_caller, code):
    caller = dial(new_caller, strangers(1)[0])
    for last4 in WRONG_GUESSES[:3]:
        assert NOT_FOUND in look_up(caller, code, last4)
    heard = look_up(caller, code, RIGHT)
    assert LIMIT in heard and "số điện thoại đã đăng ký trong hồ sơ" in heard
    assert ASKS_FOR_A_CODE not in heard and STATUS not in heard
    assert "Tra hồ sơ bấm 3" in heard  # back at the main menu
    caller.press("0")  # the polite way on: the operator
    assert caller.twiml.find("Dial") is not None


def test_unknown_codes_use_up_the_calls_look_ups_too(new_caller, code, session):
    caller = dial(new_caller, strangers(1)[0])
    for unknown in ("2612019997", "2612019998", "2612019999"):
        assert NOT_FOUND in look_up(caller, unknown, RIGHT)
    heard = look_up(caller, code, RIGHT)
    assert LIMIT in heard and STATUS not in heard
    attempts = session.scalars(select(DossierLookupAttempt)).all()
    assert [(a.dossier_id, a.result, a.caller) for a in attempts] == [
        (None, "unknown", "+8498****000")
    ] * 3


def _prompts(twiml: ET.Element) -> list[tuple[str, ...]]:
    """What the caller hears and how the IVR listens, without the call's own URLs."""
    return [
        (el.tag, el.text or "", el.get("numDigits", ""), el.get("finishOnKey", ""))
        for el in twiml.iter()
        if el.tag in ("Say", "Play", "Gather", "Hangup", "Record", "Dial")
    ]


@pytest.mark.parametrize(
    "existing, unknown", [("code", "2612019999"), ("90617", "12345")], ids=["code", "vessel"]
)
def test_an_unknown_code_and_a_wrong_citizen_id_sound_the_same(new_caller, code, existing, unknown):
    wrong_id, no_such = dial(new_caller, strangers(2)[0]), dial(new_caller, strangers(2)[1])
    for caller, query in ((wrong_id, code if existing == "code" else existing), (no_such, unknown)):
        look_up(caller, query, "0000")
        look_up(caller, query, "1234")
    assert [_prompts(t) for t in wrong_id.history] == [_prompts(t) for t in no_such.history]
    assert NOT_FOUND in " ".join(el.text or "" for el in no_such.history[-1].iter("Say"))


def test_five_failures_from_other_numbers_block_the_dossier_but_never_its_owner(
    new_caller, code, session
):
    numbers = strangers(6)
    for number, last4 in zip(numbers[:5], WRONG_GUESSES, strict=False):
        assert NOT_FOUND in look_up(dial(new_caller, number), code, last4)

    heard = look_up(dial(new_caller, numbers[5]), code, RIGHT)
    assert STATUS not in heard and NOT_FOUND in heard  # refused, and it sounds like a wrong id

    owner = dial(new_caller, OWNER)
    assert STATUS in look_up(owner, code, "")
    assert STATUS in look_up(dial(new_caller, OWNER), "", "")  # "my latest dossier" too

    results = [a.result for a in session.scalars(select(DossierLookupAttempt))]
    assert results == ["wrong"] * 5 + ["blocked"]
    blocked = session.scalars(select(AuditEvent)).one()
    assert (blocked.actor, blocked.action) == ("ivr", "status_lookup.blocked")


def test_four_failures_do_not_block_and_a_block_ends_by_itself(new_caller, code, clock):
    numbers = strangers(7)
    for number, last4 in zip(numbers[:4], WRONG_GUESSES, strict=False):
        look_up(dial(new_caller, number), code, last4)
    assert STATUS in look_up(dial(new_caller, numbers[4]), code, RIGHT)

    look_up(dial(new_caller, numbers[5]), code, "0000")  # the fifth failure
    assert STATUS not in look_up(dial(new_caller, numbers[6]), code, RIGHT)
    clock.advance(dt.timedelta(hours=24, minutes=1))
    assert STATUS in look_up(dial(new_caller, numbers[6]), code, RIGHT)


def test_a_supervisor_lifts_the_block_and_the_right_digits_work_again(
    new_caller, code, voice_app, voice_runtime, session, clock
):
    for number, last4 in zip(strangers(5), WRONG_GUESSES, strict=False):
        look_up(dial(new_caller, number), code, last4)
    citizen = "+84977000111"  # the owner, on a neighbour's phone
    assert STATUS not in look_up(dial(new_caller, citizen), code, RIGHT)

    staff = voice_app.test_client()
    make_user(voice_runtime, "hoa", Role.SUPERVISOR)
    log_in(staff, "hoa")
    dossier_id = session.scalars(select(DossierLookupAttempt.dossier_id)).first()
    page_url = f"/admin/dossiers/{dossier_id}"
    page = staff.get(page_url).get_data(as_text=True)
    assert "Tra cứu qua điện thoại bị khoá đến 02/12/2026 09:00" in page
    clock.advance(dt.timedelta(minutes=5))
    lifted = staff.post(
        f"{page_url}/status-lookup/unblock", data={"csrf_token": token(staff, page_url)}
    )
    assert lifted.status_code == 302
    assert "bị khoá" not in staff.get(page_url).get_data(as_text=True)

    clock.advance(dt.timedelta(minutes=1))
    assert STATUS in look_up(dial(new_caller, citizen), code, RIGHT)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("status_lookup.%")).order_by(AuditEvent.id)
    )
    actions = [(e.actor, e.action) for e in events]
    assert actions == [("ivr", "status_lookup.blocked"), ("staff:hoa", "status_lookup.unblocked")]


def test_a_hidden_number_is_limited_like_any_other(new_caller, code):
    caller = dial(new_caller, "anonymous")
    for last4 in WRONG_GUESSES[:3]:
        look_up(caller, code, last4)
    assert LIMIT in look_up(caller, code, RIGHT)
