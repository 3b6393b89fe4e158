"""The dossier queue and the dossier page, as an operator and a supervisor use them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from intake.lifecycle import Actor, change_status
from intake.models import Applicant, AuditEvent, Dossier, Role, Vessel
from intake.statuses import DossierStatus as S
from scheduler.rules import run_rules
from sms.models import Notice
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier, create_recording


@pytest.fixture
def operator(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    return client


def _phone_dossier(
    runtime, *, vessel="90617", phone="+84912345678", citizen="012345678901", complete=False
):
    """A dossier as a call leaves it: received, with what a keypad cannot give still empty
    (`complete=True`: staff filled it in at once, so its due date counts from the reception)."""
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, phone=phone, complete=complete)
        vessel_row = Vessel(province_code="QNg", digits=vessel)
        session.add(vessel_row)
        session.flush()
        applicant = Applicant(phone=phone, citizen_id=citizen)
        session.add(applicant)
        session.flush()
        dossier.vessel_id, dossier.applicant_id = vessel_row.id, applicant.id
        dossier.form = {**dossier.form, "citizen_id": citizen, "vessel_number": f"QNg-{vessel}-TS"}
        return dossier.id, dossier.code


def _codes(page: str) -> list[str]:
    return re.findall(r'/admin/dossiers/\d+">([^<]+)</a>', page)


@pytest.mark.parametrize(
    "query",
    ["90617", "QNg-90617-TS", "qng 90617 ts", "0912 345 678", "+84912345678", "2612018000", "FULL"],
)
def test_find_a_phone_in_dossier_by_vessel_phone_or_code(operator, runtime, query):
    _, code = _phone_dossier(runtime)
    _phone_dossier(runtime, vessel="12345", phone="+84987654321", citizen="000000000000")
    page = operator.get(
        "/admin/dossiers", query_string={"q": code if query == "FULL" else query}
    ).get_data(as_text=True)
    assert _codes(page) == [code]


def test_the_queue_pages_by_due_date_without_repeating_a_row(client, runtime, clock):
    for day in range(120):
        clock.set(dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC) + dt.timedelta(hours=day))
        with runtime.sessions() as session, session.begin():
            create_dossier(session, runtime)
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")  # after the clock moved: a session idle for days has expired
    operator = client
    seen, url = [], "/admin/dossiers"
    for _ in range(5):
        page = operator.get(url).get_data(as_text=True)
        seen += _codes(page)
        due_dates = re.findall(r"<td>(\d\d/\d\d/2026)(?! \d)", page)  # not "dd/mm/yyyy hh:mm"
        assert due_dates == sorted(due_dates, key=lambda d: d[3:5] + d[:2])
        more = re.search(r'href="([^"]*after=[^"]+)">Trang sau', page)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
    assert len(seen) == len(set(seen)) == 120


def test_overdue_and_due_soon_filters(client, runtime, clock):
    with runtime.sessions() as session, session.begin():
        late = create_dossier(session, runtime)  # due Wed 09/12/2026
    clock.set(dt.datetime(2026, 12, 11, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))))
    with runtime.sessions() as session, session.begin():
        fresh = create_dossier(session, runtime)  # Mon 14 ... Mon 21/12/2026 (6 working days)
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    operator = client
    overdue = _codes(operator.get("/admin/dossiers?due=overdue").get_data(as_text=True))
    assert overdue == [late.code]
    # Due soon = within 2 working days of Fri 11/12 (Mon 14, Tue 15): neither of them.
    assert _codes(operator.get("/admin/dossiers?due=soon").get_data(as_text=True)) == []
    # On Fri 18/12 the next two working days are Mon 21 and Tue 22: due soon.
    clock.set(dt.datetime(2026, 12, 18, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))))
    log_in(client, "lan")
    assert _codes(operator.get("/admin/dossiers?due=soon").get_data(as_text=True)) == [fresh.code]


def test_an_operator_claims_before_changing_and_others_are_told(client, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    make_user(runtime, "lan", Role.OPERATOR)
    make_user(runtime, "minh", Role.OPERATOR)
    log_in(client, "lan")
    url = f"/admin/dossiers/{dossier_id}"
    version = 2
    client.post(
        f"{url}/status",
        data={"csrf_token": token(client, url), "to": "accepted", "version": version},
    )
    assert "Bấm «Nhận xử lý»" in client.get(url).get_data(as_text=True)
    client.post(f"{url}/claim", data={"csrf_token": token(client, url)})
    with client.session_transaction() as session:
        session.clear()
    log_in(client, "minh")
    client.post(f"{url}/claim", data={"csrf_token": token(client, url)})
    assert "đang do lan xử lý" in client.get(url).get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).assigned_to == "lan"


def _claimed(client, runtime, dossier_id):
    url = f"/admin/dossiers/{dossier_id}"
    client.post(f"{url}/claim", data={"csrf_token": token(client, url)})
    with runtime.sessions() as session:
        return url, session.get(Dossier, dossier_id).version


def test_a_bad_field_gets_its_message_next_to_it_and_nothing_is_saved(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    url, version = _claimed(operator, runtime, dossier_id)
    response = operator.post(
        f"{url}/form",
        data={
            "csrf_token": token(operator, url),
            "version": version,
            "owner_name": "Nguyễn Văn An",
            "date_of_birth": "31/02/1970",
            "mobile": "0255 382 2222",
            "vessel_number": "XX-1-TS",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="f-date_of_birth"[^>]*aria-invalid="true"', page)
    assert 'id="e-date_of_birth">Ngày viết theo dạng ngày/tháng/năm' in page
    assert (
        'id="e-mobile">Số điện thoại không hợp lệ' in page or 'id="e-mobile">Cần số di động' in page
    )
    assert 'id="e-vessel_number">Số đăng ký tàu dạng QNg-12345-TS' in page
    assert 'value="Nguyễn Văn An"' in page  # what was typed stays
    with runtime.sessions() as session:
        assert "owner_name" not in session.get(Dossier, dossier_id).form


def test_valid_fields_are_saved_to_the_dossier_applicant_and_vessel(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    url, version = _claimed(operator, runtime, dossier_id)
    operator.post(
        f"{url}/form",
        data={
            "csrf_token": token(operator, url),
            "version": version,
            "owner_name": "Nguyễn Văn An",
            "date_of_birth": "05/09/1975",
            "mobile": "0987.654.321",
            "vessel_number": "bđ 96129ts",
            "address": "Tịnh Kỳ, Quảng Ngãi",
        },
    )
    with runtime.sessions() as session:
        dossier = session.get(Dossier, dossier_id)
        applicant = session.get(Applicant, dossier.applicant_id)
        vessel = session.get(Vessel, dossier.vessel_id)
    assert dossier.form["date_of_birth"] == "1975-09-05"
    assert (dossier.notify_phone, vessel.registration_number) == ("+84987654321", "BĐ-96129-TS")
    assert (applicant.name, applicant.address) == ("Nguyễn Văn An", "Tịnh Kỳ, Quảng Ngãi")


def test_the_mobile_field_shows_the_number_the_sms_go_to(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)  # a caller's mobile, in notify_phone only
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert re.search(r'id="f-mobile" name="mobile" value="0912345678"', page)


def test_a_field_staff_clear_is_cleared_everywhere_it_is_kept(operator, runtime):
    """The form, the applicant record and the columns used to disagree after a cleared field:
    the form held "" while the applicant kept the name and the dossier the number and vessel."""
    dossier_id, _ = _phone_dossier(runtime)
    url, version = _claimed(operator, runtime, dossier_id)
    typed = {"owner_name": "Nguyễn Văn An", "address": "Tịnh Kỳ", "mobile": "0987654321"}
    operator.post(f"{url}/form", data={"csrf_token": token(operator, url), "version": version,
                                       **typed})  # fmt: skip
    with runtime.sessions() as session:
        version = session.get(Dossier, dossier_id).version
    cleared = {"owner_name": "", "mobile": "", "vessel_number": ""}
    operator.post(f"{url}/form", data={"csrf_token": token(operator, url), "version": version,
                                       **cleared})  # fmt: skip
    with runtime.sessions() as session:
        dossier = session.get(Dossier, dossier_id)
        applicant = session.get(Applicant, dossier.applicant_id)
    assert (dossier.form["owner_name"], applicant.name) == ("", None)
    assert (dossier.form["address"], applicant.address) == ("Tịnh Kỳ", "Tịnh Kỳ")
    assert (dossier.notify_phone, applicant.phone, "mobile" in dossier.form) == (None, None, False)
    assert (dossier.form["vessel_number"], dossier.vessel_id) == ("", None)


def test_a_second_editor_with_a_stale_page_is_told_not_overwritten(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    url, stale = _claimed(operator, runtime, dossier_id)
    csrf = token(operator, url)
    operator.post(
        f"{url}/form", data={"csrf_token": csrf, "version": stale, "owner_name": "Người thứ nhất"}
    )
    response = operator.post(
        f"{url}/form", data={"csrf_token": csrf, "version": stale, "owner_name": "Người thứ hai"}
    )
    assert "vừa được người khác cập nhật" in operator.get(response.headers["Location"]).get_data(
        as_text=True
    )
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).form["owner_name"] == "Người thứ nhất"


def test_accepting_needs_the_required_fields(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    url, version = _claimed(operator, runtime, dossier_id)
    operator.post(
        f"{url}/status",
        data={"csrf_token": token(operator, url), "to": "accepted", "version": version},
    )
    page = operator.get(url).get_data(as_text=True)
    assert "Chưa đủ thông tin để tiếp nhận: Họ tên chủ tàu" in page
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).status is S.RECEIVED


def test_a_supplement_with_two_documents_is_sent_once_and_only_a_supervisor_asks_twice(
    client, runtime
):
    dossier_id, _ = _phone_dossier(runtime)
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    url, version = _claimed(client, runtime, dossier_id)
    docs = [
        "Bản sao giấy chứng nhận đăng ký tàu cá",
        "Bản sao giấy chứng nhận an toàn kỹ thuật tàu cá",
    ]
    client.post(
        f"{url}/status",
        data={
            "csrf_token": token(client, url),
            "to": "supplement_requested",
            "version": version,
            "documents": docs,
            "reason": "Bản chụp bị mờ",
        },
    )
    run_rules(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now())
    with runtime.sessions() as session:
        notice = session.scalars(select(Notice).where(Notice.kind == "supplement")).one()
        dossier = session.get(Dossier, dossier_id)
        change_status(
            session,
            dossier,
            S.IN_PROCESS,
            actor=Actor.staff("lan", Role.OPERATOR),
            now=runtime.clock.now(),
            calendar=runtime.calendar(),
        )
        session.commit()
        version = dossier.version
    assert "Ban sao giay chung nhan dang ky tau ca, Ban sao giay chung nhan an" in notice.text
    second = client.post(
        f"{url}/status",
        data={
            "csrf_token": token(client, url),
            "to": "supplement_requested",
            "version": version,
            "documents": ["Ảnh tàu"],
            "reason": "Thiếu ảnh",
            "override": "1",
        },
    )
    assert "Chỉ lãnh đạo" in client.get(second.headers["Location"]).get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).supplement_count == 1


def test_citizen_ids_are_masked_and_a_full_view_is_audited(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert "012345678901" not in page and "••••••••8901" in page
    full = operator.get(f"/admin/dossiers/{dossier_id}/citizen-id").get_data(as_text=True)
    assert "012345678901" in full
    with runtime.sessions() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "citizen_id.viewed")
        ).one()
    assert (event.actor, event.target_id) == ("staff:lan", str(dossier_id))


def test_recordings_are_for_logged_in_staff_and_each_playback_is_audited(app, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    folder = runtime.settings.data_dir / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.mp3").write_bytes(b"ID3 audio")
    with runtime.sessions() as session, session.begin():
        recording_id = create_recording(session, dossier_id=dossier_id, path="recordings/t.mp3").id
    anonymous = app.test_client()
    assert anonymous.get(f"/admin/recordings/{recording_id}").status_code == 302
    staff = app.test_client()
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(staff, "lan")
    page = staff.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="/admin/recordings/{recording_id}">' in page
    audio = staff.get(f"/admin/recordings/{recording_id}")
    assert (audio.status_code, audio.data, audio.mimetype) == (200, b"ID3 audio", "audio/mpeg")
    with runtime.sessions() as session:
        assert session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_type == "recording")
        ).all() == ["recording.viewed"]


def test_the_receipt_slip_of_an_incomplete_dossier_promises_the_date_once_complete(
    operator, runtime
):
    dossier_id, code = _phone_dossier(runtime)
    receipt = operator.get(f"/admin/dossiers/{dossier_id}/slip/receipt").get_data(as_text=True)
    assert code in receipt
    assert "sẽ được nhắn tin khi hồ sơ đủ thông tin" in receipt and "ngày None" not in receipt


def test_the_printable_slips_carry_the_legal_fields(operator, runtime, clock):
    dossier_id, code = _phone_dossier(runtime, complete=True)
    receipt = operator.get(f"/admin/dossiers/{dossier_id}/slip/receipt").get_data(as_text=True)
    for text in (
        code,
        "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
        "09/12/2026",
        "Cấp, cấp lại giấy phép khai thác thủy sản",
        "QNg-90617-TS",
        "40.000 đ",
        "Độc lập - Tự do - Hạnh phúc",
    ):
        assert text in receipt, text
    assert operator.get(f"/admin/dossiers/{dossier_id}/slip/apology").status_code == 404
    with runtime.sessions() as session:
        from intake.results import set_new_date

        set_new_date(
            session,
            session.get(Dossier, dossier_id),
            dt.date(2026, 12, 14),
            reason="Chờ kiểm tra thực tế tàu",
            actor=Actor.staff("lan", Role.OPERATOR),
            now=clock.now(),
            calendar=runtime.calendar(),
        )
        session.commit()
    apology = operator.get(f"/admin/dossiers/{dossier_id}/slip/apology").get_data(as_text=True)
    for text in (
        "Phiếu xin lỗi và hẹn lại ngày trả kết quả",
        "09/12/2026",
        "14/12/2026",
        "Chờ kiểm tra thực tế tàu",
        code,
    ):
        assert text in apology, text


def test_staff_enter_the_exact_length_and_a_too_short_band_no_longer_blocks(operator, runtime):
    """A safety certificate whose caller said "under 12 m": incomplete until staff give the
    length from the registration; 12,4 m reaches the 12 m minimum and the clock starts."""
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, procedure="vessel_safety", complete=False,
                                 owner_name="Nguyễn Văn Ba", vessel="90617")  # fmt: skip
        session.get(Vessel, dossier.vessel_id).length_band = "under_12"
        dossier_id = dossier.id
    url, version = _claimed(operator, runtime, dossier_id)
    page = operator.get(url).get_data(as_text=True)
    assert "Chiều dài tàu: thủ tục áp dụng cho tàu từ 12 m (đã khai: dưới 12 m)" in page
    form = {"csrf_token": token(operator, url), "version": version}
    bad = operator.post(f"{url}/form", data={**form, "vessel_length_m": "1e1"})
    assert bad.status_code == 400 and "Chiều dài viết bằng số mét" in bad.get_data(as_text=True)
    operator.post(f"{url}/form", data={**form, "vessel_length_m": "12,4"})
    with runtime.sessions() as session:
        dossier = session.get(Dossier, dossier_id)
        assert session.get(Vessel, dossier.vessel_id).length_m == 12.4
    # Completed Tue 01/12/2026 09:00 (the test clock), 5 working days: Wed 2 ... Tue 8.
    assert dossier.due_date == dt.date(2026, 12, 8)
    page = operator.get(url).get_data(as_text=True)
    assert 'id="f-vessel_length_m" name="vessel_length_m" value="12.4"' in page
    assert '<span id="due-date">08/12/2026</span>' in page


def test_the_queue_pages_on_to_the_dossiers_without_a_due_date(operator, runtime):
    first, _ = _phone_dossier(runtime, vessel="11111")
    second, code = _phone_dossier(runtime, vessel="22222", phone="+84987654321")
    response = operator.get(f"/admin/dossiers?after=none:{first}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and code in page
    assert f'/admin/dossiers/{first}"' not in page and f'/admin/dossiers/{second}"' in page


def test_the_page_and_the_receipt_slip_name_the_authority_that_decides(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    # The caller gave no length: the province's sub-department, to be confirmed.
    assert '<span id="authority">Chi cục Thủy sản tỉnh Quảng Ngãi</span>' in page
    assert "chưa rõ chiều dài tàu" in page
    with runtime.sessions() as session, session.begin():
        dossier = session.get(Dossier, dossier_id)
        session.get(Vessel, dossier.vessel_id).length_band = "under_12"
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert '<span id="authority">Ủy ban nhân dân xã, phường, đặc khu nơi tàu đăng ký</span>' in page
    slip = operator.get(f"/admin/dossiers/{dossier_id}/slip/receipt").get_data(as_text=True)
    assert "Cơ quan giải quyết: Ủy ban nhân dân xã, phường, đặc khu nơi tàu đăng ký." in slip
