"""The outbox: enqueue is the only way in, each notice is sent once, failures are classified."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import select

from intake.models import Dossier
from scheduler.rules import Rules
from sms.dispatch import dispatch_due
from sms.gateways.base import PermanentSendError, TransientSendError
from sms.models import Notice, NoticeStatus
from sms.receipts import apply_receipt
from tests.factories import create_dossier, create_notice
from tests.fakes import RecordingGateway

VN = dt.timezone(dt.timedelta(hours=7))


def _queue(session, runtime, phone="0912 345 678", **fields):
    notice = create_notice(session, runtime, phone=phone, **fields)
    session.commit()
    return notice


def _receipt(session, runtime, dossier, now):
    """The receipt the notice rules queue for `dossier` (None when its number gets no SMS)."""
    Rules(runtime.settings, runtime.calendar()).scan_events(session, now)
    return session.scalar(
        select(Notice).where(Notice.dossier_id == dossier.id, Notice.kind == "receipt")
    )


def test_a_receipt_is_queued_and_sent_once(session, runtime):
    dossier = create_dossier(session, runtime)
    notice = _receipt(session, runtime, dossier, runtime.clock.now())
    session.commit()
    gateway = RecordingGateway()
    first = dispatch_due(runtime.sessions, gateway, runtime.settings, runtime.clock)
    second = dispatch_due(runtime.sessions, gateway, runtime.settings, runtime.clock)
    assert first.sent == [notice.id] and second.claimed == 0
    assert [m.to for m in gateway.sent] == ["+84912345678"]
    assert gateway.sent[0].text.startswith(f"TTHCC Quang Ngai: Da tiep nhan ho so {dossier.code}")
    assert gateway.sent[0].sender == "TTHCC QNGAI"
    session.refresh(notice)
    assert (notice.status, notice.provider_id, notice.attempts) == (
        NoticeStatus.SENT,
        "FAKE000001",
        1,
    )


def test_a_landline_gets_no_sms_and_the_dossier_is_flagged_for_a_phone_call(session, runtime):
    dossier = create_dossier(session, runtime, phone="+842553822222")
    assert _receipt(session, runtime, dossier, runtime.clock.now()) is None
    session.commit()
    assert session.get(Dossier, dossier.id).needs_phone_call is True
    assert session.scalars(select(Notice)).all() == []


def test_the_gateway_is_called_after_the_claim_is_committed(session, runtime):
    notice = _queue(session, runtime)
    seen = []

    def look(message):
        # A fresh session sees the claim: the dispatcher holds no transaction during the call.
        with runtime.sessions() as other:
            seen.append(other.get(Notice, message.notice_id).status)

    dispatch_due(runtime.sessions, RecordingGateway(script=look), runtime.settings, runtime.clock)
    assert seen == [NoticeStatus.SENDING]
    session.refresh(notice)
    assert notice.status is NoticeStatus.SENT


def test_a_transient_failure_retries_later_and_a_permanent_one_stops(session, runtime, clock):
    flaky = _queue(session, runtime, phone="0912000001")
    doomed = _queue(session, runtime, phone="0912000002")

    def script(message):
        if message.to.endswith("1"):
            return TransientSendError("503 from provider", code="503")
        return PermanentSendError("invalid number", code="21211")

    report = dispatch_due(runtime.sessions, RecordingGateway(script), runtime.settings, clock)
    assert (report.retrying, report.failed) == ([flaky.id], [doomed.id])
    session.refresh(flaky)
    session.refresh(doomed)
    assert flaky.status is NoticeStatus.PENDING and flaky.next_attempt_at > clock.now()
    assert (doomed.status, doomed.error_code) == (NoticeStatus.FAILED, "21211")

    ok = RecordingGateway()
    assert dispatch_due(runtime.sessions, ok, runtime.settings, clock).claimed == 0
    clock.advance(dt.timedelta(minutes=5))
    assert dispatch_due(runtime.sessions, ok, runtime.settings, clock).sent == [flaky.id]
    assert [m.notice_id for m in ok.sent] == [flaky.id]


def test_quiet_hours_hold_centre_notices_but_not_receipts(session, runtime, clock):
    clock.set(dt.datetime(2026, 12, 1, 22, 30, tzinfo=VN))
    held = _queue(session, runtime, kind="stopped")
    dossier = create_dossier(session, runtime)
    receipt = _receipt(session, runtime, dossier, clock.now())
    session.commit()
    assert held.next_attempt_at == dt.datetime(2026, 12, 2, 7, 0, tzinfo=VN)
    gateway = RecordingGateway()
    assert dispatch_due(runtime.sessions, gateway, runtime.settings, clock).sent == [receipt.id]
    clock.set(dt.datetime(2026, 12, 2, 7, 0, tzinfo=VN))
    assert dispatch_due(runtime.sessions, gateway, runtime.settings, clock).sent == [held.id]


def test_a_receipt_never_moves_a_notice_backwards(session, runtime):
    notice = _queue(session, runtime)
    dispatch_due(runtime.sessions, RecordingGateway(), runtime.settings, runtime.clock)
    now = runtime.clock.now()
    for state in ("delivered", "sent", "queued"):
        apply_receipt(session, provider_id="FAKE000001", provider_status=state, now=now)
    session.commit()
    session.refresh(notice)
    assert notice.status is NoticeStatus.DELIVERED


def test_a_receipt_that_overtakes_the_sent_commit_is_kept(session, runtime):
    notice = _queue(session, runtime)

    def receipt_first(message):
        with runtime.sessions() as other, other.begin():
            apply_receipt(other, provider_id="FAKE000001", provider_status="delivered",
                          now=runtime.clock.now(), notice_id=message.notice_id)  # fmt: skip

    dispatch_due(runtime.sessions, RecordingGateway(receipt_first), runtime.settings,
                 runtime.clock)  # fmt: skip
    session.refresh(notice)
    assert (notice.status, notice.provider_id) == (NoticeStatus.DELIVERED, "FAKE000001")


def test_two_dispatchers_on_postgresql_never_send_a_notice_twice(pg_only_url, base_settings, clock):
    from intake.runtime import Runtime
    from plumbing.db import make_engine, make_session_factory

    settings = base_settings.model_copy(update={"database_url": pg_only_url})
    engine = make_engine(pg_only_url)
    runtime = Runtime(settings, engine, make_session_factory(engine), clock)
    with runtime.sessions() as session:
        for i in range(60):
            create_notice(session, runtime, phone=f"09120000{i:02d}")
        session.commit()

    def slow(_message):
        time.sleep(0.005)  # keep claims overlapping

    gateway = RecordingGateway(slow)
    threads = [
        threading.Thread(
            target=lambda: [
                dispatch_due(runtime.sessions, gateway, settings, clock, limit=7) for _ in range(10)
            ]  # fmt: skip
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    ids = [m.notice_id for m in gateway.sent]
    assert len(ids) == len(set(ids)) == 60
