"""Inbound SMS as citizens really type them: status, ratings, opt-out, and provider retries."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from intake.codes import spoken_part
from sms.inbound import InboundSms, handle_inbound, opted_out, parse_intent
from sms.models import InboundMessage, Notice, SurveyRating
from sms.outbox import enqueue
from tests.factories import create_dossier

OWNER = "+84912345678"


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("1", ("rating", "1")), (" 2 ", ("rating", "2")), ("3.", ("rating", "3")),
        ("HUY", ("opt_out", "")), ("Huỷ", ("opt_out", "")), ("hủy", ("opt_out", "")),
        ("tu choi", ("opt_out", "")), ("TỪ CHỐI", ("opt_out", "")), ("TUCHOI.", ("opt_out", "")),
        ("DK", ("opt_in", "")), ("Đk", ("opt_in", "")), ("dang ky", ("opt_in", "")),
        ("TT 2612010001", ("status", "2612010001")),
        ("tt2612010001", ("status", "2612010001")),
        ("TT: 261201 0001", ("status", "261201 0001")),
        ("Tra cứu 261201-0001", ("status", "261201-0001")),
        ("TRACUU 000.00.53.H48.TD-261201-0001",
         ("status", "000.00.53.h48.td-261201-0001")),
        ("hello", ("help", "")), ("", ("help", "")), ("TTHC", ("help", "")),
        ("12", ("help", "")), ("4", ("help", "")),
    ],
)  # fmt: skip
def test_keywords_are_understood_in_their_messy_variants(body, intent):
    parsed = parse_intent(body)
    assert (parsed.name, parsed.argument) == intent


def _receive(session, runtime, body, sid, sender=OWNER):
    record = handle_inbound(
        session, InboundSms("twilio", sid, sender, "+8479", body),
        settings=runtime.settings, calendar=runtime.calendar(), now=runtime.clock.now(),
    )  # fmt: skip
    session.commit()
    return record


def _reply(session, record) -> Notice:
    return session.get(Notice, record.reply_notice_id)


@pytest.mark.parametrize("form", ["full", "digits", "spaced"])
def test_a_status_request_by_the_owner_gets_status_and_due_date(session, runtime, form):
    dossier = create_dossier(session, runtime, phone=OWNER)
    session.commit()
    code = {"full": dossier.code, "digits": spoken_part(dossier.code),
            "spaced": f"{dossier.code.rsplit('-', 2)[1]} {dossier.code[-4:]}"}[form]  # fmt: skip
    reply = _reply(session, _receive(session, runtime, f"tt {code}", "SM1"))
    assert reply.kind == "status_reply" and reply.phone == OWNER
    assert dossier.code in reply.text and "Moi tiep nhan" in reply.text
    assert "09/12/2026" in reply.text


def test_someone_elses_code_gets_no_personal_data(session, runtime):
    dossier = create_dossier(session, runtime, phone=OWNER)
    session.commit()
    reply = _reply(session, _receive(session, runtime, f"TT {dossier.code}", "SM2",
                                     sender="0987654321"))  # fmt: skip
    assert reply.kind == "not_found"
    assert dossier.code not in reply.text and "09/12/2026" not in reply.text


def _surveyed(session, runtime):
    dossier = create_dossier(session, runtime, phone=OWNER)
    enqueue(session, runtime.settings, kind="survey", phone=OWNER, values={"code": dossier.code},
            now=runtime.clock.now(), dossier=dossier)  # fmt: skip
    session.commit()
    return dossier


def test_a_rating_is_stored_and_a_later_reply_updates_it(session, runtime):
    dossier = _surveyed(session, runtime)
    assert _reply(session, _receive(session, runtime, "1", "SM3")).kind == "rating_thanks"
    _receive(session, runtime, " 3.", "SM4")
    ratings = session.scalars(select(SurveyRating)).all()
    assert [(r.dossier_id, r.rating) for r in ratings] == [(dossier.id, 3)]


def test_a_rating_without_a_survey_gets_the_help_text(session, runtime):
    assert _reply(session, _receive(session, runtime, "2", "SM5")).kind == "help"
    assert session.scalar(select(func.count()).select_from(SurveyRating)) == 0


def test_opt_out_and_back_in(session, runtime):
    assert _reply(session, _receive(session, runtime, "HỦY", "SM6")).kind == "opted_out"
    assert opted_out(session, OWNER) is True
    assert _reply(session, _receive(session, runtime, "dk", "SM7")).kind == "opted_in"
    assert opted_out(session, OWNER) is False


def test_a_provider_retry_is_handled_once(session, runtime):
    _surveyed(session, runtime)
    assert _receive(session, runtime, "1", "SM8") is not None
    assert _receive(session, runtime, "1", "SM8") is None
    assert session.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert session.scalar(select(func.count()).where(Notice.kind == "rating_thanks")) == 1


def test_anything_else_gets_the_help_text(session, runtime):
    reply = _reply(session, _receive(session, runtime, "cho hoi ho so cua toi", "SM9"))
    assert reply.kind == "help" and "TT <ma ho so>" in reply.text
