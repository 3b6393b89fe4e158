"""End to end through a real Jasmin: the outbox sends, the carrier simulator receives, receipts
and citizens' messages come back through Jasmin to our bind and into the database."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from plumbing.leader import Slots
from sms.dispatch import dispatch_due
from sms.encoding import prepare
from sms.gateways.base import TransientSendError
from sms.gateways.factory import SMPP_BIND_LOCKS
from sms.gateways.smpp import SmppGateway
from sms.gateways.smpp_codec import MobileOriginated
from sms.models import InboundMessage, Notice, NoticeStatus
from sms.outbox import enqueue_written
from sms.smpp_deliveries import SmppDeliveries
from sms.templates import short_code
from tests.factories import create_dossier, create_notice
from tests.sms.smpp.conftest import wait_until
from tests.sms.smpp.jasmin import PASSWORD

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


def test_jasmins_throughput_limit_throttles_a_faster_sender_and_not_ours(
    stack, smpp_runtime, make_gateway
):
    stack.jasmin.add_user("tdslow", "slow-pw1", throughput=5)
    phones = [f"09121001{n:02d}" for n in range(6)]
    ids = [_notice(smpp_runtime, kind="receipt", phone=phone) for phone in phones]
    # No rate of our own: Jasmin answers the excess with ESME_RTHROTTLED, a transient refusal.
    eager = make_gateway(system_id="tdslow", password="slow-pw1", rate_per_second=0)
    report = _dispatch(smpp_runtime, eager)
    assert report.retrying and len(report.sent) + len(report.retrying) == len(ids)
    with smpp_runtime.sessions() as session:
        throttled = [session.get(Notice, i) for i in report.retrying]
    assert {(n.status, n.error_code) for n in throttled} == {(NoticeStatus.PENDING, "0x58")}
    # The account's rate, shared by every dispatcher, keeps under the limit: nothing throttled.
    # (Slots are a schedule, not a minimum gap: a send that starts late brings the next one
    # closer, so the configured rate needs a margin below the carrier's limit.)
    more = [_notice(smpp_runtime, kind="receipt", phone=f"09121002{n:02d}") for n in range(6)]
    polite = make_gateway(system_id="tdslow", password="slow-pw1", rate_per_second=3)
    time.sleep(0.5)  # Jasmin counts from the eager sender's last accepted message
    report = _dispatch(smpp_runtime, polite)
    assert sorted(report.sent) == sorted(more) and not report.retrying


def test_jasmin_restarted_mid_run_loses_no_notice_and_sends_none_twice(
    stack, smpp_runtime, make_gateway
):
    scheduler = smpp_runtime.settings.scheduler.model_copy(
        update={
            "retry_base_seconds": 0.2,
            "retry_max_delay_seconds": 1.0,
            "unknown_after_seconds": 3.0,
        }  # fmt: skip
    )
    smpp_runtime.settings = smpp_runtime.settings.model_copy(update={"scheduler": scheduler})
    gateway = make_gateway(rate_per_second=20)
    phones = {f"09122000{n:02d}": None for n in range(30)}
    for phone in phones:
        phones[phone] = _notice(smpp_runtime, kind="receipt", phone=phone)
    done = threading.Event()
    restarted = threading.Event()

    def dispatcher():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not done.is_set():
            _dispatch(smpp_runtime, gateway)
            with smpp_runtime.sessions() as session:
                open_ = session.scalar(
                    select(func.count())
                    .select_from(Notice)
                    .where(Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.SENDING]))
                )
            if open_ == 0 and restarted.is_set():
                return
            time.sleep(0.05)

    worker = threading.Thread(target=dispatcher)
    worker.start()
    assert wait_until(lambda: len(stack.carrier.submitted) >= 8)
    stack.jasmin.restart()
    back_at = dt.datetime.now(dt.UTC)
    restarted.set()
    worker.join(70)
    done.set()
    assert gateway.binds[0].binds >= 2, gateway.health()  # it bound again
    with smpp_runtime.sessions() as session:
        notices = {n.id: n for n in session.scalars(select(Notice))}
    statuses = Counter(n.status for n in notices.values())
    unknown = [n for n in notices.values() if n.status is NoticeStatus.UNKNOWN]
    settled = {NoticeStatus.SENT, NoticeStatus.DELIVERED}
    assert set(statuses) <= settled | {NoticeStatus.UNKNOWN}, statuses
    wanted = {"84" + p[1:] for p, i in phones.items() if notices[i].status in settled}
    assert wait_until(lambda: wanted <= {s.destination for s in stack.carrier.submitted}, 20)
    # Nothing sent twice by us: Jasmin took one message per notice from our bind.
    accepted = stack.jasmin.accepted()
    ours = {"84" + p[1:] for p in phones}
    assert {d: len(ids) for d, ids in accepted.items() if d in ours} == {
        d: 1 for d in ours if notices[phones["0" + d[2:]]].status in settled
    }
    # Jasmin's own queue may hand the carrier a message again when it is stopped between the
    # carrier's answer and its acknowledgement (it is at-least-once); counted, not ours.
    per_phone = Counter(s.destination for s in stack.carrier.submitted if s.destination in ours)
    redelivered = sum(count - 1 for count in per_phone.values())
    # Receipts keep coming after the restart (Jasmin keeps its receipt map in Redis); one that
    # Jasmin took just before it stopped may be lost with it, leaving its notice `sent`.
    later = [i for i, n in notices.items() if n.status in settled and n.sent_at > back_at]
    assert later and wait_until(
        lambda: all(_status(smpp_runtime, i) is NoticeStatus.DELIVERED for i in later), 20
    ), Counter(_status(smpp_runtime, i) for i in later)
    time.sleep(1.0)
    receipts = Counter(_status(smpp_runtime, i) for i in notices)
    # A notice in doubt (its submit was on the wire when Jasmin went down) is counted, and
    # reached the carrier at most once.
    reached = sum(1 for n in unknown if per_phone["84" + n.phone[3:]])
    print(f"restart: {dict(statuses)}; unknown that reached the carrier: {reached} of "
          f"{len(unknown)}; Jasmin's own redeliveries: {redelivered}; receipts: "
          f"{dict(receipts)}")  # fmt: skip


def test_a_window_of_ten_keeps_several_submits_outstanding(stack, smpp_runtime, make_gateway):
    gateway = make_gateway(window=10)
    ids = [_notice(smpp_runtime, kind="receipt", phone=f"09123000{n:02d}") for n in range(30)]
    report = _dispatch(smpp_runtime, gateway)
    assert sorted(report.sent) == sorted(ids)
    assert gateway.binds[0].peak_outstanding > 1
    accepted = stack.jasmin.accepted()
    assert all(len(accepted[f"849123000{n:02d}"]) == 1 for n in range(30))


COMMENT = (
    "Cán bộ tiếp nhận hồ sơ tàu cá rất nhiệt tình, hướng dẫn rõ ràng từng bước. Tuy nhiên "
    "thời gian chờ ở quầy còn lâu, mong trung tâm bố trí thêm người vào buổi sáng thứ Hai."
)


class Recording(SmppDeliveries):
    """Stores as usual, and keeps what the bind received, as received."""

    def __init__(self, runtime) -> None:
        super().__init__(runtime)
        self.seen: list[object] = []

    def __call__(self, delivery, notice_id):
        self.seen.append(delivery)
        return super().__call__(delivery, notice_id)


@pytest.mark.parametrize(
    ("concatenation", "reference", "sender"),
    [("udh", 0x31, "84912000051"), ("sar", 0x1234, "84912000052")],
)
def test_a_long_vietnamese_message_from_a_phone_arrives_whole_through_jasmin(
    stack, smpp_runtime, concatenation, reference, sender
):
    recording = Recording(smpp_runtime)
    gateway = SmppGateway(stack.smpp_settings(), PASSWORD, on_delivery=recording).start()
    try:
        assert gateway.wait_bound(10)
        # Out of order, the first part twice (as a carrier retrying it would).
        stack.carrier.send_mo_parts(sender, "8079", COMMENT, reference=reference,
                                    concatenation=concatenation, order=[3, 1, 1, 2])  # fmt: skip
        assert wait_until(lambda: _inbound(smpp_runtime, "+" + sender))
        assert wait_until(lambda: len(recording.seen) >= 4)
        time.sleep(1.0)  # anything Jasmin still had to send
    finally:
        gateway.close()
    (message,) = _inbound(smpp_runtime, "+" + sender)
    assert message.body == COMMENT and message.provider == "smpp"
    # Jasmin passed the parts through one by one, with their UDH or SAR TLVs (it reassembles
    # long messages only for HTTP connectors): the reassembly is ours.
    parts = [d for d in recording.seen if isinstance(d, MobileOriginated)]
    assert len(parts) == 4 and {p.concat[2] for p in parts} == {1, 2, 3}
    assert {p.concat[:2] for p in parts} == {(reference, 3)}


def test_jasmins_bind_limit_and_ours(stack, smpp_runtime):
    stack.jasmin.add_user("tdone", "one-pw1", max_bindings=1)
    settings = stack.smpp_settings(system_id="tdone", reconnect_max_seconds=1.0, max_binds=1)
    made: list[SmppGateway] = []

    def gateway(slots=None) -> SmppGateway:
        made.append(SmppGateway(settings, "one-pw1", slots=slots).start())
        return made[-1]

    try:
        # Two processes that do not share the limit: Jasmin refuses the second bind.
        first = gateway()
        assert first.wait_bound(10)
        second = gateway()
        assert wait_until(lambda: second.health()["state"] == "refused"), second.health()
        assert "ESME_RBINDFAIL" in second.health()["binds"][0]["error"]
        second.close()
        first.close()
        # Sharing it through the database: one binds, the other stands by, and takes over
        # when the first goes.
        holders = [gateway(Slots(smpp_runtime.engine, SMPP_BIND_LOCKS, 1, "smpp"))
                   for _ in range(2)]  # fmt: skip
        assert wait_until(
            lambda: sorted(h.health()["state"] for h in holders) == ["bound", "standby"], 20
        ), [h.health() for h in holders]
        bound, standby = sorted(holders, key=lambda h: h.health()["state"])
        assert not standby.may_send() and standby.binds[0].binds == 0
        bound.close()
        assert wait_until(lambda: standby.health()["state"] == "bound", 30), standby.health()
        assert standby.may_send()
    finally:
        for made_gateway in made:
            made_gateway.close()


def test_jasmin_does_not_answer_query_sm_and_the_gateway_stops_asking(
    stack, smpp_runtime, make_gateway
):
    gateway = make_gateway(query_sm=True)
    notice_id = _notice(smpp_runtime, kind="receipt", phone="0912000053")
    assert _dispatch(smpp_runtime, gateway).sent == [notice_id]
    with smpp_runtime.sessions() as session:
        message_id = session.get(Notice, notice_id).provider_id
    with pytest.raises(TransientSendError):
        gateway.query(message_id)
    assert gateway.query_refused and gateway.health()["query_sm"] == gateway.query_refused
    print(f"Jasmin and query_sm: {gateway.query_refused}; binds so far {gateway.binds[0].binds}")
    assert gateway.wait_bound(15)  # bound again if Jasmin dropped the line
    with pytest.raises(TransientSendError, match="query_sm is off"):
        gateway.query(message_id)
