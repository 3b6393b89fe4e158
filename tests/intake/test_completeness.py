"""From when the time limit counts: a phone dossier is complete at the call, or when staff
complete it afterwards (docs/domain.md, "When the time limit starts"). Every date below is
counted by hand in the comment above it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.completeness import due_date_reason, missing_items, start_clock_if_complete
from intake.dossier_commands import apply_answers
from intake.dossiers import start_draft, submit
from intake.lifecycle import Actor, change_status
from intake.models import DossierEvent, Role, Vessel
from intake.statuses import Channel, Delivery
from intake.statuses import DossierStatus as S
from intake.vessel_length import LengthBand, meets_minimum, vessel_band

IVR = Actor.system("ivr")
STAFF = Actor.staff("lan", Role.OPERATOR)
VN = dt.timezone(dt.timedelta(hours=7))


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VN)


def phone_dossier(session, runtime, procedure: str, variant: str, when: dt.datetime, band: str):
    """What a whole call leaves: every keypad and spoken answer, then the submission."""
    draft = start_draft(
        session,
        procedure=procedure,
        channel=Channel.PHONE,
        settings=runtime.settings,
        caller_phone="+84912345678",
        now=when,
    )
    answers = {"procedure": procedure, "variant": variant, "vessel": "QNg:90617",
               "length_band": band, "citizen_id": "012345678901",
               "owner_name_recording": "1", "address_recording": "2",
               "delivery": "post", "notify_phone": "0912345678"}  # fmt: skip
    if "date_of_birth" in runtime.settings.procedures[procedure].phone_questions:
        answers["date_of_birth"] = "05091975"
    for key, value in answers.items():
        apply_answers(session, draft, {key: value}, now=when, keyed=True)
    draft.delivery = Delivery.POST
    return submit(session, draft, settings=runtime.settings, calendar=runtime.calendar(),
                  actor=IVR, now=when)  # fmt: skip


def staff_complete(session, runtime, dossier, when: dt.datetime) -> bool:
    """Staff call the owner back and type what the keypad could not give."""
    apply_answers(session, dossier, {"safety_certificate_number": "123/2026/QNg-ĐKTC",
                                     "main_gear": "Lưới vây"}, now=when)  # fmt: skip
    return start_clock_if_complete(session, dossier, settings=runtime.settings,
                                   calendar=runtime.calendar(), actor=STAFF, now=when)  # fmt: skip


def test_a_safety_certificate_complete_at_the_call_counts_from_the_reception(session, runtime):
    dossier = phone_dossier(
        session, runtime, "vessel_safety", "new", at(2026, 12, 1, 9, 0), "12_to_15"
    )
    # Received Tue 01/12/2026 09:00, 5 working days: Wed 2, Thu 3, Fri 4, Mon 7, Tue 8.
    assert dossier.due_date == dt.date(2026, 12, 8)
    assert dossier.completed_at == dossier.received_at and dossier.completeness_due is None
    assert "đủ ngay khi tiếp nhận" in due_date_reason(runtime.settings, runtime.calendar(), dossier)


def test_a_licence_completed_a_day_later_counts_from_that_day(session, runtime):
    dossier = phone_dossier(
        session, runtime, "fishing_licence", "new", at(2026, 12, 1, 9, 0), "12_to_15"
    )
    vessel = session.get(Vessel, dossier.vessel_id)
    assert [i.key for i in missing_items(runtime.settings, dossier, vessel)] == [
        "safety_certificate_number", "main_gear"]  # fmt: skip
    assert dossier.due_date is None and dossier.completed_at is None
    # 2 working days to complete it after Tue 01/12: Wed 2, Thu 3.
    assert dossier.completeness_due == dt.date(2026, 12, 3)
    assert "Chưa tính hạn" in due_date_reason(runtime.settings, runtime.calendar(), dossier)

    assert staff_complete(session, runtime, dossier, at(2026, 12, 2, 10, 0))
    # Complete Wed 02/12 10:00, 6 working days: Thu 3, Fri 4, Mon 7, Tue 8, Wed 9, Thu 10.
    assert dossier.due_date == dt.date(2026, 12, 10)
    assert dossier.completed_at == at(2026, 12, 2, 10, 0)
    reason = due_date_reason(runtime.settings, runtime.calendar(), dossier)
    assert "đủ thông tin lúc 10:00 02/12/2026" in reason and "thứ 6 sau ngày 02/12/2026" in reason
    session.flush()
    event = session.scalars(
        select(DossierEvent).where(DossierEvent.details["action"].as_string() == "completed")
    ).one()
    assert event.details["due"] == "2026-12-10" and event.actor == "staff:lan"
    # A second save changes nothing: the clock starts once.
    assert not staff_complete(session, runtime, dossier, at(2026, 12, 3, 10, 0))
    assert dossier.due_date == dt.date(2026, 12, 10)


def test_a_licence_completed_after_the_cut_off_counts_from_the_next_working_day(session, runtime):
    dossier = phone_dossier(
        session, runtime, "fishing_licence", "new", at(2026, 12, 1, 9, 0), "12_to_15"
    )
    assert staff_complete(session, runtime, dossier, at(2026, 12, 2, 15, 30))
    # Complete Wed 02/12 15:30, after 15:00: counts as received Thu 03/12; 6 working days:
    # Fri 4, Mon 7, Tue 8, Wed 9, Thu 10, Fri 11.
    assert dossier.due_date == dt.date(2026, 12, 11)
    assert "tính như nhận ngày 03/12/2026" in due_date_reason(
        runtime.settings, runtime.calendar(), dossier)  # fmt: skip


def test_a_reissue_received_after_the_cut_off_gets_its_completeness_deadline_from_the_next_day(
    session, runtime
):
    dossier = phone_dossier(
        session, runtime, "fishing_licence", "reissue", at(2026, 12, 1, 16, 0), "under_12"
    )
    # Received Tue 01/12 16:00: counts as Wed 02/12; 2 working days: Thu 3, Fri 4.
    assert dossier.completeness_due == dt.date(2026, 12, 4)
    assert staff_complete(session, runtime, dossier, at(2026, 12, 3, 9, 0))
    # Complete Thu 03/12 09:00; a re-issue takes 3 working days: Fri 4, Mon 7, Tue 8.
    assert dossier.due_date == dt.date(2026, 12, 8)


def test_a_licence_completed_just_before_tet_counts_after_the_holiday(session, runtime):
    dossier = phone_dossier(
        session, runtime, "fishing_licence", "new", at(2027, 2, 2, 9, 0), "15_up"
    )
    # Received Tue 02/02/2027; Tết 2027 is off Thu 04/02 to Wed 10/02: 2 working days to
    # complete it are Wed 3 and Thu 11.
    assert dossier.completeness_due == dt.date(2027, 2, 11)
    assert staff_complete(session, runtime, dossier, at(2027, 2, 3, 10, 0))
    # Complete Wed 03/02/2027 10:00, 6 working days: Thu 11, Fri 12, Mon 15, Tue 16, Wed 17,
    # Thu 18 February.
    assert dossier.due_date == dt.date(2027, 2, 18)


def test_a_vessel_shorter_than_the_procedure_minimum_is_not_a_complete_dossier(session, runtime):
    dossier = phone_dossier(
        session, runtime, "vessel_safety", "new", at(2026, 12, 1, 9, 0), "under_12"
    )
    vessel = session.get(Vessel, dossier.vessel_id)
    [item] = missing_items(runtime.settings, dossier, vessel)
    assert item.key == "vessel_length" and "từ 12 m" in item.label and "dưới 12 m" in item.label
    assert dossier.due_date is None and dossier.completeness_due == dt.date(2026, 12, 3)
    # Staff measure it: the exact length wins over the caller's band.
    vessel.length_m = 12.4
    assert vessel_band(vessel) is LengthBand.FROM_12_TO_15
    assert start_clock_if_complete(session, dossier, settings=runtime.settings,
                                   calendar=runtime.calendar(), actor=STAFF,
                                   now=at(2026, 12, 2, 9, 0))  # fmt: skip
    # Complete Wed 02/12 09:00, 5 working days: Thu 3, Fri 4, Mon 7, Tue 8, Wed 9.
    assert dossier.due_date == dt.date(2026, 12, 9)


@pytest.mark.parametrize(
    ("length_m", "band", "minimum", "meets"),
    [
        (None, None, 6, None),
        (None, "under_12", 6, None),  # under 12 m says nothing about 6 m
        (None, "under_12", 12, False),
        (None, "12_to_15", 12, True),
        (None, "15_up", 15, True),
        (11.99, "15_up", 12, False),  # the exact length wins
        (6.0, None, 6, True),
    ],
)
def test_the_vessel_band_and_the_minimum_length(length_m, band, minimum, meets):
    vessel = Vessel(province_code="QNg", digits="90617", length_m=length_m, length_band=band)
    assert meets_minimum(vessel, minimum) is meets


def test_completed_while_waiting_for_papers_counts_the_wait_from_completion(session, runtime):
    dossier = phone_dossier(
        session, runtime, "fishing_licence", "new", at(2026, 12, 1, 9, 0), "12_to_15"
    )
    change_status(session, dossier, S.SUPPLEMENT_REQUESTED, actor=STAFF, now=at(2026, 12, 1, 10, 0),
                  calendar=runtime.calendar(), reason="thiếu số giấy chứng nhận",
                  details={"documents": ["Giấy chứng nhận an toàn kỹ thuật"]})  # fmt: skip
    assert staff_complete(session, runtime, dossier, at(2026, 12, 2, 10, 0))
    # Complete Wed 02/12 10:00: due Thu 10/12 (as above).
    assert dossier.due_date == dt.date(2026, 12, 10)
    change_status(session, dossier, S.ACCEPTED, actor=STAFF, now=at(2026, 12, 3, 10, 0),
                  calendar=runtime.calendar())  # fmt: skip
    # The papers came Thu 03/12: one working day of waiting after completion (Thu 3) moves it
    # to Fri 11/12; the day before completion is not counted twice.
    assert dossier.due_date == dt.date(2026, 12, 11)
