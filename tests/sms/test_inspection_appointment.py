"""The vessel inspection: staff set place, date and time; the SMS tells the citizen, who
confirms (XN) or asks for another date (DOI) by SMS reply."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.errors import InvalidInput
from intake.inspections import latest_appointment, set_appointment
from intake.models import AppointmentStatus, InspectionAppointment
from intake.statuses import DossierStatus as S
from sms.inbound import InboundSms, handle_inbound, parse_intent
from sms.models import Notice
from tests.factories import create_dossier
from tests.scheduler.test_rules import STAFF, Centre, at

VN = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture
def centre(runtime, session, clock):
    return Centre(runtime, session, clock)


def _set(session, runtime, clock, dossier, day: int, hour: int, place="Cảng cá Sa Huỳnh"):
    return set_appointment(
        session,
        dossier,
        place=place,
        at=dt.datetime(2026, 12, day, hour, 30, tzinfo=VN),
        actor=STAFF,
        now=clock.now(),
        calendar=runtime.calendar(),
    )


def _reply(session, runtime, clock, body: str, message_id: str, phone="0912345678"):
    return handle_inbound(
        session,
        InboundSms("smpp", message_id, phone, "8079", body),
        settings=runtime.settings,
        calendar=runtime.calendar(),
        now=clock.now(),
    )


def _texts(session, kind: str) -> list[str]:
    query = select(Notice.text).where(Notice.kind == kind).order_by(Notice.id)
    return list(session.scalars(query))


@pytest.mark.parametrize(
    ("body", "intent"),
    [("XN", "inspect_yes"), ("xác nhận", "inspect_yes"), ("Đồng ý.", "inspect_yes"),
     ("DOI", "inspect_change"), ("đổi ngày", "inspect_change"), ("Doi lich", "inspect_change")],
)  # fmt: skip
def test_the_answers_are_read_as_people_type_them(body, intent):
    assert parse_intent(body).name == intent


def test_staff_set_the_inspection_and_the_citizen_confirms_by_sms(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime, procedure="vessel_safety", status=S.ACCEPTED)
    _set(session, runtime, clock, dossier, 3, 8)
    centre.tick()
    assert _texts(session, "inspection") == [
        "TTHCC Quang Ngai: Hen kiem tra tau ho so 261201-0001 luc 08:30 ngay 03/12/2026 tai Cang "
        "ca Sa Huynh. Tau can o ben. Dong y: soan XN; xin doi ngay: soan DOI, gui 8079. "
        "Hoi dap: 02553822222"
    ]
    at(clock, 2026, 12, 1, 20)
    _reply(session, runtime, clock, "xn", "r1")
    centre.tick()
    appointment = latest_appointment(session, dossier.id)
    assert appointment.status is AppointmentStatus.CONFIRMED
    assert _texts(session, "inspection_confirmed") == [
        "TTHCC Quang Ngai: Da xac nhan lich kiem tra tau ho so 261201-0001 luc 08:30 ngay "
        "03/12/2026 tai Cang ca Sa Huynh. Hoi dap: 02553822222"
    ]


def test_asking_for_another_date_lets_staff_set_a_new_one(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime, procedure="vessel_safety", status=S.ACCEPTED)
    _set(session, runtime, clock, dossier, 3, 8)
    centre.tick()
    _reply(session, runtime, clock, "Đổi ngày", "r1")
    centre.tick()
    assert latest_appointment(session, dossier.id).status is AppointmentStatus.CHANGE_REQUESTED
    assert _texts(session, "inspection_change") == [
        "TTHCC Quang Ngai: Da ghi nhan ong/ba xin doi lich kiem tra tau ho so 261201-0001. Can "
        "bo se goi lai hen ngay khac. Hoi dap: 02553822222"
    ]
    _set(session, runtime, clock, dossier, 4, 14, place="Cảng Tịnh Kỳ")
    centre.tick()
    rows = session.scalars(
        select(InspectionAppointment).order_by(InspectionAppointment.number)
    ).all()
    assert [(r.number, r.status) for r in rows] == [
        (1, AppointmentStatus.REPLACED),
        (2, AppointmentStatus.PROPOSED),
    ]
    assert "luc 14:30 ngay 04/12/2026 tai Cang Tinh Ky" in _texts(session, "inspection")[1]
    assert centre.kinds == ["receipt", "inspection", "inspection_change", "inspection"]


def test_a_confirmation_from_a_phone_with_no_appointment_gets_the_help_text(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime, procedure="vessel_safety", status=S.ACCEPTED)
    _set(session, runtime, clock, dossier, 3, 8)
    _reply(session, runtime, clock, "XN", "r1", phone="0987654321")
    centre.tick()
    assert latest_appointment(session, dossier.id).status is AppointmentStatus.PROPOSED
    assert "help" in centre.kinds and "inspection_confirmed" not in centre.kinds


def test_an_appointment_in_the_past_or_without_a_place_is_refused(session, clock, runtime):
    dossier = create_dossier(session, runtime, procedure="vessel_safety", status=S.ACCEPTED)
    with pytest.raises(InvalidInput, match="sau thời điểm hiện tại"):
        _set(session, runtime, clock, dossier, 1, 8)  # 08:30 on Tue 01/12, now is 09:00
    with pytest.raises(InvalidInput, match="Cần ghi nơi kiểm tra tàu"):
        _set(session, runtime, clock, dossier, 3, 8, place="  ")
