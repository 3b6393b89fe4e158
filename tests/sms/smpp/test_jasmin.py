"""End to end through a real Jasmin: the outbox sends, the carrier simulator receives, receipts
and citizens' messages come back through Jasmin to our bind and into the database."""

from __future__ import annotations

from sqlalchemy import select

from sms.dispatch import dispatch_due
from sms.encoding import prepare
from sms.models import InboundMessage, Notice, NoticeStatus
from sms.outbox import enqueue_written
from sms.templates import short_code
from tests.factories import create_dossier, create_notice
from tests.sms.smpp.conftest import wait_until

PHONE = "0912345678"
INTERNATIONAL = "84912345678"


def _status(runtime, notice_id: int) -> NoticeStatus:
    with runtime.sessions() as session:
        return session.get(Notice, notice_id).status


def _notice(runtime, **values) -> int:
    with runtime.sessions() as session, session.begin():
        return create_notice(session, runtime, **values).id


def _written(runtime, text: str, policy: str, phone: str = PHONE) -> int:
    with runtime.sessions() as session, session.begin():
        measure = prepare(text, policy)
        return enqueue_written(session, kind="stopped", phone=phone, measure=measure,
                               now=runtime.clock.now()).id  # fmt: skip


def _dispatch(runtime, gateway):
    return dispatch_due(runtime.sessions, gateway, runtime.settings, runtime.clock)


def test_a_notice_goes_through_jasmin_and_its_receipt_comes_back(stack, smpp_runtime, make_gateway):
    gateway = make_gateway()
    notice_id = _notice(smpp_runtime, kind="receipt")
    report = _dispatch(smpp_runtime, gateway)
    assert report.sent == [notice_id]
    assert wait_until(lambda: _status(smpp_runtime, notice_id) is NoticeStatus.DELIVERED)
    with smpp_runtime.sessions() as session:
        notice = session.get(Notice, notice_id)
        assert notice.gateway == "smpp" and notice.provider_status == "delivered"
        taken = [m for m in stack.carrier.messages() if m[2] == notice.text]
    assert taken == [("TTHCC QNGAI", INTERNATIONAL, notice.text)]


def test_a_two_part_vietnamese_notice_and_a_stripped_one_arrive_whole(
    stack, smpp_runtime, make_gateway
):
    gateway = make_gateway()
    text = (
        "TTHCC Quảng Ngãi: hồ sơ của ông/bà cần bổ sung bản sao giấy chứng nhận "
        "đăng ký tàu cá. Hỏi đáp: 02553822222"
    )
    unicode_id = _written(smpp_runtime, text, "unicode", phone="0912000001")
    stripped_id = _written(smpp_runtime, text, "strip", phone="0912000002")
    with smpp_runtime.sessions() as session:
        unicode, stripped = session.get(Notice, unicode_id), session.get(Notice, stripped_id)
        assert (unicode.encoding, unicode.segments) == ("UCS-2", 2)
        assert stripped.encoding == "GSM-7"
        expected = {("TTHCC QNGAI", "84912000001", unicode.text),
                    ("TTHCC QNGAI", "84912000002", stripped.text)}  # fmt: skip
    assert sorted(_dispatch(smpp_runtime, gateway).sent) == sorted([unicode_id, stripped_id])
    assert wait_until(lambda: expected <= set(stack.carrier.messages()))
    for number in ("84912000001", "84912000002"):
        parts = [s for s in stack.carrier.submitted if s.destination == number]
        assert len(parts) == (2 if number.endswith("1") else stripped.segments)
        assert {p.data_coding for p in parts} == ({8} if number.endswith("1") else {0})


def test_a_status_question_from_a_phone_is_answered_from_the_short_code(
    stack, smpp_runtime, make_gateway
):
    gateway = make_gateway()
    with smpp_runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, smpp_runtime, phone="+84912000003")
        code = dossier.code
    stack.carrier.send_mo("84912000003", "8079", f"TT {code}")
    assert wait_until(lambda: _inbound(smpp_runtime, "+84912000003"))
    (message,) = _inbound(smpp_runtime, "+84912000003")
    assert message.intent == "status" and message.provider == "smpp"
    with smpp_runtime.sessions() as session:
        reply = session.get(Notice, message.reply_notice_id)
        assert reply.kind == "status_reply" and short_code(code) in reply.text
    assert _dispatch(smpp_runtime, gateway).sent == [reply.id]
    assert wait_until(lambda: ("8079", "84912000003", reply.text) in stack.carrier.messages())


def _inbound(runtime, sender: str) -> list[InboundMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(InboundMessage).where(InboundMessage.sender == sender)))


def test_a_carrier_refusal_reaches_us_as_an_undeliv_receipt(stack, smpp_runtime, make_gateway):
    # Jasmin 0.11.1 turns a carrier's refusal into a receipt only for registered_delivery 2
    # (README "SMPP"); receipts the carrier itself sends come back with either.
    gateway = make_gateway(registered_delivery=2)
    stack.carrier.outcomes["84912000004"] = "refuse:0x08"  # system error: Jasmin retries it
    notice_id = _notice(smpp_runtime, kind="receipt", phone="0912000004")
    # Jasmin accepts it first: the refusal comes later, after its own retries, as a receipt.
    assert _dispatch(smpp_runtime, gateway).sent == [notice_id]
    assert wait_until(lambda: _status(smpp_runtime, notice_id) is NoticeStatus.UNDELIVERED)
    with smpp_runtime.sessions() as session:
        notice = session.get(Notice, notice_id)
        assert notice.provider_status == "undelivered" and notice.settled_at is not None


def test_an_undelivered_receipt_from_the_carrier_comes_back(stack, smpp_runtime, make_gateway):
    gateway = make_gateway()
    stack.carrier.outcomes["84912000005"] = "undeliver"
    notice_id = _notice(smpp_runtime, kind="receipt", phone="0912000005")
    assert _dispatch(smpp_runtime, gateway).sent == [notice_id]
    assert wait_until(lambda: _status(smpp_runtime, notice_id) is NoticeStatus.UNDELIVERED)
