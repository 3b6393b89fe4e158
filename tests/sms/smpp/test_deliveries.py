"""What the SMPP bind receives, stored: receipts in any order, citizens' messages once."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import func, select

from sms.dispatch import dispatch_due
from sms.gateways.base import Accepted, OutgoingSms
from sms.gateways.smpp_codec import MobileOriginated, Receipt
from sms.models import InboundMessage, Notice, NoticeStatus, PartialInbound
from sms.smpp_deliveries import SmppDeliveries
from tests.factories import create_dossier, create_notice


class RacingGateway:
    """Its receipt reaches the bind before `send` has returned (and so before "sent" is
    committed), as a fast SMSC's can."""

    name = "smpp"

    def __init__(self, deliveries: SmppDeliveries, stat: str) -> None:
        self.deliveries, self.stat = deliveries, stat

    def send(self, message: OutgoingSms) -> Accepted:
        provider_id = f"JAS-{message.notice_id}"
        assert self.deliveries(Receipt(provider_id, self.stat, "000"), message.notice_id)
        return Accepted(provider_id, "sent")


def test_a_receipt_that_overtakes_the_sent_commit_is_kept(runtime, session, clock):
    delivered = create_notice(session, runtime, kind="receipt", phone="0912000010")
    refused = create_notice(session, runtime, kind="receipt", phone="0912000011")
    session.commit()
    deliveries = SmppDeliveries(runtime)
    dispatch_due(runtime.sessions, RacingGateway(deliveries, "DELIVRD"), runtime.settings, clock,
                 limit=1)  # fmt: skip
    dispatch_due(runtime.sessions, RacingGateway(deliveries, "UNDELIV"), runtime.settings, clock)
    session.expire_all()
    assert (delivered.status, delivered.provider_id) == (
        NoticeStatus.DELIVERED,
        f"JAS-{delivered.id}",
    )
    assert refused.status is NoticeStatus.UNDELIVERED and refused.error_code == "UNDELIV"
    assert delivered.sent_at is not None


def test_a_late_receipt_for_an_unknown_message_is_acknowledged_and_ignored(runtime):
    assert SmppDeliveries(runtime)(Receipt("nobody-1", "DELIVRD", None), None) is True


def test_a_redelivered_citizens_message_is_answered_once(runtime, session, clock):
    dossier = create_dossier(session, runtime, phone="+84912000012")
    session.commit()
    deliveries = SmppDeliveries(runtime)
    message = MobileOriginated("84912000012", "8079", f"tt {dossier.code}")
    assert deliveries(message, None) and deliveries(message, None)  # the SMSC's retry
    clock.set(clock.now() + dt.timedelta(hours=1))
    assert deliveries(message, None)  # asked again later: a new question
    inbound = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
    assert [(m.provider, m.sender, m.intent) for m in inbound] == [
        ("smpp", "+84912000012", "status")
    ] * 2
    replies = session.scalar(
        select(func.count()).select_from(Notice).where(Notice.kind == "status_reply")
    )
    assert replies == 2


class Died(Exception):
    pass


class NoLookupGateway:
    """Like SMPP: it cannot be asked later whether it took a message."""

    name = "smpp"

    def send(self, message: OutgoingSms) -> Accepted:
        return Accepted(f"NL-{message.notice_id}")


def test_a_gateway_without_look_up_is_given_one_notice_at_a_time(runtime, session, clock):
    for n in range(5):
        create_notice(session, runtime, kind="receipt", phone=f"091200002{n}")
    session.commit()

    def die_after_claim(point: str) -> None:
        if point == "after_claim":
            raise Died

    try:
        dispatch_due(runtime.sessions, NoLookupGateway(), runtime.settings, clock, limit=5,
                     checkpoint=die_after_claim)  # fmt: skip
    except Died:
        pass
    statuses = session.scalars(select(Notice.status)).all()
    # The dead dispatcher had claimed one notice, not five: only that one can end up unknown.
    assert sorted(statuses) == sorted([NoticeStatus.SENDING] + [NoticeStatus.PENDING] * 4)
    report = dispatch_due(runtime.sessions, NoLookupGateway(), runtime.settings, clock, limit=5)
    assert len(report.sent) == 4


COMMENT = (
    "Cán bộ tiếp nhận hồ sơ tàu cá rất nhiệt tình, hướng dẫn rõ ràng từng bước. Tuy nhiên "
    "thời gian chờ ở quầy còn lâu, mong trung tâm bố trí thêm người vào buổi sáng thứ Hai."
)


def _parts(text: str, reference: int, size: int = 67) -> list[MobileOriginated]:
    chunks = [text[at : at + size] for at in range(0, len(text), size)]
    return [MobileOriginated("84912000040", "8079", chunk, (reference, len(chunks), number))
            for number, chunk in enumerate(chunks, start=1)]  # fmt: skip


def _inbound(session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_a_long_message_in_parts_out_of_order_twice_and_across_a_restart_is_handled_once(
    runtime, session, clock
):
    first, second, third = _parts(COMMENT, reference=0x2A)
    before_restart = SmppDeliveries(runtime)
    assert before_restart(third, None) and before_restart(first, None)
    assert before_restart(first, None)  # the SMSC's redelivery: kept once
    assert _inbound(session) == []
    after_restart = SmppDeliveries(runtime)  # a new process: the parts are in the database
    assert after_restart(second, None)
    (message,) = _inbound(session)
    assert (message.provider, message.sender, message.body) == ("smpp", "+84912000040", COMMENT)
    # A part delivered again after the message was handled changes nothing.
    assert after_restart(second, None) and after_restart(third, None)
    assert len(_inbound(session)) == 1
    # The whole message delivered again whole (not in parts) keeps its once-only key too.
    assert after_restart(MobileOriginated("84912000040", "8079", COMMENT), None)
    assert len(_inbound(session)) == 1


def test_a_long_status_question_is_answered_like_a_short_one(runtime, session, clock):
    dossier = create_dossier(session, runtime, phone="+84912000041")
    session.commit()
    text = f"TT {dossier.code}"
    deliveries = SmppDeliveries(runtime)
    for part in [MobileOriginated("84912000041", "8079", text[:4], (7, 2, 1)),
                 MobileOriginated("84912000041", "8079", text[4:], (7, 2, 2))]:  # fmt: skip
        assert deliveries(part, None)
    (message,) = _inbound(session)
    assert (message.body, message.intent, message.dossier_id) == (text, "status", dossier.id)


def test_a_long_message_missing_a_part_is_handled_as_it_is_after_the_expiry(
    runtime, session, clock, caplog
):
    first, second, third = _parts(COMMENT, reference=0x2B)
    deliveries = SmppDeliveries(runtime)
    assert deliveries(first, None) and deliveries(third, None)
    clock.advance(dt.timedelta(minutes=runtime.settings.sms.smpp.concat_expiry_minutes - 1))
    assert deliveries.expire_parts() == 0 and _inbound(session) == []
    clock.advance(dt.timedelta(minutes=2))
    assert deliveries.expire_parts() == 1
    (message,) = _inbound(session)
    assert message.body == first.text + third.text
    assert "lacks part(s) [2] of 3" in caplog.text
    # The missing part, arriving late after all, is not a second message.
    assert deliveries(second, None) and len(_inbound(session)) == 1
    # Once the redelivery window has passed the row is gone, and the reference may be used
    # again by the phone for a new message.
    clock.advance(dt.timedelta(minutes=11))
    assert deliveries.expire_parts() == 0
    assert session.scalar(select(func.count()).select_from(PartialInbound)) == 0
    again = _parts("Cảm ơn trung tâm. " * 5, reference=0x2B)
    for part in again:
        assert deliveries(part, None)
    assert [m.body for m in _inbound(session)][1] == "Cảm ơn trung tâm. " * 5


class StandingBy(NoLookupGateway):
    """A process without a bind slot: another holds the account's binds."""

    def may_send(self) -> bool:
        return False


def test_a_dispatcher_standing_by_leaves_the_outbox_to_the_process_holding_the_binds(
    runtime, session, clock
):
    notice = create_notice(session, runtime, kind="receipt", phone="0912000042")
    session.commit()
    report = dispatch_due(runtime.sessions, StandingBy(), runtime.settings, clock)
    assert report.claimed == 0
    session.expire_all()
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 0)
    assert dispatch_due(runtime.sessions, NoLookupGateway(), runtime.settings, clock).sent == [
        notice.id
    ]


def test_the_parts_of_a_message_arriving_at_once_on_two_binds_make_one_message(smpp_runtime):
    # PostgreSQL: two processes' binds may each get one part at the same moment.
    deliveries = [SmppDeliveries(smpp_runtime), SmppDeliveries(smpp_runtime)]
    texts = [f"{n:02d} {COMMENT}" for n in range(15)]  # the same words twice are one
    results: list[bool] = []

    def deliver(barrier: threading.Barrier, index: int, part: MobileOriginated) -> None:
        barrier.wait()
        results.append(deliveries[index](part, None))

    for reference, text in enumerate(texts):
        first, *rest = _parts(text, reference=reference)
        assert deliveries[0](first, None)
        # The other two at the same moment: each must see the other's part.
        barrier = threading.Barrier(len(rest))
        threads = [threading.Thread(target=deliver, args=(barrier, i, p))
                   for i, p in enumerate(rest)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [True] * 2 * len(texts)
    with smpp_runtime.sessions() as session:
        bodies = session.scalars(select(InboundMessage.body).order_by(InboundMessage.id)).all()
    assert bodies == texts
