"""Which notices become phone calls: a landline's at once, a mobile's only when its SMS did not
reach the citizen; never receipts or surveys, never after an "invalid number" failure."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.lifecycle import Actor, change_status
from intake.models import Dossier, Role
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from scheduler.rules import run_rules
from sms.dispatch import dispatch_due
from sms.models import Notice, NoticeCall, NoticeCallStatus, NoticeStatus
from sms.receipts import apply_receipt
from tests.factories import create_dossier, create_notice
from tests.fakes import RecordingGateway

LANDLINE = "0255 3822 123"
MOBILE = "0912 345 678"
STAFF = Actor.staff("lan", Role.OPERATOR)
# Where a dossier stands when a notice of each kind is queued for it.
STANDS_AT = {"supplement": S.SUPPLEMENT_REQUESTED, "apology": S.IN_PROCESS,
             "result_post": S.RESULT_READY, "result_ready": S.RESULT_READY}  # fmt: skip


@pytest.fixture
def calls_on(runtime):
    settings = runtime.settings
    runtime.settings = settings.model_copy(
        update={"notice_calls": settings.notice_calls.model_copy(update={"enabled": True})}
    )
    return runtime


def _calls(session) -> list[NoticeCall]:
    session.expire_all()
    return list(session.scalars(select(NoticeCall).order_by(NoticeCall.id)))


def _sent_notice(session, runtime, kind="supplement") -> Notice:
    """A notice of `kind` queued and handed to the gateway (status sent), for a dossier where
    that news still holds."""
    dossier = create_dossier(session, runtime, status=STANDS_AT.get(kind, S.RECEIVED))
    # The key the notice rules give a supplement request: their scan does not queue it again.
    key = f"{dossier.id}:supplement:1" if kind == "supplement" else f"t:{kind}"
    notice = create_notice(
        session, runtime, kind=kind, phone=MOBILE, dossier=dossier, dedupe_key=key
    )
    session.commit()
    dispatch_due(runtime.sessions, RecordingGateway(), runtime.settings, runtime.clock)
    session.expire_all()
    assert session.get(Notice, notice.id).status is NoticeStatus.SENT
    return session.get(Notice, notice.id)


def _scan(runtime) -> None:
    run_rules(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now())


def test_a_result_for_a_landline_is_queued_as_a_call_with_its_values(session, calls_on):
    dossier = create_dossier(session, calls_on, phone=LANDLINE)
    notice = create_notice(
        session, calls_on, kind="result_ready", phone=LANDLINE, dossier=dossier, dedupe_key="r"
    )
    session.commit()
    assert notice is None and session.scalars(select(Notice)).all() == []
    [call] = _calls(session)
    assert call.status is NoticeCallStatus.PENDING and call.notice_id is None
    assert (call.phone, call.kind, call.dossier_id) == ("+842553822123", "result_ready", dossier.id)
    assert call.values["code"] == "X-261201-0001"
    # The same rule firing again queues nothing more.
    create_notice(session, calls_on, kind="result_ready", phone=LANDLINE, dedupe_key="r")
    assert len(_calls(session)) == 1


@pytest.mark.parametrize("kind", ["receipt", "survey", "stopped"])
def test_receipts_surveys_and_other_kinds_to_a_landline_are_never_called(session, calls_on, kind):
    dossier = create_dossier(session, calls_on, phone=LANDLINE)
    create_notice(session, calls_on, kind=kind, phone=LANDLINE, dossier=dossier)
    session.commit()
    assert _calls(session) == []
    assert session.get(Dossier, dossier.id).needs_phone_call  # staff still see it


def test_with_notice_calls_off_nothing_is_called(session, runtime):
    create_notice(session, runtime, kind="result_ready", phone=LANDLINE)
    create_notice(session, runtime, kind="result_ready", phone=MOBILE)
    session.commit()
    assert _calls(session) == []


def test_a_failed_supplement_sms_makes_its_held_call_due(session, calls_on):
    notice = _sent_notice(session, calls_on)
    [call] = _calls(session)
    assert call.status is NoticeCallStatus.HELD and call.notice_id == notice.id
    _scan(calls_on)
    assert _calls(session)[0].status is NoticeCallStatus.HELD  # no verdict on the SMS yet
    with calls_on.sessions() as s, s.begin():
        apply_receipt(s, provider_id=notice.provider_id, provider_status="undelivered",
                      error_code="30003", now=calls_on.clock.now())  # fmt: skip
    _scan(calls_on)
    [call] = _calls(session)
    assert call.status is NoticeCallStatus.PENDING
    assert call.result == "tin nhắn không gửi được"


def test_an_sms_to_a_number_that_does_not_exist_is_not_called(session, calls_on):
    notice = _sent_notice(session, calls_on)
    with calls_on.sessions() as s, s.begin():
        apply_receipt(s, provider_id=notice.provider_id, provider_status="undelivered",
                      error_code="30005", now=calls_on.clock.now())  # fmt: skip
    _scan(calls_on)
    [call] = _calls(session)
    assert call.status is NoticeCallStatus.NOT_NEEDED and call.attempts == 0


def test_a_delivered_sms_needs_no_call(session, calls_on):
    notice = _sent_notice(session, calls_on, kind="apology")
    with calls_on.sessions() as s, s.begin():
        apply_receipt(s, provider_id=notice.provider_id, provider_status="delivered",
                      now=calls_on.clock.now())  # fmt: skip
    calls_on.clock.advance(dt.timedelta(days=3))
    _scan(calls_on)
    assert _calls(session)[0].status is NoticeCallStatus.NOT_NEEDED


def test_an_sms_with_no_receipt_is_called_after_the_configured_time(session, calls_on):
    _sent_notice(session, calls_on, kind="result_post")
    hours = calls_on.settings.notice_calls.no_receipt_hours
    calls_on.clock.advance(dt.timedelta(hours=hours) - dt.timedelta(minutes=1))
    _scan(calls_on)
    assert _calls(session)[0].status is NoticeCallStatus.HELD
    calls_on.clock.advance(dt.timedelta(minutes=2))
    _scan(calls_on)
    assert _calls(session)[0].status is NoticeCallStatus.PENDING


def test_a_receipt_sms_that_fails_is_never_called(session, calls_on):
    create_notice(session, calls_on, kind="receipt", phone=MOBILE)
    create_notice(session, calls_on, kind="survey", phone=MOBILE)
    session.commit()
    assert _calls(session) == []


def test_a_receipt_arriving_before_the_first_call_cancels_it_at_once(session, calls_on):
    notice = _sent_notice(session, calls_on, kind="apology")
    calls_on.clock.advance(dt.timedelta(hours=calls_on.settings.notice_calls.no_receipt_hours))
    _scan(calls_on)
    assert _calls(session)[0].status is NoticeCallStatus.PENDING
    with calls_on.sessions() as s, s.begin():
        apply_receipt(s, provider_id=notice.provider_id, provider_status="delivered",
                      now=calls_on.clock.now())  # fmt: skip
    [call] = _calls(session)  # no scan needed: the receipt itself cancels the call
    assert (call.status, call.attempts) == (NoticeCallStatus.CANCELLED, 0)
    assert call.result == "tin nhắn đã đến"


def _landline_call(session, runtime, kind: str, status: S) -> tuple[Dossier, NoticeCall]:
    """A dossier in `status` whose notice of `kind` went to a landline: a call due at once."""
    dossier = create_dossier(session, runtime, phone=LANDLINE, status=status,
                             delivery=Delivery.COLLECT)  # fmt: skip
    create_notice(session, runtime, kind=kind, phone=LANDLINE, dossier=dossier,
                  dedupe_key=f"{dossier.id}:t:{kind}")  # fmt: skip
    session.commit()
    [call] = [c for c in _calls(session) if c.kind == kind]
    assert call.status is NoticeCallStatus.PENDING
    return dossier, call


def _move(session, runtime, dossier: Dossier, to: S) -> None:
    change_status(session, session.get(Dossier, dossier.id), to, actor=STAFF,
                  now=runtime.clock.now(), calendar=runtime.calendar())  # fmt: skip
    session.commit()


@pytest.mark.parametrize(
    ("kind", "status", "moved_to", "why"),
    [
        ("result_ready", S.RESULT_READY, S.RETURNED, "hồ sơ đã trả kết quả"),
        ("apology", S.IN_PROCESS, S.RESULT_READY, "hồ sơ đã có kết quả"),
        ("supplement", S.SUPPLEMENT_REQUESTED, S.IN_PROCESS, "đã nhận giấy tờ bổ sung"),
    ],
)
def test_a_call_the_dossier_left_behind_is_cancelled_when_the_dossier_changes(
    session, calls_on, kind, status, moved_to, why
):
    dossier, call = _landline_call(session, calls_on, kind, status)
    _scan(calls_on)
    assert session.get(NoticeCall, call.id).status is NoticeCallStatus.PENDING  # still news
    _move(session, calls_on, dossier, moved_to)
    _scan(calls_on)
    session.expire_all()
    call = session.get(NoticeCall, call.id)
    assert (call.status, call.result, call.attempts) == (NoticeCallStatus.CANCELLED, why, 0)


def test_a_held_call_is_cancelled_when_its_dossier_moves_on_before_the_sms_fails(session, calls_on):
    dossier = create_dossier(session, calls_on, phone=MOBILE, status=S.IN_PROCESS)
    create_notice(session, calls_on, kind="apology", phone=MOBILE, dossier=dossier,
                  dedupe_key="t:apology")  # fmt: skip
    session.commit()
    [call] = _calls(session)
    assert call.status is NoticeCallStatus.HELD
    _move(session, calls_on, dossier, S.RESULT_READY)
    _scan(calls_on)
    [call] = _calls(session)
    assert (call.status, call.result) == (NoticeCallStatus.CANCELLED, "hồ sơ đã có kết quả")
