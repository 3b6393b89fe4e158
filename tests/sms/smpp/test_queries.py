"""query_sm for notices whose receipt was lost: the gateway bound to the carrier simulator (an
SMPP server that answers query_sm; Jasmin does not, test_jasmin.py), the outbox in a database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from plumbing.settings import SmppSettings
from scheduler.process import smpp_upkeep_tick
from sms.dispatch import dispatch_due
from sms.gateways.smpp import SmppGateway
from sms.models import Notice, NoticeStatus
from sms.receipt_queries import query_overdue
from tests.factories import create_notice


def _with_queries(runtime, **values) -> None:
    smpp = runtime.settings.sms.smpp.model_copy(
        update={"query_sm": True, "query_sm_after_minutes": 60, **values}
    )
    sms = runtime.settings.sms.model_copy(update={"smpp": smpp})
    scheduler = runtime.settings.scheduler.model_copy(update={"unknown_after_seconds": 60})
    runtime.settings = runtime.settings.model_copy(update={"sms": sms, "scheduler": scheduler})


@pytest.fixture
def gateway(carrier):
    settings = SmppSettings(port=carrier.port, system_id="tongdai", rate_per_second=0,
                            response_timeout_seconds=0.5, reconnect_max_seconds=0.5)  # fmt: skip
    gateway = SmppGateway(settings, "secret", on_delivery=lambda delivery, notice: True).start()
    assert gateway.wait_bound(5)
    yield gateway
    gateway.close()


def _sent(runtime, gateway, carrier, outcomes: dict[str, str]) -> dict[str, int]:
    """Notices to these numbers (local form), sent through the gateway: phone -> notice id."""
    ids = {}
    with runtime.sessions() as session, session.begin():
        for phone, outcome in outcomes.items():
            carrier.outcomes["84" + phone[1:]] = outcome
            ids[phone] = create_notice(session, runtime, kind="receipt", phone=phone).id
    dispatch_due(runtime.sessions, gateway, runtime.settings, runtime.clock)
    return ids


def _notice(runtime, notice_id: int) -> Notice:
    with runtime.sessions() as session:
        return session.get(Notice, notice_id)


def test_a_notice_whose_receipt_was_lost_is_settled_by_query_sm(runtime, clock, gateway, carrier):
    _with_queries(runtime)
    ids = _sent(runtime, gateway, carrier, {"0912000031": "noreceipt:DELIVRD",
                                           "0912000032": "noreceipt:UNDELIV",
                                           "0912000033": "noreceipt:ENROUTE"})  # fmt: skip
    assert {_notice(runtime, i).status for i in ids.values()} == {NoticeStatus.SENT}
    # Not yet: a receipt may still come.
    assert query_overdue(runtime.sessions, gateway, runtime.settings, clock) == 0
    assert carrier.queries == []
    clock.advance(dt.timedelta(minutes=61))
    assert query_overdue(runtime.sessions, gateway, runtime.settings, clock) == 2
    delivered, undelivered, en_route = (_notice(runtime, i) for i in ids.values())
    assert (delivered.status, delivered.provider_status) == (NoticeStatus.DELIVERED, "delivered")
    assert (undelivered.status, undelivered.error_code) == (NoticeStatus.UNDELIVERED, "UNDELIV")
    assert en_route.status is NoticeStatus.SENT
    assert sorted(carrier.queries) == sorted(n.provider_id for n in (delivered, undelivered,
                                                                     en_route))  # fmt: skip
    # The one still under way is asked about again only after another quiet hour.
    clock.advance(dt.timedelta(minutes=30))
    query_overdue(runtime.sessions, gateway, runtime.settings, clock)
    assert len(carrier.queries) == 3
    clock.advance(dt.timedelta(minutes=31))
    query_overdue(runtime.sessions, gateway, runtime.settings, clock)
    assert carrier.queries[3:] == [en_route.provider_id]


def test_a_notice_in_doubt_is_never_asked_about_nor_resent(runtime, clock, gateway, carrier):
    _with_queries(runtime)
    ids = _sent(runtime, gateway, carrier, {"0912000034": "silent"})  # no submit_sm_resp
    clock.advance(dt.timedelta(hours=3))
    dispatch_due(runtime.sessions, gateway, runtime.settings, clock)  # sending -> unknown
    assert query_overdue(runtime.sessions, gateway, runtime.settings, clock) == 0
    notice = _notice(runtime, ids["0912000034"])
    assert (notice.status, notice.provider_id) == (NoticeStatus.UNKNOWN, None)
    assert carrier.queries == [] and len(carrier.submitted) == 0


def test_a_round_of_questions_is_bounded(runtime, clock, gateway, carrier):
    _with_queries(runtime, query_sm_per_tick=3)
    _sent(runtime, gateway, carrier, {f"09120001{n:02d}": "noreceipt:DELIVRD" for n in range(7)})
    clock.advance(dt.timedelta(minutes=61))
    assert query_overdue(runtime.sessions, gateway, runtime.settings, clock) == 3
    assert len(carrier.queries) == 3
    smpp_upkeep_tick(runtime, gateway)  # the scheduler's job: the next three
    assert len(carrier.queries) == 6


def test_with_query_sm_off_no_question_is_ever_sent(runtime, clock, gateway, carrier):
    ids = _sent(runtime, gateway, carrier, {"0912000035": "noreceipt:DELIVRD"})
    assert runtime.settings.sms.smpp.query_sm is False  # the shipped default
    clock.advance(dt.timedelta(days=2))
    assert query_overdue(runtime.sessions, gateway, runtime.settings, clock) == 0
    smpp_upkeep_tick(runtime, gateway)
    assert carrier.queries == []
    assert _notice(runtime, ids["0912000035"]).status is NoticeStatus.SENT
    with runtime.sessions() as session:
        assert session.scalars(select(Notice.status)).all() == [NoticeStatus.SENT]


def test_an_smsc_that_refused_query_sm_is_not_asked_again(runtime, clock, gateway, carrier):
    _with_queries(runtime)
    ids = _sent(runtime, gateway, carrier, {"0912000036": "noreceipt:DELIVRD"})
    clock.advance(dt.timedelta(minutes=61))
    gateway.query_refused = "the SMSC refused query_sm: 0x03"
    assert query_overdue(runtime.sessions, gateway, runtime.settings, clock) == 0
    assert carrier.queries == []
    # Not even stamped as asked: nothing was.
    assert _notice(runtime, ids["0912000036"]).updated_at < clock.now()
