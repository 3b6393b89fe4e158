"""What a boat owner trips over, through the Twilio webhooks: a person from any question, one
answer changed at the summary, numbers read in groups, what happens next, no duplicate dossier,
and hearing a recording back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from intake.models import Dossier
from intake.statuses import DossierStatus
from ivr.models import CallbackRequest, Recording
from tests.ivr.test_twilio_calls import LICENCE_NEW, SAFETY_AFTER_MENU, walk, walk_to_the_end

EVENING = dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
TO_THE_CITIZEN_ID = LICENCE_NEW[:5]  # licence, new, vessel typed and confirmed, its length
SUMMARY = "Gửi hồ sơ bấm 1. Sửa thông tin bấm 2."


def submitted(session) -> list[Dossier]:
    return list(session.scalars(select(Dossier).where(Dossier.status != DossierStatus.DRAFT)))


# ---- a person from every question -------------------------------------------------------------


def test_zero_hash_at_a_number_reaches_the_operator_and_an_unanswered_transfer_comes_back(
    new_caller, session
):
    caller = new_caller()
    caller.dial_in()
    walk(caller, TO_THE_CITIZEN_ID)
    assert "12 số căn cước" in caller.heard()
    caller.press("0#")
    assert caller.twiml.find("Dial").find("Number").text == "+842553822222"
    caller.transfer_ends("no-answer")
    assert caller.heard().startswith("Tổng đài viên chưa nghe máy.")
    caller.press("2")  # back to where I was
    assert caller.heard().startswith("Ông bà bấm 12 số căn cước")
    walk_to_the_end(caller, LICENCE_NEW[5:])
    [dossier] = submitted(session)
    assert dossier.form["ivr"]["vessel"] == "QNg:90617"  # the draft went through the detour
    assert session.scalar(select(func.count()).select_from(CallbackRequest)) == 0


def test_zero_at_a_menu_out_of_hours_leaves_a_message_and_keeps_the_draft(
    new_caller, session, clock
):
    clock.set(EVENING)
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:10])  # ... the owner's name recorded
    assert "Bấm 1 nghe lại, 2 nói lại," in caller.heard()
    caller.press("0")
    assert "ngoài giờ làm việc" in caller.heard()
    caller.speak(4)
    assert caller.hung_up and "sẽ gọi lại" in caller.heard()
    callback = session.scalars(select(CallbackRequest)).one()
    draft = session.scalars(select(Dossier)).one()
    assert (callback.reason, callback.dossier_id) == ("operator_closed", draft.id)
    assert draft.status is DossierStatus.DRAFT and draft.discarded_at is None
    assert "owner_name_recording" in draft.form["ivr"]

    again = new_caller()
    again.dial_in()
    assert "hồ sơ đang khai dở" in again.heard()
    again.press("1")
    assert "địa chỉ chủ tàu" in again.heard()  # only what is still missing


def test_a_lone_zero_is_never_taken_as_a_number(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:2])
    caller.press("00#")  # not a lone 0: an invalid vessel number
    assert caller.heard().startswith("Số đăng ký tàu gồm đúng 5 chữ số.")
    assert caller.twiml.find("Dial") is None


# ---- changing one answer at the summary -----------------------------------------------------


def test_one_answer_is_changed_at_the_summary_and_the_rest_kept(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:-1])
    assert caller.heard().endswith(SUMMARY)
    caller.press("2")
    listing = caller.heard()
    assert listing.startswith(
        "Sửa thông tin nào? Cấp mới hay cấp lại, bấm 1. Số đăng ký tàu, bấm 2."
    )
    assert "Chiều dài tàu, bấm 3. Số căn cước, bấm 4. Ngày sinh, bấm 5." in listing
    assert "Số nhận tin nhắn, bấm 9." in listing
    caller.press("4")  # the citizen id
    assert caller.heard().startswith("Ông bà bấm 12 số căn cước")
    caller.press("098765432109#")
    caller.press("1")
    assert caller.heard().endswith(SUMMARY)  # straight back, nothing else asked again
    walk_to_the_end(caller, LICENCE_NEW[-1:])
    [dossier] = submitted(session)
    assert dossier.form["citizen_id"] == "098765432109"
    assert dossier.form["ivr"]["vessel"] == "QNg:90617" and dossier.variant == "new"
    assert session.scalar(select(func.count()).select_from(Recording)) == 2


def test_changing_new_to_reissue_asks_the_reason_and_the_summary_says_it(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:-1])
    caller.press("2")
    caller.press("1")  # new or re-issue
    caller.press("2")  # re-issue
    assert "Bị mất bấm 1" in caller.heard()
    caller.press("4")  # expired
    heard = caller.heard()
    assert "cấp lại giấy phép khai thác thủy sản vì hết hạn" in heard
    assert "Lệ phí là hai mươi nghìn đồng" in heard
    walk_to_the_end(caller, LICENCE_NEW[-1:])
    [dossier] = submitted(session)
    assert (dossier.variant, dossier.form["reissue_reason"]) == ("reissue", "expired")


def test_a_safety_certificate_offers_only_its_own_answers_to_change(new_caller):
    caller = new_caller()
    caller.dial_in()
    caller.press("2")
    walk(caller, SAFETY_AFTER_MENU[:-1])
    caller.press("2")
    assert caller.heard().startswith(
        "Sửa thông tin nào? Số đăng ký tàu, bấm 1. Chiều dài tàu, bấm 2."
    )
    assert "Cấp mới hay cấp lại" not in caller.heard() and "Ngày sinh" not in caller.heard()
    caller.press("9")
    assert caller.heard().startswith("Phím vừa bấm không có trong lựa chọn.")


# ---- what the caller hears ------------------------------------------------------------------


def test_the_summary_says_the_suffix_the_postage_and_when_the_fee_is_paid(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:-1])
    heard = caller.heard()
    assert "cho tàu số Quảng Ngãi chín không sáu một bảy tê ét." in heard
    assert "Gửi kết quả qua bưu điện." in heard
    assert "Lệ phí là bốn mươi nghìn đồng ông bà trả cùng cước bưu điện khi nhận." in heard


def test_without_a_fee_the_summary_still_says_who_pays_the_postage(new_caller):
    caller = new_caller()
    caller.dial_in()
    caller.press("2")
    walk(caller, SAFETY_AFTER_MENU[:-1])
    assert (
        "tùy cỡ tàu và công suất máy. Ông bà trả cước bưu điện khi nhận kết quả." in caller.heard()
    )


def test_a_reissue_summary_gives_the_reason(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, [("press", "1"), ("press", "2"), ("press", "2"), *LICENCE_NEW[2:-1]])
    assert "cấp lại giấy phép khai thác thủy sản vì hư hỏng," in caller.heard()


def test_the_citizen_id_is_read_in_groups_of_three(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:6])
    assert caller.heard().startswith(
        "Số căn cước là không một hai, ba bốn năm, sáu bảy tám, chín không một Đúng bấm 1."
    )


def test_the_end_says_the_sms_and_hotline_and_star_repeats_the_code(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW)
    heard = caller.heard()
    assert "Ông bà sẽ nhận tin nhắn xác nhận." in heard
    assert "Đường dây nóng: không hai năm năm, ba tám hai, hai hai hai hai" in heard
    assert heard.endswith("Nghe lại mã, bấm sao.") and not caller.hung_up
    caller.press("*")
    assert caller.heard() == (
        "Mã hồ sơ là hai sáu một hai không một, tám không không không Nghe lại mã, bấm sao."
    )
    caller.silence()
    assert caller.hung_up


def test_the_resume_offer_names_the_procedure_and_the_vessel(new_caller):
    first = new_caller()
    first.dial_in()
    walk(first, TO_THE_CITIZEN_ID)
    first.hang_up()
    second = new_caller()
    second.dial_in()
    assert (
        "Ông bà có một hồ sơ đang khai dở: cấp mới giấy phép khai thác thủy sản "
        "cho tàu số Quảng Ngãi chín không sáu một bảy tê ét. Tiếp tục hồ sơ đó, bấm 1."
    ) in second.heard()


# ---- no second dossier for the same vessel and procedure -----------------------------------


def test_the_owner_applying_twice_hears_the_open_dossier_instead(new_caller, session):
    first = new_caller()
    first.dial_in()
    walk_to_the_end(first, LICENCE_NEW)
    again = new_caller()
    again.dial_in()
    walk(again, LICENCE_NEW)
    heard = again.heard()
    assert heard.startswith("Tàu này đã có một hồ sơ cùng thủ tục đang được giải quyết")
    assert "Hồ sơ số hai sáu một hai không một, tám không không không, hiện mới được" in heard
    # The licence lacks what a keypad cannot give: no due date yet, and the caller hears so.
    assert "Hạn trả sẽ nhắn tin khi đủ hồ sơ." in heard and again.hung_up
    assert len(submitted(session)) == 1
    assert session.scalar(select(func.count()).select_from(CallbackRequest)) == 0


def test_someone_else_for_the_same_vessel_learns_nothing_and_gets_a_call_back(new_caller, session):
    first = new_caller()
    first.dial_in()
    walk_to_the_end(first, LICENCE_NEW)
    other = new_caller(caller="+84987654321")
    other.dial_in()
    walk(other, [*LICENCE_NEW[:5], ("press", "111111111111#"), *LICENCE_NEW[6:]])
    heard = other.heard()
    assert "Tổng đài viên sẽ gọi lại" in heard and other.hung_up
    assert "hai sáu một hai" not in heard and "Hạn trả" not in heard
    assert len(submitted(session)) == 1
    callback = session.scalars(select(CallbackRequest)).one()
    assert (callback.reason, callback.phone) == ("duplicate", "+84987654321")
    assert session.get(Dossier, callback.dossier_id).status is DossierStatus.DRAFT


def test_the_other_procedure_for_the_same_vessel_is_not_a_duplicate(new_caller, session):
    first = new_caller()
    first.dial_in()
    walk_to_the_end(first, LICENCE_NEW)
    second = new_caller()
    second.dial_in()
    second.press("2")
    walk_to_the_end(second, SAFETY_AFTER_MENU)
    assert len(submitted(session)) == 2


# ---- hearing a recording back ---------------------------------------------------------------


def test_press_one_plays_the_recording_back_and_two_records_it_again(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:9])
    caller.speak(4, sid="RE" + "a" * 32)
    caller.press("1")
    played = [element.text for element in caller.twiml.iter("Play")]
    assert played == ["https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "a" * 32]
    assert caller.heard().startswith("Ông bà vừa nói:")
    caller.press("2")
    assert "họ tên chủ tàu" in caller.heard() and caller.twiml.find("Record") is not None
    caller.speak(3, sid="RE" + "b" * 32)
    caller.press("3")
    assert "địa chỉ chủ tàu" in caller.heard()
    draft = session.scalars(select(Dossier)).one()
    kept = session.get(Recording, int(draft.form["ivr"]["owner_name_recording"]))
    assert kept.provider_ref == "RE" + "b" * 32


def test_a_busy_operator_brings_the_caller_back_to_the_recording_review(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:10])
    caller.press("0")
    caller.transfer_ends("busy")
    assert caller.heard().startswith("Tổng đài viên đang bận.")
    caller.press("2")
    assert caller.heard().startswith("Bấm 1 nghe lại,")
