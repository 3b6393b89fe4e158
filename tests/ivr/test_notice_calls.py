"""Placing notice calls with a frozen clock: only in the calling hours of working days, never on
the lines incoming callers need, retried over days, handed to staff after the last attempt."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.lifecycle import Actor, change_status
from intake.models import Dossier, Role
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from ivr.models import CallbackRequest
from ivr.notice_calls import (
    NoticeCallError,
    next_calling_time,
    place_due,
    record_outcome,
)
from sms.models import NoticeCall, NoticeCallOutcome, NoticeCallStatus
from tests.factories import create_call, create_dossier, create_notice

VN = dt.timezone(dt.timedelta(hours=7))
LANDLINE = "02553822123"


def _at(day: int, hour: int, minute: int = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=VN)


@pytest.fixture
def calls_on(runtime):
    settings = runtime.settings
    calls = settings.notice_calls.model_copy(
        update={"enabled": True, "max_lines": 2, "trunk_lines": 4, "keep_free_lines": 1}
    )
    runtime.settings = settings.model_copy(update={"notice_calls": calls})
    return runtime


class Phone:
    """The front end: records each call placed, or refuses when told to."""

    def __init__(self) -> None:
        self.placed: list[int] = []
        self.refuse = False

    def __call__(self, call) -> str:
        if self.refuse:
            raise NoticeCallError("Asterisk từ chối")
        self.placed.append(call.call_id)
        return f"chan-{call.call_id}-{call.attempt}"


def _queue(session, runtime, count: int = 1) -> list[int]:
    dossier = create_dossier(session, runtime, phone=LANDLINE, status=S.RESULT_READY,
                             delivery=Delivery.COLLECT)  # fmt: skip
    for number in range(count):
        create_notice(session, runtime, kind="result_ready", phone=LANDLINE, dossier=dossier,
                      dedupe_key=f"{dossier.id}:result:{number}")  # fmt: skip
    session.commit()
    return list(session.scalars(select(NoticeCall.id).order_by(NoticeCall.id)))


def _place(runtime, phone):
    return place_due(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now,
                     phone, sleep=lambda seconds: None)  # fmt: skip


def _end(runtime, call_id, outcome):
    with runtime.sessions() as session, session.begin():
        return record_outcome(session, runtime.settings, runtime.calendar(), call_id, outcome,
                              runtime.clock.now())  # fmt: skip


def _call(session, call_id) -> NoticeCall:
    session.expire_all()
    return session.get(NoticeCall, call_id)


@pytest.mark.parametrize(
    ("at", "first_call"),
    [
        (_at(1, 9), _at(1, 9)),  # Tuesday morning: at once
        (_at(1, 6, 59), _at(1, 7, 30)),  # before the morning window
        (_at(1, 12), _at(1, 13, 30)),  # lunch
        (_at(4, 17, 5), _at(7, 7, 30)),  # Friday evening -> Monday
        (_at(5, 10), _at(7, 7, 30)),  # Saturday
        # Tết 2027 (off Thursday 4/2 to Wednesday 10/2): the first day back.
        (dt.datetime(2027, 2, 4, 10, tzinfo=VN), dt.datetime(2027, 2, 11, 7, 30, tzinfo=VN)),
    ],
)
def test_calls_start_only_in_the_calling_hours_of_working_days(calls_on, at, first_call):
    when = next_calling_time(calls_on.settings, calls_on.calendar(), at.astimezone(dt.UTC))
    assert when == first_call


def test_nothing_is_placed_outside_the_calling_hours(session, calls_on):
    calls_on.clock.set(_at(5, 10))  # a Saturday
    [call_id] = _queue(session, calls_on)
    phone = Phone()
    _place(calls_on, phone)
    assert phone.placed == []
    calls_on.clock.set(_at(7, 7, 30))  # Monday, the window opens
    _place(calls_on, phone)
    assert phone.placed == [call_id]
    assert _call(session, call_id).status is NoticeCallStatus.CALLING


def test_at_most_max_lines_at_once_and_incoming_callers_keep_their_lines(session, calls_on):
    ids = _queue(session, calls_on, 5)
    phone = Phone()
    # Two citizens are calling in: 4 lines, 1 kept free, 2 busy -> 1 line for notices.
    incoming = [create_call(session) for _ in range(2)]
    session.commit()
    _place(calls_on, phone)
    assert phone.placed == ids[:1]
    _place(calls_on, phone)  # still on the line: nothing more
    assert phone.placed == ids[:1]
    incoming[0].ended_at = calls_on.clock.now()
    incoming[1].ended_at = calls_on.clock.now()
    session.commit()
    _place(calls_on, phone)  # max_lines = 2
    assert phone.placed == ids[:2]
    _end(calls_on, ids[0], NoticeCallOutcome.CONFIRMED)
    _end(calls_on, ids[1], NoticeCallOutcome.ANSWERED)
    _place(calls_on, phone)
    assert phone.placed == ids[:4] and len(set(phone.placed)) == 4


def test_an_unanswered_call_is_retried_over_days_then_handed_to_staff(session, calls_on):
    [call_id] = _queue(session, calls_on)  # Tuesday 1/12 09:00
    phone = Phone()
    tried_at = []
    for outcome in (NoticeCallOutcome.NO_ANSWER, NoticeCallOutcome.BUSY,
                    NoticeCallOutcome.NO_ANSWER):  # fmt: skip
        _place(calls_on, phone)
        tried_at.append(calls_on.clock.now())
        _end(calls_on, call_id, outcome)
        call = _call(session, call_id)
        assert call.status is NoticeCallStatus.PENDING
        _place(calls_on, phone)  # not yet due: nothing placed
        assert len(phone.placed) == len(tried_at)
        calls_on.clock.set(call.next_attempt_at)
    # retry_days = [1, 2, 4]: Wed 2/12, Fri 4/12, then 4 days later Tue 8/12.
    assert [t.astimezone(VN) for t in tried_at] == [_at(1, 9), _at(2, 9), _at(4, 9)]
    assert calls_on.clock.now() == _at(8, 9)
    _place(calls_on, phone)
    _end(calls_on, call_id, NoticeCallOutcome.NO_ANSWER)
    call = _call(session, call_id)
    assert call.status is NoticeCallStatus.GAVE_UP and call.attempts == 4
    [task] = session.scalars(select(CallbackRequest)).all()
    assert (task.reason, task.phone, task.dossier_id) == (
        "notice_call",
        call.phone,
        call.dossier_id,
    )
    assert task.note.startswith("Gọi báo tin (result_ready) không được: 01/12 09:00 không nghe")
    assert "02/12 09:00 máy bận" in task.note and task.note.count(";") == 3


def test_a_confirmation_after_the_answer_is_kept_and_a_repeat_changes_nothing(session, calls_on):
    [call_id] = _queue(session, calls_on)
    _place(calls_on, Phone())
    assert _end(calls_on, call_id, NoticeCallOutcome.ANSWERED)
    assert _end(calls_on, call_id, NoticeCallOutcome.CONFIRMED)
    assert not _end(calls_on, call_id, NoticeCallOutcome.NO_ANSWER)
    call = _call(session, call_id)
    assert (call.status, call.outcome) == (NoticeCallStatus.DONE, NoticeCallOutcome.CONFIRMED)
    assert [entry["outcome"] for entry in call.history] == ["confirmed"]


def test_a_refused_call_and_a_lost_one_count_as_failed_attempts(session, calls_on):
    first, second = _queue(session, calls_on, 2)
    phone = Phone()
    phone.refuse = True
    _place(calls_on, phone)
    failed = _call(session, first)
    assert (failed.status, failed.outcome) == (NoticeCallStatus.PENDING, NoticeCallOutcome.FAILED)
    assert failed.history[0]["detail"] == "Asterisk từ chối"
    # Both were refused; tomorrow one is placed and its outcome never arrives.
    calls_on.clock.set(_at(2, 9))
    phone.refuse = False
    _place(calls_on, phone)
    assert phone.placed == [first, second]
    calls_on.clock.advance(
        dt.timedelta(seconds=calls_on.settings.notice_calls.call_timeout_seconds + 1)
    )
    report = _place(calls_on, phone)
    assert report.timed_out == 2
    lost = _call(session, first)
    assert (lost.status, lost.attempts) == (NoticeCallStatus.PENDING, 2)
    assert lost.next_attempt_at.astimezone(VN).date() == dt.date(2026, 12, 4)


def test_a_due_call_whose_dossier_moved_on_is_cancelled_not_placed(session, calls_on):
    """Checked in the claim itself: no rule scan has run since the papers arrived."""
    dossier = create_dossier(session, calls_on, phone=LANDLINE, status=S.SUPPLEMENT_REQUESTED)
    create_notice(session, calls_on, kind="supplement", phone=LANDLINE, dossier=dossier,
                  dedupe_key="t:supplement")  # fmt: skip
    [kept] = _queue(session, calls_on)[1:]  # another dossier's result: still news
    change_status(session, session.get(Dossier, dossier.id), S.IN_PROCESS,
                  actor=Actor.staff("lan", Role.OPERATOR), now=calls_on.clock.now(),
                  calendar=calls_on.calendar())  # fmt: skip
    session.commit()
    phone = Phone()
    _place(calls_on, phone)
    assert phone.placed == [kept]
    cancelled = session.scalar(select(NoticeCall).where(NoticeCall.dossier_id == dossier.id))
    session.refresh(cancelled)
    assert (cancelled.status, cancelled.result, cancelled.attempts) == (
        NoticeCallStatus.CANCELLED,
        "đã nhận giấy tờ bổ sung",
        0,
    )
