"""What the SMPP bind receives, stored: receipts in any order, citizens' messages once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from sms.dispatch import dispatch_due
from sms.gateways.base import Accepted, OutgoingSms
from sms.gateways.smpp_codec import MobileOriginated, Receipt
from sms.models import InboundMessage, Notice, NoticeStatus
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
