"""The dispatcher: backoff up to the horizon, a rate shared by processes, crash recovery."""

from __future__ import annotations

import datetime as dt

from sms.dispatch import claim_due, dispatch_due, reserve_slots, retry_delay
from sms.gateways.base import TransientSendError
from sms.gateways.console import ConsoleGateway
from sms.models import NoticeStatus
from tests.factories import create_notice
from tests.fakes import RecordingGateway


def _queue(session, runtime, phone="0912345678"):
    notice = create_notice(session, runtime, kind="receipt", phone=phone)
    session.commit()
    return notice


def _with(runtime, **scheduler):
    runtime.settings = runtime.settings.model_copy(
        update={"scheduler": runtime.settings.scheduler.model_copy(update=scheduler)}
    )
    return runtime.settings


def test_backoff_doubles_with_jitter_up_to_its_cap(base_settings):
    delays = [[retry_delay(base_settings, n) for _ in range(200)] for n in (1, 2, 3, 12)]
    base = base_settings.scheduler.retry_base_seconds
    assert base * 0.5 <= min(delays[0]) and max(delays[0]) <= base * 1.5
    assert min(delays[2]) >= base * 4 * 0.5 and max(delays[2]) <= base * 4 * 1.5
    assert max(delays[3]) <= base_settings.scheduler.retry_max_delay_seconds * 1.5
    assert len({round(d, 3) for d in delays[0]}) > 50  # jittered, not one fixed value


def test_transient_failures_retry_until_the_horizon_then_fail_with_the_reason(
    runtime, session, clock
):
    _with(runtime, retry_horizon_hours=2)
    notice = _queue(session, runtime)
    always_down = RecordingGateway(lambda m: TransientSendError("503 from provider", code="503"))
    for _ in range(100):
        dispatch_due(runtime.sessions, always_down, runtime.settings, clock)
        session.refresh(notice)
        if notice.status is NoticeStatus.FAILED:
            break
        clock.set(notice.next_attempt_at)
    assert notice.status is NoticeStatus.FAILED
    assert notice.error.startswith("retries exhausted after") and notice.error_code == "503"
    assert clock.now() - notice.created_at <= dt.timedelta(hours=2)
    assert 4 <= notice.attempts <= 12


def test_the_rate_is_shared_by_every_dispatcher(runtime, clock):
    now = clock.now()
    first = reserve_slots(runtime.sessions, "twilio", 5, 10.0, now)  # one process
    second = reserve_slots(runtime.sessions, "twilio", 5, 10.0, now)  # another, same moment
    slots = sorted(first + second)
    gaps = {round((b - a).total_seconds(), 6) for a, b in zip(slots, slots[1:], strict=False)}
    assert gaps == {0.1} and len(set(slots)) == 10
    assert reserve_slots(runtime.sessions, "console", 2, 10.0, now)[0] == now  # per gateway


def test_the_dispatcher_waits_for_its_slots(runtime, session, clock):
    _with(runtime, rate_per_second=4.0)
    for i in range(8):
        _queue(session, runtime, phone=f"091234560{i}")
    waited = []

    def sleep(seconds):
        waited.append(seconds)
        clock.advance(dt.timedelta(seconds=seconds))

    report = dispatch_due(
        runtime.sessions, RecordingGateway(), runtime.settings, clock, sleep=sleep
    )
    assert len(report.sent) == 8
    assert round(sum(waited), 6) == 1.75  # 8 messages at 4/s: the last goes 7/4 s after the first


def _crash_after_claim(runtime):
    """A dispatcher that claims and dies before calling the gateway."""
    with runtime.sessions() as session, session.begin():
        claim_due(session, runtime.clock.now(), 100)


def test_a_notice_the_provider_never_got_is_sent_again_after_the_window(runtime, session, clock):
    notice = _queue(session, runtime)
    _crash_after_claim(runtime)
    gateway = RecordingGateway()
    assert dispatch_due(runtime.sessions, gateway, runtime.settings, clock).claimed == 0
    clock.advance(dt.timedelta(seconds=runtime.settings.scheduler.unknown_after_seconds + 1))
    report = dispatch_due(runtime.sessions, gateway, runtime.settings, clock)
    assert (report.settled, report.sent) == (1, [notice.id])
    assert [m.notice_id for m in gateway.sent] == [notice.id]


def test_a_notice_the_provider_accepted_before_the_crash_is_not_sent_twice(runtime, session, clock):
    notice = _queue(session, runtime)
    gateway = RecordingGateway()
    with runtime.sessions() as claim, claim.begin():
        assert len(claim_due(claim, clock.now(), 1)) == 1  # claimed ...
    from sms.gateways.base import OutgoingSms

    gateway.send(OutgoingSms(notice.id, notice.phone, notice.text, "TTHCC QNGAI"))  # ... killed
    clock.advance(dt.timedelta(minutes=5))
    report = dispatch_due(runtime.sessions, gateway, runtime.settings, clock)
    session.refresh(notice)
    assert report.settled == 1 and report.sent == []
    assert (notice.status, notice.provider_id) == (NoticeStatus.SENT, "FAKE000001")
    assert len(gateway.sent) == 1


def test_without_a_lookup_a_notice_stays_unknown_for_staff(runtime, session, clock):
    class NoLookup:
        name = "blind"

        def send(self, message):
            raise AssertionError("must not resend a notice in doubt")

    notice = _queue(session, runtime)
    _crash_after_claim(runtime)
    clock.advance(dt.timedelta(minutes=5))
    dispatch_due(runtime.sessions, NoLookup(), runtime.settings, clock)
    session.refresh(notice)
    assert notice.status is NoticeStatus.UNKNOWN


def test_the_shipped_gateways_can_settle_a_notice_in_doubt(tmp_path):
    from sms.gateways.base import LookupGateway
    from sms.gateways.twilio import TwilioGateway

    shipped = [
        ConsoleGateway(tmp_path / "sms.log", echo=False),
        TwilioGateway("AC" + "0" * 32, "token", sender="TTHCC"),
        RecordingGateway(),
    ]
    assert [gateway.name for gateway in shipped if not isinstance(gateway, LookupGateway)] == []


def test_the_console_gateway_finds_what_it_accepted(tmp_path):
    from sms.gateways.base import OutgoingSms

    gateway = ConsoleGateway(tmp_path / "sms.log", echo=False)
    accepted = gateway.send(OutgoingSms(41, "+84912345678", "Xin chao", "TTHCC"))
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert gateway.lookup(OutgoingSms(41, "+84912345678", "Xin chao", "TTHCC"), since) == accepted
    assert gateway.lookup(OutgoingSms(4, "+84912345678", "Xin chao", "TTHCC"), since) is None


def test_a_timeout_after_the_request_went_out_is_looked_up_never_resent(runtime, session, clock):
    from sms.gateways.base import UncertainSendError

    notice = _queue(session, runtime)
    late = RecordingGateway()

    def accept_then_time_out(message):
        late.sent.append(message)  # the provider took it, but its answer never came back
        return UncertainSendError("no answer in 10 s", code="timeout")

    late._script = accept_then_time_out
    dispatch_due(runtime.sessions, late, runtime.settings, clock)
    session.refresh(notice)
    assert notice.status is NoticeStatus.SENDING  # in doubt: not pending, not retried
    clock.advance(dt.timedelta(minutes=1))
    assert dispatch_due(runtime.sessions, late, runtime.settings, clock).claimed == 0
    clock.advance(dt.timedelta(minutes=2))
    report = dispatch_due(runtime.sessions, late, runtime.settings, clock)
    session.refresh(notice)
    assert report.settled == 1 and notice.status is NoticeStatus.SENT
    assert [m.notice_id for m in late.sent] == [notice.id]  # sent once
