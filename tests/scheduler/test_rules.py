"""The notice rules over weeks and holidays, on a fake clock: each SMS once, in its window."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.errors import OverrideRequired
from intake.lifecycle import Actor, change_status
from intake.models import Dossier, Role
from intake.results import record_dispatch, set_new_date
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from scheduler.models import StaffAlert
from scheduler.rules import run_rules
from sms.dispatch import dispatch_due
from sms.inbound import InboundSms, handle_inbound
from sms.models import Notice, SmsPreference, SurveyRating
from tests.factories import create_dossier
from tests.fakes import RecordingGateway

VN = dt.timezone(dt.timedelta(hours=7))
STAFF = Actor.staff("lan", Role.OPERATOR)
SUPERVISOR = Actor.staff("hung", Role.SUPERVISOR)


def at(clock, y, m, d, hh, mm=0):
    clock.set(dt.datetime(y, m, d, hh, mm, tzinfo=VN))


class Centre:
    """The scheduler's ticks and the staff's clicks, on one fake clock."""

    def __init__(self, runtime, session, clock):
        self.runtime, self.session, self.clock = runtime, session, clock
        self.gateway = RecordingGateway()
        self.sent_at: list[tuple[str, dt.datetime]] = []

    def tick(self):
        """A rule scan (twice: a repeated scan must change nothing) and a dispatch."""
        self.session.commit()
        for _ in range(2):
            run_rules(
                self.runtime.sessions,
                self.runtime.settings,
                self.runtime.calendar(),
                self.clock.now(),
            )
        before = len(self.gateway.sent)
        dispatch_due(self.runtime.sessions, self.gateway, self.runtime.settings, self.clock)
        for message in self.gateway.sent[before:]:
            with self.runtime.sessions() as other:
                kind = other.get(Notice, message.notice_id).kind
            self.sent_at.append((kind, self.clock.now().astimezone(VN)))
        self.session.expire_all()

    def move(self, dossier, to, **kwargs):
        change_status(
            self.session,
            dossier,
            to,
            actor=kwargs.pop("actor", STAFF),
            now=self.clock.now(),
            calendar=self.runtime.calendar(),
            **kwargs,
        )

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.sent_at]


@pytest.fixture
def centre(runtime, session, clock):
    return Centre(runtime, session, clock)


def test_a_late_dossier_across_tet_gets_one_apology_then_dispatch_and_survey(
    centre, session, clock, runtime
):
    # Thu 12/02/2026 10:00, licence (6 working days): Fri 13, then Tết 16-20/02, Mon 23, Tue 24,
    # Wed 25, Thu 26, Fri 27 -> due Fri 27/02/2026.
    at(clock, 2026, 2, 12, 10)
    dossier = create_dossier(session, runtime)
    assert dossier.due_date == dt.date(2026, 2, 27)
    centre.tick()
    assert centre.kinds == ["receipt"]
    centre.move(dossier, S.ACCEPTED)
    centre.move(dossier, S.IN_PROCESS)

    for day in (
        dt.datetime(2026, 2, 27, 23, 0, tzinfo=VN),  # the due day is not over
        dt.datetime(2026, 2, 28, 10, 0, tzinfo=VN),
    ):  # Saturday: no working day yet
        clock.set(day)
        centre.tick()
    assert centre.kinds == ["receipt"]

    at(clock, 2026, 3, 2, 6, 0)  # Monday, before the sending window opens
    centre.tick()
    session.refresh(dossier)
    # due + 3 working days: Mon 02, Tue 03, Wed 04.
    assert (dossier.apology_count, dossier.new_due_date) == (1, dt.date(2026, 3, 4))
    assert centre.kinds == ["receipt"]  # held until 07:00
    assert session.scalars(select(StaffAlert)).one().kind == "auto_apology"

    at(clock, 2026, 3, 2, 7, 0)
    centre.tick()
    apology = session.scalars(select(Notice).where(Notice.kind == "apology")).one()
    assert apology.text == (
        "TTHCC Quang Ngai thanh that xin loi ong/ba: ho so 000.00.53.H48.TD-260212-0001 chua co "
        "ket qua dung hen 27/02/2026, ly do: can them thoi gian tham dinh. Trung tam hen tra ket "
        "qua ngay 04/03/2026. Cam on ong/ba da thong cam. Hoi dap: 02553822222"
    )

    at(clock, 2026, 3, 3, 10)
    centre.move(dossier, S.RESULT_READY)
    at(clock, 2026, 3, 3, 14)
    record_dispatch(session, dossier, tracking="ee123456789vn", actor=STAFF, now=clock.now())
    centre.tick()
    at(clock, 2026, 3, 5, 22, 30)  # delivered late in the evening
    centre.move(dossier, S.RETURNED)
    centre.tick()
    at(clock, 2026, 3, 6, 7, 0)
    centre.tick()
    handle_inbound(
        session,
        InboundSms("twilio", "SMreply", "0912345678", "8079", "1"),
        settings=runtime.settings,
        calendar=runtime.calendar(),
        now=clock.now(),
    )
    centre.tick()
    for _ in range(3):  # days go by: nothing more is sent
        clock.advance(dt.timedelta(days=1))
        centre.tick()

    assert centre.kinds == ["receipt", "apology", "result_post", "survey", "rating_thanks"]
    post = session.scalars(select(Notice).where(Notice.kind == "result_post")).one()
    assert "ma buu gui EE123456789VN" in post.text
    assert session.scalars(select(SurveyRating)).one().rating == 1
    for kind, when in centre.sent_at:
        if kind not in ("receipt", "rating_thanks"):
            assert dt.time(7, 0) <= when.time() < dt.time(21, 0), (kind, when)


def test_supplement_is_asked_once_and_the_override_sends_a_second(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime)
    centre.move(
        dossier,
        S.SUPPLEMENT_REQUESTED,
        reason="Thiếu giấy tờ",
        details={"documents": ["Bản sao đăng ký tàu", "Tờ khai"], "number": 1},
    )
    centre.tick()
    centre.move(dossier, S.IN_PROCESS)
    with pytest.raises(OverrideRequired):
        centre.move(dossier, S.SUPPLEMENT_REQUESTED, reason="Thiếu ảnh")
    centre.move(
        dossier,
        S.SUPPLEMENT_REQUESTED,
        reason="Thiếu ảnh tàu",
        actor=SUPERVISOR,
        override=True,
        details={"documents": ["Ảnh tàu"], "number": 2},
    )
    centre.tick()
    texts = [
        n.text
        for n in session.scalars(
            select(Notice).where(Notice.kind == "supplement").order_by(Notice.id)
        )
    ]
    assert len(texts) == 2
    assert "can bo sung: Ban sao dang ky tau, To khai. Ly do: Thieu giay to." in texts[0]
    assert "Anh tau" in texts[1]


def test_an_early_result_invites_collection_and_a_reminder_follows_once(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime)  # Tue 01/12/2026, due Wed 09/12
    dossier.delivery = Delivery.COLLECT
    centre.move(dossier, S.ACCEPTED)
    at(clock, 2026, 12, 3, 10)
    centre.move(dossier, S.RESULT_READY)
    centre.tick()
    assert centre.kinds == ["receipt", "result_collect"]
    # 5 working days after Thu 03/12: Fri 4, Mon 7, Tue 8, Wed 9, Thu 10.
    at(clock, 2026, 12, 9, 10)
    centre.tick()
    assert centre.kinds == ["receipt", "result_collect"]
    at(clock, 2026, 12, 10, 10)
    centre.tick()
    at(clock, 2026, 12, 14, 10)
    centre.tick()
    assert centre.kinds == ["receipt", "result_collect", "reminder"]


def test_a_result_on_the_due_day_is_announced_but_not_called_early(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime)  # Tue 01/12/2026, due Wed 09/12
    dossier.delivery = Delivery.COLLECT
    centre.move(dossier, S.ACCEPTED)
    at(clock, 2026, 12, 9, 16)
    centre.move(dossier, S.RESULT_READY)
    centre.tick()
    assert centre.kinds == ["receipt", "result_ready"]
    ready = session.scalars(select(Notice).where(Notice.kind == "result_ready")).one()
    assert ready.text == (
        "TTHCC Quang Ngai: Ho so 000.00.53.H48.TD-261201-0001 da co ket qua. Moi ong/ba den nhan "
        "tai 54 Hung Vuong, TP Quang Ngai, T2-T6, 7h-11h30, 13h30-17h; mang CCCD, ban chup giay "
        "dang ky tau, giay an toan ky thuat, bang thuyen truong, may truong. Hoi dap: 02553822222"
    )
    assert "som" not in ready.text.split()


def test_opted_out_phones_get_no_reminder_and_no_survey(centre, session, clock, runtime):
    session.add(SmsPreference(phone="+84912345678", opted_out=True))
    dossier = create_dossier(session, runtime)
    dossier.delivery = Delivery.COLLECT
    centre.move(dossier, S.ACCEPTED)
    centre.move(dossier, S.RESULT_READY)
    at(clock, 2026, 12, 15, 10)
    centre.tick()
    centre.move(dossier, S.RETURNED)
    centre.tick()
    assert centre.kinds == ["receipt", "result_collect"]  # legally needed notices still go
    assert session.get(Dossier, dossier.id).reminder_sent_at is not None


@pytest.mark.parametrize("ending", [S.REFUSED, S.WITHDRAWN, S.STOPPED])
def test_an_ending_is_notified_with_its_reason(centre, session, runtime, ending):
    dossier = create_dossier(session, runtime)
    if ending is S.STOPPED:
        centre.move(dossier, S.ACCEPTED)
    centre.move(dossier, ending, reason="Tàu dưới 6 mét")
    centre.tick()
    notice = session.scalars(select(Notice).where(Notice.kind == ending.value)).one()
    assert "Tau duoi 6 met" in notice.text


def test_a_staff_apology_goes_at_once_and_a_second_needs_a_supervisor(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime)
    at(clock, 2026, 12, 8, 9)
    set_new_date(
        session,
        dossier,
        dt.date(2026, 12, 14),
        reason="Chờ kết quả kiểm tra tàu",
        actor=STAFF,
        now=clock.now(),
        calendar=runtime.calendar(),
    )
    centre.tick()
    with pytest.raises(OverrideRequired):
        set_new_date(
            session,
            dossier,
            dt.date(2026, 12, 16),
            reason="Lý do khác",
            actor=STAFF,
            now=clock.now(),
            calendar=runtime.calendar(),
        )
    set_new_date(
        session,
        dossier,
        dt.date(2026, 12, 16),
        reason="Mưa bão",
        actor=SUPERVISOR,
        now=clock.now(),
        calendar=runtime.calendar(),
        override=True,
    )
    at(clock, 2026, 12, 10, 9)  # past the original due date: no automatic apology on top
    centre.tick()
    apologies = session.scalars(
        select(Notice).where(Notice.kind == "apology").order_by(Notice.id)
    ).all()
    assert ["14/12/2026" in apologies[0].text, "16/12/2026" in apologies[1].text] == [True, True]
    assert "Cho ket qua kiem tra tau" in apologies[0].text
    assert len(apologies) == 2 and centre.kinds == ["receipt", "apology", "apology"]
    assert session.scalars(select(StaffAlert)).all() == []


def test_a_dossier_waiting_for_a_supplement_is_not_late(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime)
    centre.move(dossier, S.SUPPLEMENT_REQUESTED, reason="Thiếu tờ khai")
    at(clock, 2026, 12, 21, 9)
    centre.tick()
    assert session.get(Dossier, dossier.id).apology_count == 0
