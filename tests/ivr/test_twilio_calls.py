"""Whole calls through the Twilio webhooks, as a boat owner would make them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, func, select

import plumbing.db
from intake.models import Applicant, Dossier, DossierCodeCounter, Vessel
from intake.statuses import Delivery, DossierStatus
from ivr.models import CallbackRequest, IvrCall, Recording
from scheduler.rules import run_rules
from sms.models import Notice
from tests.conftest import kill_connections

LICENCE_NEW = [
    ("press", "1"),
    ("press", "1"),
    ("press", "90617#"),
    ("press", "1"),
    ("press", "2"),  # the vessel's length: 12 m to under 15 m
    ("press", "012345678901#"),
    ("press", "1"),
    ("press", "05091975#"),  # the owner's date of birth, 5 September 1975
    ("press", "1"),
    ("speak", 4),
    ("press", "3"),  # go on, without hearing it back
    ("speak", 5),
    ("press", "3"),
    ("press", "1"),
    ("press", "1"),
    ("press", "1"),
]
UP_TO_DELIVERY = LICENCE_NEW[:14]  # the delivery answered too
# The safety certificate asks the length but not the date of birth (config.toml).
SAFETY_AFTER_MENU = LICENCE_NEW[2:7] + LICENCE_NEW[9:]


def walk(caller, steps):
    for kind, value in steps:
        getattr(caller, kind)(value)


def walk_to_the_end(caller, steps):
    """The steps, then silence after the code is read out (`*` would read it again)."""
    walk(caller, steps)
    caller.silence()


def only_dossier(session) -> Dossier:
    return session.scalars(select(Dossier)).one()


def test_a_new_licence_by_phone_becomes_a_dossier_with_one_receipt(
    new_caller, session, voice_runtime
):
    caller = new_caller()
    caller.dial_in()
    assert "Cuộc gọi được ghi âm" in caller.heard()
    assert "Tra hồ sơ bấm 3" in caller.heard()
    walk(caller, LICENCE_NEW)
    assert "mã hồ sơ là hai sáu một hai không một, tám không không không" in (caller.heard())
    # The keypad cannot give the safety certificate's number or the gear: the caller hears what
    # is missing, that staff will call, and that the due date comes by SMS, no date yet; then
    # the papers to bring, then what happens next: the SMS and the hotline.
    assert (
        "Hồ sơ còn thiếu số giấy an toàn kỹ thuật, nghề khai thác chính, "
        "cán bộ sẽ gọi lại để bổ sung. Hạn trả sẽ nhắn tin khi đủ hồ sơ. Giấy tờ" in caller.heard()
    )
    assert "Hạn trả kết quả là" not in caller.heard()
    assert "bằng thuyền trưởng" in caller.heard()
    assert "Ông bà sẽ nhận tin nhắn xác nhận. Đường dây nóng" in caller.heard()
    caller.silence()
    assert caller.hung_up and caller.heard() == "Cảm ơn ông bà, xin chào."

    dossier = only_dossier(session)
    assert dossier.status is DossierStatus.RECEIVED
    assert (dossier.procedure, dossier.variant) == ("fishing_licence", "new")
    assert dossier.code.endswith("-261201-8000") and dossier.due_date is None
    # Received Tue 01/12/2026 09:00; 2 working days to complete it: Wed 2, Thu 3.
    assert dossier.completeness_due == dt.date(2026, 12, 3)
    assert dossier.form["date_of_birth"] == "1975-09-05"
    assert session.get(Vessel, dossier.vessel_id).length_band == "12_to_15"
    assert session.get(Vessel, dossier.vessel_id).registration_number == "QNg-90617-TS"
    assert dossier.form["citizen_id"] == "012345678901"
    assert (dossier.delivery, dossier.notify_phone) == (Delivery.POST, "+84912345678")
    assert "mobile" not in dossier.form  # one place for the number: the column
    purposes = sorted(r.purpose for r in session.scalars(select(Recording)))
    assert purposes == ["address_recording", "owner_name_recording"]
    # The call queues no SMS itself: the receipt is the notice rules', at their next tick.
    assert session.scalars(select(Notice)).all() == []
    runtime = voice_runtime
    run_rules(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now())
    run_rules(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now())
    receipt = session.scalars(select(Notice)).one()
    assert (receipt.kind, receipt.phone, receipt.urgent) == (
        "receipt_incomplete",
        "+84912345678",
        True,
    )
    assert dossier.code in receipt.text
    assert "Con thieu: So giay chung nhan an toan ky thuat, Nghe khai thac chinh." in receipt.text
    assert "Can bo se goi lai" in receipt.text and "hen tra KQ se nhan tin" in receipt.text


def test_the_summary_reads_back_procedure_vessel_delivery_and_fee(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:-1])
    heard = caller.heard()
    assert "cấp mới giấy phép khai thác thủy sản" in heard
    assert "cho tàu số Quảng Ngãi chín không sáu một bảy" in heard
    assert "Lệ phí là bốn mươi nghìn đồng" in heard


def test_a_reissue_asks_the_reason_and_uses_three_working_days(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    caller.press("1")
    caller.press("2")
    assert "Bị mất bấm 1" in caller.heard()
    caller.press("1")
    walk(caller, LICENCE_NEW[2:])
    dossier = only_dossier(session)
    assert (dossier.variant, dossier.form["reissue_reason"]) == ("reissue", "lost")
    # The call cannot give the certificate number and the gear: no due date until staff
    # complete it (tests/intake/test_completeness.py has the three-working-day case).
    assert dossier.due_date is None


def test_a_safety_certificate_skips_the_licence_questions(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    caller.press("2")
    assert "5 số đăng ký tàu" in caller.heard()
    walk(caller, SAFETY_AFTER_MENU)
    dossier = only_dossier(session)
    assert (dossier.procedure, dossier.due_date) == ("vessel_safety", dt.date(2026, 12, 8))
    assert "Không thu lệ phí" in caller.history[-2].find("Gather").find("Say").text


def test_a_vessel_of_another_province_is_recorded_for_staff(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, [("press", "1"), ("press", "1"), ("press", "96129#")])
    caller.press("3")
    assert "nói tên tỉnh" in caller.heard()
    caller.speak(2)
    caller.press("3")  # go on without hearing it back
    assert "Tàu dưới 12 mét bấm 1" in caller.heard()
    caller.press("3")
    assert "căn cước" in caller.heard()
    vessel = session.scalars(select(Vessel)).one()
    assert (vessel.province_code, vessel.digits, vessel.length_band) == (None, "96129", "15_up")
    assert session.scalars(select(Recording)).one().purpose == "vessel_province_recording"


def test_a_hidden_caller_is_asked_for_a_mobile_and_hears_it_back(new_caller, session):
    caller = new_caller(caller="anonymous")
    caller.dial_in()
    walk(caller, UP_TO_DELIVERY)
    assert "10 số điện thoại di động" in caller.heard()
    caller.press("0255382222#")  # a landline-like number: refused with an explanation
    assert "không phải số di động" in caller.heard()
    caller.press("0987654321#")
    assert "Số điện thoại là không chín tám bảy, sáu năm bốn, ba hai một" in caller.heard()
    caller.press("1")
    caller.press("1")
    assert only_dossier(session).notify_phone == "+84987654321"


def test_a_caller_on_a_borrowed_phone_can_give_another_number(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    walk(caller, UP_TO_DELIVERY)
    assert "số đang gọi: không chín một hai, ba bốn năm, sáu bảy tám" in caller.heard()
    caller.press("2")
    caller.press("0987654321#")
    caller.press("1")
    caller.press("1")
    assert only_dossier(session).notify_phone == "+84987654321"


def test_wrong_keys_get_an_explanation_and_star_repeats(new_caller):
    caller = new_caller()
    caller.dial_in()
    caller.press("7")
    assert caller.heard().startswith("Phím vừa bấm không có trong lựa chọn.")
    caller.press("*")
    assert caller.heard().startswith("Giấy phép khai thác thủy sản bấm 1")
    caller.press("1")
    caller.press("1")
    caller.press("9061#")
    assert caller.heard().startswith("Số đăng ký tàu gồm đúng 5 chữ số.")


def test_three_failures_end_the_call_politely_with_a_callback(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    caller.silence()
    assert caller.heard().startswith("Tổng đài chưa nhận được phím bấm.")
    caller.press("9")
    caller.silence()
    assert caller.hung_up and "Tổng đài viên sẽ gọi lại" in caller.heard()
    callback = session.scalars(select(CallbackRequest)).one()
    assert (callback.reason, callback.phone) == ("failures:main_menu", "+84912345678")


def test_a_silent_recording_asks_again(new_caller):
    caller = new_caller()
    caller.dial_in()
    walk(caller, LICENCE_NEW[:9])
    caller.say_nothing()
    assert caller.heard().startswith("Tổng đài chưa nghe được câu trả lời.")
    assert caller.twiml.find("Record") is not None


def test_the_status_of_my_latest_dossier_by_pressing_hash_then_the_main_menu_again(
    new_caller, session
):
    first = new_caller()
    first.dial_in()
    walk_to_the_end(first, LICENCE_NEW)
    caller = new_caller()
    caller.dial_in()
    caller.press("3")
    caller.press("#")
    heard = caller.heard()
    assert (
        "Hồ sơ số hai sáu một hai không một, tám không không không, hiện mới được tiếp nhận"
        in heard
    )
    assert not caller.hung_up and "cần gì thêm, xin chọn tiếp. Giấy phép khai thác" in heard
    caller.press("1")  # and now an application, in the same call
    assert "Cấp mới bấm 1" in caller.heard()


@pytest.mark.parametrize("query", ["2612018000#", "90617#"])
def test_another_phone_must_give_the_last_four_citizen_id_digits(new_caller, query):
    owner = new_caller()
    owner.dial_in()
    walk_to_the_end(owner, LICENCE_NEW)
    other = new_caller(caller="+84987654321")
    other.dial_in()
    other.press("3")
    other.press(query)
    assert "4 số cuối căn cước" in other.heard()
    other.press("0000#")
    assert "Không tìm thấy hồ sơ" in other.heard()
    other.press("3")
    other.press(query)
    other.press("8901#")
    assert "hiện mới được tiếp nhận" in other.heard()


def test_operator_out_of_hours_takes_a_message_and_a_callback(new_caller, session, clock):
    clock.set(dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))))
    caller = new_caller()
    caller.dial_in()
    caller.press("0")
    assert "ngoài giờ làm việc" in caller.heard()
    caller.speak(6)
    assert caller.hung_up
    callback = session.scalars(select(CallbackRequest)).one()
    assert callback.recording_id == session.scalars(select(Recording)).one().id
    assert callback.reason == "operator_closed"


def test_operator_in_office_hours_is_dialled(new_caller):
    caller = new_caller()
    caller.dial_in()
    caller.press("0")
    dial = caller.twiml.find("Dial")
    assert dial is not None and dial.find("Number").text == "+842553822222"


def test_each_webhook_delivered_twice_advances_the_call_once(new_caller, session, voice_runtime):
    caller = new_caller()
    first = caller.dial_in()
    again = caller.post("/twilio/voice", {})
    assert again.data == caller.responses[0].data
    for kind, value in LICENCE_NEW:
        getattr(caller, kind)(value)
        replay = caller.retry_last()
        assert replay.data == caller.responses[-2].data
    assert first is not None
    assert session.scalar(select(func.count()).select_from(Dossier)) == 1
    assert session.scalar(select(func.count()).select_from(Recording)) == 2
    rt = voice_runtime
    run_rules(rt.sessions, rt.settings, rt.calendar(), rt.clock.now())
    assert session.scalar(select(func.count()).select_from(Notice)) == 1


def test_a_step_reads_its_call_and_draft_in_one_query_and_writes_each_once(
    new_caller, voice_runtime
):
    """The answer is saved before the next prompt, in as few round trips as it takes: one
    locking read of the call with its draft, one write of each (bench/voice_webhooks.py)."""
    caller = new_caller()
    caller.dial_in()
    caller.press("1")  # fishing licence: the draft is created
    statements: list[str] = []

    def seen(connection, cursor, statement, *rest) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(voice_runtime.engine, "before_cursor_execute", seen)
    try:
        caller.press("1")  # a new licence, saved on the draft
    finally:
        event.remove(voice_runtime.engine, "before_cursor_execute", seen)
    assert "5 số đăng ký tàu" in caller.heard()  # on to the vessel question
    assert [s.split(" WHERE ")[0].split(" SET ")[0] for s in statements[1:]] == [
        "UPDATE dossier",
        "UPDATE ivr_call",
    ]
    assert statements[0].startswith("SELECT ivr_call.id")
    assert "FROM ivr_call LEFT OUTER JOIN dossier" in statements[0]


def submit_statements(caller, runtime) -> list[str]:
    """The SQL of one submit: the caller walks a new licence up to the summary and sends it."""
    caller.dial_in()
    walk(caller, LICENCE_NEW[:-1])
    statements: list[str] = []

    def seen(connection, cursor, statement, *rest) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        caller.press("1")  # the summary: send
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
    assert "mã hồ sơ là" in caller.heard()
    return statements


def test_the_submit_takes_the_days_code_counter_last(new_caller, voice_runtime):
    """Every submit of a day waits on the day's counter row from its upsert to its commit
    (intake/codes.py): after the upsert a submit only writes what needs the code, reading
    nothing, so the next caller's submit waits as little as it can (bench/voice_webhooks.py)."""
    statements = submit_statements(new_caller(), voice_runtime)
    counter = next(i for i, s in enumerate(statements) if "dossier_code_counter" in s)
    after = sorted(
        s.split(" WHERE ")[0].split(" SET ")[0].split(" (")[0] for s in statements[counter + 1 :]
    )
    assert after == [
        "INSERT INTO dossier_event",
        "RELEASE SAVEPOINT sa_savepoint_1",
        "UPDATE dossier",
        "UPDATE ivr_call",
    ]


def test_when_the_days_codes_run_out_the_caller_hears_it_and_the_draft_keeps_every_answer(
    new_caller, session, voice_runtime
):
    """The phone's reserved range of the day's sequence numbers ([onestop] sequence_first ..
    sequence_last) used up: no error page for Twilio to read out as "an application error", but
    a sentence, a callback for staff, and the draft with every answer; the counter stays at the
    range's end."""
    onestop = voice_runtime.settings.onestop.model_copy(
        update={"sequence_first": 8000, "sequence_last": 8000}
    )
    voice_runtime.settings = voice_runtime.settings.model_copy(update={"onestop": onestop})
    first = new_caller("+84912345678")
    first.dial_in()
    walk_to_the_end(first, LICENCE_NEW)
    second = new_caller("+84987654321")
    second.dial_in()
    walk(second, LICENCE_NEW[:2])
    walk(second, [("press", "90618#")])  # another vessel: not a duplicate of the first
    walk(second, LICENCE_NEW[3:])
    assert second.hung_up
    assert second.heard() == (
        "Hệ thống chưa cấp được mã hồ sơ lúc này. Mọi câu trả lời của ông bà đã được lưu lại. "
        "Tổng đài viên sẽ gọi lại ông bà sớm nhất. Xin cảm ơn."
    )
    filed, draft = session.scalars(select(Dossier).order_by(Dossier.id)).all()
    assert filed.code.endswith("-8000") and filed.status is DossierStatus.RECEIVED
    assert (draft.status, draft.code, draft.received_at) == (DossierStatus.DRAFT, None, None)
    assert draft.applicant_id is None
    assert draft.form["citizen_id"] == "012345678901" and draft.form["date_of_birth"]
    callback = session.scalars(select(CallbackRequest)).one()
    assert (callback.reason, callback.dossier_id, callback.phone) == (
        "codes_exhausted",
        draft.id,
        "+84987654321",
    )
    call = session.scalars(select(IvrCall).where(IvrCall.caller == "+84987654321")).one()
    assert call.outcome == "callback"
    assert session.scalar(select(DossierCodeCounter.last_seq)) == 8000


def test_the_submit_writes_the_draft_and_its_applicant_once_each(
    new_caller, voice_runtime, session
):
    """The submit is the step with the most to do: read the call, check for a duplicate, read
    the vessel, write the answer, open a savepoint, insert the applicant and write the draft
    once before the day's code is taken, then only what carries the code. No write of a row just
    inserted, no draft write only for the applicant's id (bench/webhook_profile.py)."""
    statements = submit_statements(new_caller(), voice_runtime)
    kinds = [
        " ".join(s.split(" WHERE ")[0].split(" SET ")[0].split(" (")[0].split()[:4])
        for s in statements
        if "FROM calendar_day" not in s  # the process's calendar, read every few seconds
    ]
    assert sorted(kinds) == sorted(
        [
            "SELECT ivr_call.id, ivr_call.provider, ivr_call.provider_call_id,",
            "SELECT dossier.id, dossier.code, dossier.external_code,",
            "SELECT vessel.id, vessel.province_code, vessel.digits,",
            # The savepoint that keeps the draft whole if the day's codes have run out
            # (SQLAlchemy writes the answer just saved on the draft before it).
            "UPDATE dossier",
            "SAVEPOINT sa_savepoint_1",
            "INSERT INTO applicant",
            "UPDATE dossier",
            "INSERT INTO dossier_code_counter",
            "UPDATE dossier",
            "INSERT INTO dossier_event",
            "RELEASE SAVEPOINT sa_savepoint_1",
            "UPDATE ivr_call",
        ]
    )
    dossier = session.scalar(select(Dossier))
    assert dossier.status is DossierStatus.RECEIVED and dossier.applicant_id is not None
    assert dossier.form["citizen_id"] == "012345678901"
    applicant = session.get(Applicant, dossier.applicant_id)
    assert (applicant.citizen_id, applicant.phone) == ("012345678901", dossier.notify_phone)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_step_right_after_a_database_restart_is_answered_and_saved(
    new_caller, voice_runtime, monkeypatch
):
    """The pool hands out a connection used a moment ago without a ping (plumbing/db.py): the
    step meets a dead one, and runs again on a new connection instead of failing the call."""
    monkeypatch.setattr(plumbing.db, "PING_IF_IDLE_SECONDS", 3600.0)  # however slow CI is
    caller = new_caller()
    caller.dial_in()
    caller.press("1")
    assert kill_connections(voice_runtime.engine.url)
    caller.press("2")  # a re-issue
    assert "Bị mất bấm 1" in caller.heard()
    with voice_runtime.sessions() as session:
        assert only_dossier(session).variant == "reissue"


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Signature": "AAAA"}],
    ids=["missing", "forged"],
)
def test_forged_or_missing_signatures_get_403(voice_app, session, headers):
    client = voice_app.test_client()
    response = client.post(
        "/twilio/voice", data={"CallSid": "CA1", "From": "+84912345678"}, headers=headers
    )
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(IvrCall)) == 0


def test_behind_a_proxy_signatures_are_checked_against_the_public_url(voice_runtime):
    from tests.ivr.twilio_caller import TwilioCaller
    from tongdai.app import create_app

    public = "https://tongdai.example.vn"
    voice_runtime.settings = voice_runtime.settings.model_copy(update={"public_url": public})
    client = create_app(voice_runtime).test_client()
    caller = TwilioCaller(client, base=public)
    caller.dial_in()
    caller.press("1")
    assert "Cấp mới bấm 1" in caller.heard()
    inside = TwilioCaller(client)  # signed for http://localhost: not what Twilio would sign
    assert inside.post("/twilio/voice", {}).status_code == 403


def test_the_status_callback_records_how_the_call_ended(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    caller.press("1")
    caller.hang_up()
    call = session.scalars(select(IvrCall)).one()
    assert (call.end_reason, call.duration_seconds, call.outcome) == ("completed", 42, "abandoned")
    assert only_dossier(session).status is DossierStatus.DRAFT


def test_a_completed_transfer_ends_with_a_valid_hangup(new_caller, session):
    caller = new_caller()
    caller.dial_in()
    caller.press("0")
    dial = caller.twiml.find("Dial")
    caller._follow(caller.post(dial.get("action"), {"DialCallStatus": "completed"}))
    assert caller.hung_up
    assert session.scalars(select(IvrCall)).one().outcome == "operator"


@pytest.mark.parametrize(
    ("dial_status", "heard", "reason"),
    [("busy", "Tổng đài viên đang bận.", "operator_busy"),
     ("no-answer", "Tổng đài viên chưa nghe máy.", "operator_no_answer")],
)  # fmt: skip
def test_a_transfer_nobody_takes_offers_a_message_recorded_as_what_happened(
    new_caller, session, dial_status, heard, reason
):
    caller = new_caller()
    caller.dial_in()
    caller.press("0")
    caller.transfer_ends(dial_status)
    assert caller.heard().startswith(heard)
    caller.press("1")  # leave a message
    caller.speak(3)
    assert caller.hung_up
    callback = session.scalars(select(CallbackRequest)).one()
    assert (callback.reason, callback.recording_id is not None) == (reason, True)
