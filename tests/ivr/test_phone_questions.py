"""The questions a procedure asks by phone beyond the common ones (config.toml
phone_questions), over the Twilio webhooks: the vessel's length band and the owner's date of
birth, read back as a date and checked real and adult."""

from __future__ import annotations

from sqlalchemy import select

from intake.models import Dossier, Vessel
from sms.inbound import InboundSms, handle_inbound
from tests.ivr.test_twilio_calls import LICENCE_NEW, SAFETY_AFTER_MENU, walk

UP_TO_BIRTH_DATE = LICENCE_NEW[:7]  # licence, new, vessel confirmed, length, citizen id


def test_the_date_of_birth_is_read_back_as_a_date_and_can_be_typed_again(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, UP_TO_BIRTH_DATE)
    assert "Bấm 8 số ngày tháng năm sinh chủ tàu" in caller.heard()
    caller.press("05091957#")
    assert caller.heard() == (
        "Ngày sinh là ngày năm tháng chín năm một nghìn chín trăm năm mươi bảy "
        "Đúng bấm 1. Nhập lại bấm 2."
    )
    caller.press("2")
    caller.press("05091975#")
    assert "năm một nghìn chín trăm bảy mươi lăm" in caller.heard()
    caller.press("1")
    assert "họ tên chủ tàu" in caller.heard()
    draft = session.scalars(select(Dossier)).one()
    assert draft.form["date_of_birth"] == "1975-09-05"
    assert draft.form["ivr"]["date_of_birth"] == "05091975"


def test_an_impossible_date_or_a_minor_is_explained_and_asked_again(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, UP_TO_BIRTH_DATE)
    for typed in ("05092010#", "31021975#"):  # 16 years old on 01/12/2026; 31 February
        caller.press(typed)
        heard = caller.heard()
        assert heard.startswith("Ngày sinh chưa đúng."), typed
        assert "Chủ tàu phải đủ 18 tuổi" in heard
    caller.press("0509197#")  # 7 digits
    # Three failures in a row end the call politely, as for any question.
    assert caller.hung_up and "Tổng đài viên sẽ gọi lại" in caller.heard()
    assert "date_of_birth" not in session.scalars(select(Dossier)).one().form


def test_the_band_is_kept_on_the_vessel_and_a_too_short_vessel_is_said_at_the_end(
    new_caller, session
):
    caller = new_caller()
    caller.dial_in()
    caller.press("2")  # the safety certificate: vessels of 12 m or more
    steps = list(SAFETY_AFTER_MENU)
    steps[2] = ("press", "1")  # "under 12 m"
    walk(caller, steps)
    heard = caller.heard()
    assert "Hồ sơ còn thiếu xác nhận chiều dài tàu, cán bộ sẽ gọi lại" in heard
    assert "Hạn trả kết quả là" not in heard
    dossier = session.scalars(select(Dossier)).one()
    assert session.get(Vessel, dossier.vessel_id).length_band == "under_12"
    assert dossier.due_date is None and "date_of_birth" not in dossier.form


def test_the_safety_certificate_complete_at_the_call_hears_its_due_date(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    caller.press("2")
    walk(caller, SAFETY_AFTER_MENU)
    heard = caller.heard()
    # Received Tue 01/12/2026 09:00, 5 working days: Wed 2, Thu 3, Fri 4, Mon 7, Tue 8.
    assert "Hạn trả kết quả là ngày tám tháng mười hai" in heard
    assert "còn thiếu" not in heard


def test_the_status_of_an_incomplete_dossier_promises_the_date_by_sms(
    new_caller, session, voice_runtime
):
    first = new_caller()
    first.dial_in()
    walk(first, LICENCE_NEW)
    caller = new_caller()
    caller.dial_in()
    caller.press("3")
    caller.press("#")
    heard = caller.heard()
    assert "hiện mới được tiếp nhận" in heard
    assert "Hạn trả sẽ nhắn tin khi đủ hồ sơ." in heard
    dossier = session.scalars(select(Dossier)).one()
    rt = voice_runtime
    with rt.sessions() as other, other.begin():
        record = handle_inbound(other, InboundSms("twilio", "SM1", "0912345678", "8079",
                                                  f"TT {dossier.code}"),
                                settings=rt.settings, calendar=rt.calendar(),
                                now=rt.clock.now())  # fmt: skip
        reply_id = record.reply_notice_id
    from sms.models import Notice

    assert "Hen tra KQ sau khi du ho so" in session.get(Notice, reply_id).text
