"""The staff pages beyond dossiers: calls, SMS outbox, call-backs, users, the calendar."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import func, select

from admin.accounts import add_user
from intake.models import AuditEvent, CalendarDay, CalendarDayKind, Role, StaffUser
from ivr.models import CallbackRequest, CallLog, IvrCall, Recording, RecordingStatus
from sms.models import Notice, NoticeStatus
from tests.factories import create_dossier

PASSWORD = "mat-khau-thu-nghiem-2026"
MINUTE = dt.timedelta(minutes=1)


# ---- helpers ---------------------------------------------------------------------------------


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name} in the page"
    return html.unescape(match.group(1))


def make_user(runtime, name: str, role: Role) -> int:
    with runtime.sessions() as session, session.begin():
        return add_user(session, name, PASSWORD, role).id


def log_in(client, name: str, password: str = PASSWORD):
    login_page = client.get("/admin/login").get_data(as_text=True)
    return client.post(
        "/admin/login",
        data={
            "username": name,
            "password": password,
            "csrf_token": hidden(login_page, "csrf_token"),
        },
    )


def as_role(client, runtime, role: Role, name: str | None = None) -> str:
    """Log in a fresh user of `role`; return the CSRF token of the session."""
    name = name or role.value
    make_user(runtime, name, role)
    assert log_in(client, name).status_code == 302
    return hidden(client.get("/admin/calls").get_data(as_text=True), "csrf_token")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def audits(runtime, action: str) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def field_error(page: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}">([^<]*)</p>', page)
    assert match, f"no error next to {field_id}"
    return html.unescape(match.group(1))


# ---- calls -----------------------------------------------------------------------------------


def _call(session, runtime, n: int, **values) -> IvrCall:
    fields = {
        "provider": "asterisk",
        "provider_call_id": f"17000.{n}",
        "caller": "+84912345678",
        "started_at": runtime.clock.now() - n * MINUTE,
    }
    call = IvrCall(**{**fields, **values})
    session.add(call)
    session.flush()
    return call


def test_calls_show_caller_end_outcome_dossier_and_recordings(client, runtime):
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime)
        code = dossier.code
        call = _call(
            session,
            runtime,
            1,
            dossier_id=dossier.id,
            outcome="submitted",
            end_reason="hangup",
            duration_seconds=125,
            ended_at=runtime.clock.now(),
        )
        session.add(CallLog(uniqueid=call.provider_call_id, cause=17, cause_txt="User busy"))
        session.add(
            Recording(
                call_id=call.id,
                dossier_id=dossier.id,
                purpose="address_recording",
                provider="asterisk",
                seconds=4.0,
                status=RecordingStatus.STORED,
                path="recordings/a.wav",
            )
        )
        _call(session, runtime, 2, caller=None, outcome="callback")
        session.flush()
        recording_id = session.scalar(select(Recording.id))
    as_role(client, runtime, Role.OPERATOR)
    response = client.get("/admin/calls")
    page = text_of(response)
    assert response.status_code == 200
    assert "0912 345 678" in page and "Số ẩn" in page
    assert "2:05" in page
    assert "Người gọi gác máy; tổng đài: Máy bận" in page
    assert "Nộp hồ sơ" in page and "Hẹn gọi lại" in page
    assert f">{code}</a>" in page
    assert f'/admin/dossiers/{dossier.id}"' in page
    assert f'<audio controls preload="none" src="/admin/recordings/{recording_id}">' in page

    only_callbacks = text_of(client.get("/admin/calls?outcome=callback"))
    assert "Hẹn gọi lại" in only_callbacks and code not in only_callbacks


def test_calls_filter_by_local_date_and_page_by_id(client, runtime):
    with runtime.sessions() as session, session.begin():
        for n in range(1, 53):
            _call(session, runtime, n)
        # 00:30 on 01/12 in Vietnam is still 30/11 in UTC: the filter uses the local day.
        early = _call(session, runtime, 99, caller="+84987654321")
        early.started_at = dt.datetime(2026, 11, 30, 17, 30, tzinfo=dt.UTC)
        yesterday = _call(session, runtime, 100, caller="+84977777777")
        yesterday.started_at = dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)
    as_role(client, runtime, Role.OPERATOR)
    day = text_of(client.get("/admin/calls?date=01/12/2026"))
    assert "0987 654 321" in day and "0977 777 777" not in day
    assert "0977 777 777" in text_of(client.get("/admin/calls?date=30/11/2026"))

    first = text_of(client.get("/admin/calls"))
    assert first.count("<tr>") - 1 == 50
    after = re.search(r"after=(\d+)", first)
    assert after
    second = text_of(client.get(f"/admin/calls?after={after.group(1)}"))
    assert second.count("<tr>") - 1 == 4 and "Trang sau" not in second

    bad = client.get("/admin/calls?date=2026-12-01")
    assert bad.status_code == 400
    assert "ngày/tháng/năm" in field_error(text_of(bad), "e-date")


# ---- SMS outbox ------------------------------------------------------------------------------


def _notice(session, runtime, status: NoticeStatus, **values) -> Notice:
    now = runtime.clock.now()
    fields = dict(
        kind="receipt",
        phone="+84912345678",
        text="Da tiep nhan",
        encoding="GSM-7",
        segments=1,
        status=status,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    notice = Notice(**{**fields, **values})
    session.add(notice)
    session.flush()
    return notice


def test_outbox_lists_and_filters_notices(client, runtime, clock):
    later = clock.now() + dt.timedelta(hours=2)
    with runtime.sessions() as session, session.begin():
        _notice(session, runtime, NoticeStatus.SENT, text="tin da gui", provider_id="SM123")
        _notice(session, runtime, NoticeStatus.PENDING, text="tin ban dem", next_attempt_at=later)
        _notice(
            session,
            runtime,
            NoticeStatus.PENDING,
            text="tin dang loi",
            attempts=2,
            error_code="30003",
            error="Unreachable destination handset",
        )
        _notice(
            session,
            runtime,
            NoticeStatus.FAILED,
            text="tin hong",
            kind="survey",
            phone="+84987654321",
        )
    as_role(client, runtime, Role.OPERATOR)
    page = text_of(client.get("/admin/outbox"))
    assert all(t in page for t in ("tin da gui", "tin ban dem", "tin dang loi", "tin hong"))
    assert "SM123" in page and "30003" in page and "Unreachable destination handset" in page

    def shown(query: str) -> set[str]:
        page = text_of(client.get(f"/admin/outbox?{query}"))
        return {t for t in ("tin da gui", "tin ban dem", "tin dang loi", "tin hong") if t in page}

    assert shown("status=held") == {"tin ban dem"}
    assert shown("status=failing") == {"tin dang loi"}
    assert shown("status=sent") == {"tin da gui"}
    assert shown("kind=survey") == {"tin hong"}
    assert shown("phone=0987654321") == {"tin hong"}
    assert client.get("/admin/outbox?phone=12").status_code == 400


def test_retry_now_requeues_failed_and_unknown_but_never_sent(client, runtime, clock):
    with runtime.sessions() as session, session.begin():
        failed = _notice(
            session,
            runtime,
            NoticeStatus.FAILED,
            attempts=3,
            next_attempt_at=clock.now() - dt.timedelta(hours=1),
            settled_at=clock.now(),
        )
        unknown = _notice(session, runtime, NoticeStatus.UNKNOWN, attempts=1)
        sent = _notice(session, runtime, NoticeStatus.SENT, attempts=1)
        delivered = _notice(session, runtime, NoticeStatus.DELIVERED, attempts=1)
        ids = failed.id, unknown.id, sent.id, delivered.id
    token = as_role(client, runtime, Role.OPERATOR)
    clock.advance(dt.timedelta(minutes=5))
    for notice_id in ids:
        response = client.post(f"/admin/outbox/{notice_id}/retry", data={"csrf_token": token})
        assert response.status_code == 302
    with runtime.sessions() as session:
        rows = {n.id: n for n in session.scalars(select(Notice))}
    for notice_id in ids[:2]:
        assert rows[notice_id].status is NoticeStatus.PENDING
        assert rows[notice_id].next_attempt_at == clock.now()
    assert rows[failed.id].settled_at is None
    assert rows[sent.id].status is NoticeStatus.SENT
    assert rows[delivered.id].status is NoticeStatus.DELIVERED
    events = audits(runtime, "sms.retried")
    assert sorted(e.target_id for e in events) == sorted(str(i) for i in ids[:2])
    assert {e.details["from"] for e in events} == {"failed", "unknown"}
    page = text_of(client.get("/admin/outbox"))
    assert f"/admin/outbox/{failed.id}/retry" in page
    assert f"/admin/outbox/{sent.id}/retry" not in page
    assert f"/admin/outbox/{delivered.id}/retry" not in page


def test_the_live_preview_measures_the_final_text(client, runtime):
    token = as_role(client, runtime, Role.OPERATOR)
    headers = {"X-CSRF-Token": token}
    unicode = text_of(
        client.post(
            "/admin/outbox/preview",
            headers=headers,
            data={"text": "  Mời ông  đến nhận kết quả ", "strip": ""},
        )
    )
    assert "Mời ông đến nhận kết quả" in unicode
    assert "UCS-2" in unicode and "24 ký tự" in unicode and "<strong>1</strong> phần" in unicode
    stripped = text_of(
        client.post(
            "/admin/outbox/preview",
            headers=headers,
            data={"text": "Mời ông đến nhận kết quả", "strip": "1"},
        )
    )
    assert "Moi ong den nhan ket qua" in stripped and "GSM-7" in stripped
    long = text_of(
        client.post("/admin/outbox/preview", headers=headers, data={"text": "ă" * 71, "strip": ""})
    )
    assert "<strong>2</strong> phần" in long


def _manual(client, token: str, **fields):
    return client.post("/admin/outbox/manual", data={"csrf_token": token, **fields})


def test_a_manual_sms_is_queued_only_after_its_preview_is_confirmed(client, runtime, clock):
    token = as_role(client, runtime, Role.OPERATOR)
    typed = "Ông/bà vui lòng mang\r\nbản gốc giấy tờ tàu  đến Trung tâm."
    confirm = _manual(client, token, phone="0912 345 678", text=typed, step="preview")
    page = text_of(confirm)
    assert confirm.status_code == 200
    assert "Xác nhận gửi tin nhắn" in page and "0912 345 678" in page
    final = "Ông/bà vui lòng mang\nbản gốc giấy tờ tàu đến Trung tâm."
    assert final in page and "UCS-2" in page
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 0

    confirmed = {
        "phone": hidden(page, "phone"),
        "text": hidden(page, "text"),
        "nonce": hidden(page, "nonce"),
        "signature": hidden(page, "signature"),
        "step": "send",
    }
    sent = _manual(client, token, **confirmed)
    assert sent.status_code == 302
    again = _manual(client, token, **confirmed)  # a double click queues once
    assert again.status_code == 302
    with runtime.sessions() as session:
        notices = list(session.scalars(select(Notice)))
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.kind, notice.phone, notice.text) == ("manual", "+84912345678", final)
    assert notice.status is NoticeStatus.PENDING and notice.urgent is True
    assert (notice.encoding, notice.segments) == ("UCS-2", 1)
    assert notice.next_attempt_at == clock.now()
    [event] = audits(runtime, "sms.manual_queued")
    assert event.target_id == str(notice.id) and "+84912345678" not in str(event.details)


def test_a_manual_sms_enters_the_outbox_through_its_one_way_in(client, runtime, monkeypatch):
    import sms.outbox

    queued = []
    real = sms.outbox._queue

    def spy(session, **fields):
        queued.append(fields["kind"])
        return real(session, **fields)

    monkeypatch.setattr(sms.outbox, "_queue", spy)
    token = as_role(client, runtime, Role.OPERATOR)
    page = text_of(_manual(client, token, phone="0912345678", text="Xin chào", step="preview"))
    confirmed = {name: hidden(page, name) for name in ("phone", "text", "nonce", "signature")}
    assert _manual(client, token, **confirmed, step="send").status_code == 302
    with runtime.sessions() as session:
        assert [n.kind for n in session.scalars(select(Notice))] == ["manual"]
    assert queued == ["manual"]


def test_a_manual_sms_with_stripped_diacritics(client, runtime):
    token = as_role(client, runtime, Role.OPERATOR)
    page = text_of(_manual(client, token, phone="0912345678", text="Đã có kết quả", strip="1"))
    assert 'name="strip" value="1"' in page
    response = _manual(
        client,
        token,
        phone="0912345678",
        text="Đã có kết quả",
        strip="1",
        nonce=hidden(page, "nonce"),
        signature=hidden(page, "signature"),
        step="send",
    )
    assert response.status_code == 302
    with runtime.sessions() as session:
        notice = session.scalar(select(Notice))
    assert (notice.text, notice.encoding, notice.segments) == ("Da co ket qua", "GSM-7", 1)


def test_a_manual_sms_is_not_sent_unseen_or_changed_after_its_preview(client, runtime):
    token = as_role(client, runtime, Role.OPERATOR)
    unseen = _manual(client, token, phone="0912345678", text="Xin chào", step="send")
    assert unseen.status_code == 400 and "Xác nhận gửi tin nhắn" in text_of(unseen)
    page = text_of(_manual(client, token, phone="0912345678", text="Xin chào"))
    changed = _manual(
        client,
        token,
        phone="0912345678",
        text="Xin chào ông",
        step="send",
        nonce=hidden(page, "nonce"),
        signature=hidden(page, "signature"),
    )
    assert changed.status_code == 400
    assert "Nội dung khác với bản đã xem trước" in text_of(changed)
    other_number = _manual(
        client,
        token,
        phone="0987654321",
        text="Xin chào",
        step="send",
        nonce=hidden(page, "nonce"),
        signature=hidden(page, "signature"),
    )
    assert other_number.status_code == 400
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 0


def test_a_manual_sms_to_a_landline_or_without_text_is_refused_next_to_the_field(client, runtime):
    token = as_role(client, runtime, Role.OPERATOR)
    landline = _manual(client, token, phone="0255 3822 222", text="Xin chào")
    assert landline.status_code == 400
    assert "máy bàn" in field_error(text_of(landline), "e-m-phone")
    assert "Xin chào" in text_of(landline)  # what was typed is kept
    empty = _manual(client, token, phone="0912345678", text="   ")
    assert "Nhập nội dung" in field_error(text_of(empty), "e-m-text")
    too_long = _manual(client, token, phone="0912345678", text="ă" * 400)
    assert "tối đa 5 phần" in field_error(text_of(too_long), "e-m-text")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 0


# ---- call-backs ------------------------------------------------------------------------------


def test_callbacks_list_open_requests_first_and_close_one_with_a_note(client, runtime, clock):
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime)
        call = _call(session, runtime, 1, dossier_id=dossier.id)
        message = Recording(
            call_id=call.id,
            purpose="operator_message",
            provider="asterisk",
            seconds=7.0,
            status=RecordingStatus.STORED,
            path="r/m.wav",
        )
        session.add(message)
        session.flush()
        waiting = CallbackRequest(
            call_id=call.id,
            dossier_id=dossier.id,
            phone="+84912345678",
            reason="operator_closed",
            recording_id=message.id,
            created_at=clock.now(),
        )
        stuck = CallbackRequest(
            phone="+84987654321", reason="failures:vessel_digits", created_at=clock.now() - MINUTE
        )
        done = CallbackRequest(
            phone="+84977777777",
            reason="operator_busy",
            created_at=clock.now() - 60 * MINUTE,
            closed_at=clock.now(),
            closed_by="lan",
            note="Đã hướng dẫn",
        )
        session.add_all([waiting, stuck, done])
        session.flush()
        waiting_id, stuck_id = waiting.id, stuck.id
        code, message_id = dossier.code, message.id
    token = as_role(client, runtime, Role.OPERATOR)
    page = text_of(client.get("/admin/callbacks"))
    assert "Gọi ngoài giờ làm việc, để lại lời nhắn" in page
    assert "Không thao tác được ở bước «nhập số tàu»" in page
    assert f'src="/admin/recordings/{message_id}"' in page and f">{code}</a>" in page
    # Open requests come first, the one waiting longest on top; closed ones after.
    assert page.index("0987 654 321") < page.index("0912 345 678") < page.index("Đã hướng dẫn")

    refused = client.post(f"/admin/callbacks/{waiting_id}/close", data={"csrf_token": token})
    assert refused.status_code == 400
    assert "Ghi lại kết quả" in field_error(text_of(refused), f"e-note-{waiting_id}")

    clock.advance(dt.timedelta(minutes=10))
    closed = client.post(
        f"/admin/callbacks/{waiting_id}/close",
        data={"csrf_token": token, "note": "Đã gọi, hẹn mai nộp"},
    )
    assert closed.status_code == 302
    with runtime.sessions() as session:
        row = session.get(CallbackRequest, waiting_id)
        assert session.get(CallbackRequest, stuck_id).closed_at is None
    assert (row.closed_at, row.closed_by, row.note) == (
        clock.now(),
        "operator",
        "Đã gọi, hẹn mai nộp",
    )
    [event] = audits(runtime, "callback.closed")
    assert event.target_id == str(waiting_id) and event.actor == "staff:operator"


# ---- users -----------------------------------------------------------------------------------


def _user(runtime, name: str) -> StaffUser:
    with runtime.sessions() as session:
        return session.scalar(select(StaffUser).where(StaffUser.username == name))


def _shown_password(page: str) -> str:
    match = re.search(r'<p class="sms-preview">([^<]+)</p>', page)
    assert match, "no password shown"
    return html.unescape(match.group(1))


def test_operators_cannot_open_the_users_page(client, runtime):
    token = as_role(client, runtime, Role.OPERATOR)
    assert client.get("/admin/users").status_code == 403
    response = client.post("/admin/users", data={"csrf_token": token, "username": "x"})
    assert response.status_code == 403


def test_a_supervisor_manages_operators_only(client, runtime):
    make_user(runtime, "boss", Role.ADMIN)
    make_user(runtime, "other.supervisor", Role.SUPERVISOR)
    operator_id = make_user(runtime, "lan", Role.OPERATOR)
    token = as_role(client, runtime, Role.SUPERVISOR, "hung")
    page = text_of(client.get("/admin/users"))
    assert "lan" in page and "boss" not in page and "other.supervisor" not in page
    assert "Đổi vai trò" not in page

    created = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": " Mai.Anh ", "role": "operator", "generate": "1"},
    )
    assert created.status_code == 200
    password = _shown_password(text_of(created))
    mai = _user(runtime, "mai.anh")
    assert mai.role is Role.OPERATOR and mai.must_change_password is True

    refused = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "new.boss", "role": "supervisor", "generate": "1"},
    )
    assert refused.status_code == 400
    assert "vai trò" in field_error(text_of(refused), "e-role")
    assert _user(runtime, "new.boss") is None

    admin_id, supervisor_id = _user(runtime, "boss").id, _user(runtime, "other.supervisor").id
    for target in (admin_id, supervisor_id):
        off = client.post(
            f"/admin/users/{target}/active", data={"csrf_token": token, "active": "0"}
        )
        assert off.status_code == 403
        reset = client.post(f"/admin/users/{target}/password", data={"csrf_token": token})
        assert reset.status_code == 403
    promote = client.post(
        f"/admin/users/{operator_id}/role", data={"csrf_token": token, "role": "admin"}
    )
    assert promote.status_code == 403
    assert _user(runtime, "lan").role is Role.OPERATOR

    off = client.post(
        f"/admin/users/{operator_id}/active", data={"csrf_token": token, "active": "0"}
    )
    assert off.status_code == 302 and _user(runtime, "lan").active is False
    on = client.post(
        f"/admin/users/{operator_id}/active", data={"csrf_token": token, "active": "1"}
    )
    assert on.status_code == 302 and _user(runtime, "lan").active is True

    reset = client.post(f"/admin/users/{operator_id}/password", data={"csrf_token": token})
    assert reset.status_code == 200
    temporary = _shown_password(text_of(reset))
    assert _user(runtime, "lan").must_change_password is True

    # The new passwords work, and the first page after log-in is the forced change.
    for name, secret in (("mai.anh", password), ("lan", temporary)):
        other = client.application.test_client()
        assert log_in(other, name, secret).status_code == 302
        assert other.get("/admin/calls").headers["Location"] == "/admin/password"

    actions = [e.action for e in audits(runtime, "staff_user.created")]
    actions += [e.action for e in audits(runtime, "staff_user.disabled")]
    actions += [e.action for e in audits(runtime, "staff_user.enabled")]
    actions += [e.action for e in audits(runtime, "staff_user.password_reset")]
    assert len(actions) == 4
    with runtime.sessions() as session:
        details = " ".join(str(e.details) for e in session.scalars(select(AuditEvent)))
    assert password not in details and temporary not in details


def test_an_admin_manages_everyone_but_not_their_own_role_or_access(client, runtime):
    supervisor_id = make_user(runtime, "hung", Role.SUPERVISOR)
    token = as_role(client, runtime, Role.ADMIN, "boss")
    me = _user(runtime, "boss").id
    page = text_of(client.get("/admin/users"))
    assert "hung" in page and "Đổi vai trò" in page

    promote = client.post(
        f"/admin/users/{supervisor_id}/role", data={"csrf_token": token, "role": "admin"}
    )
    assert promote.status_code == 302 and _user(runtime, "hung").role is Role.ADMIN
    [event] = audits(runtime, "staff_user.role_changed")
    assert event.details == {"username": "hung", "from": "supervisor", "to": "admin"}

    demote_me = client.post(
        f"/admin/users/{me}/role", data={"csrf_token": token, "role": "operator"}
    )
    assert demote_me.status_code == 302 and _user(runtime, "boss").role is Role.ADMIN
    lock_me = client.post(f"/admin/users/{me}/active", data={"csrf_token": token, "active": "0"})
    assert lock_me.status_code == 302 and _user(runtime, "boss").active is True
    assert "không thể tự" in text_of(client.get("/admin/users"))

    short = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "tuan", "role": "supervisor", "password": "ngan"},
    )
    assert short.status_code == 400
    assert "ít nhất 10 ký tự" in field_error(text_of(short), "e-password")
    chosen = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "tuan", "role": "supervisor", "password": PASSWORD},
    )
    assert chosen.status_code == 302
    assert _user(runtime, "tuan").role is Role.SUPERVISOR
    twice = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "tuan", "role": "operator", "password": PASSWORD},
    )
    assert "đã tồn tại" in field_error(text_of(twice), "e-username")
    bad_name = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "Tuấn Anh", "role": "operator", "generate": "1"},
    )
    assert "chữ thường không dấu" in field_error(text_of(bad_name), "e-username")


# ---- calendar --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_only_admins_open_the_calendar(client, runtime, role):
    token = as_role(client, runtime, role)
    assert client.get("/admin/calendar").status_code == 403
    response = client.post("/admin/calendar", data={"csrf_token": token, "date": "02/12/2026"})
    assert response.status_code == 403


def test_the_year_view_marks_holidays_weekends_and_the_centres_days(client, runtime):
    with runtime.sessions() as session, session.begin():
        session.add(
            CalendarDay(
                day=dt.date(2026, 12, 31),
                kind=CalendarDayKind.HOLIDAY,
                note="Nghỉ cuối năm",
                source="lan",
            )
        )
    as_role(client, runtime, Role.ADMIN)
    page = text_of(client.get("/admin/calendar"))
    assert "Lịch làm việc năm 2026" in page
    assert all(f"Tháng {n}</h2>" in page for n in range(1, 13))
    assert page.index('<th scope="col">T2</th>') < page.index('<th scope="col">CN</th>')
    assert 'title="02/09/2026: Quốc khánh"' in page
    assert 'class="badge warn" title="31/12/2026: Nghỉ thêm: Nghỉ cuối năm"' in page
    assert 'class="muted" title="05/12/2026: Cuối tuần"' in page
    assert '<strong aria-current="date">1</strong>' in page
    assert "Ngày Giỗ Tổ Hùng Vương" in page
    assert "Tết Nguyên Đán" in text_of(client.get("/admin/calendar?year=2027"))


def test_adding_and_removing_a_day_changes_the_calendar_at_once(client, runtime):
    token = as_role(client, runtime, Role.ADMIN)
    wednesday, saturday = dt.date(2026, 12, 2), dt.date(2026, 12, 5)
    assert runtime.calendar().is_working_day(wednesday)
    assert not runtime.calendar().is_working_day(saturday)

    added = client.post(
        "/admin/calendar",
        data={"csrf_token": token, "date": "02/12/2026", "kind": "holiday", "note": "Bão số 9"},
    )
    assert added.status_code == 302
    assert not runtime.calendar().is_working_day(wednesday)
    worked = client.post(
        "/admin/calendar",
        data={"csrf_token": token, "date": "05/12/2026", "kind": "working", "note": "Làm bù"},
    )
    assert worked.status_code == 302
    assert runtime.calendar().is_working_day(saturday)
    with runtime.sessions() as session:
        row = session.get(CalendarDay, wednesday)
    assert (row.kind, row.note, row.source) == (CalendarDayKind.HOLIDAY, "Bão số 9", "admin")

    removed = client.post("/admin/calendar/2026-12-02/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    assert runtime.calendar().is_working_day(wednesday)
    assert [e.target_id for e in audits(runtime, "calendar.day_added")] == [
        "2026-12-02",
        "2026-12-05",
    ]
    [event] = audits(runtime, "calendar.day_removed")
    assert event.target_id == "2026-12-02" and event.details["kind"] == "holiday"


def test_a_calendar_day_that_changes_nothing_is_refused_next_to_the_field(client, runtime):
    token = as_role(client, runtime, Role.ADMIN)

    def refused(date: str, kind: str) -> str:
        response = client.post(
            "/admin/calendar", data={"csrf_token": token, "date": date, "kind": kind}
        )
        assert response.status_code == 400
        return field_error(text_of(response), "e-date")

    assert "ngày/tháng/năm" in refused("2026-12-02", "holiday")
    assert "vốn đã là ngày làm việc" in refused("02/12/2026", "working")
    assert "vốn đã là ngày nghỉ" in refused("06/12/2026", "holiday")
    assert "không phải ngày lễ" in refused("03/12/2026", "not_holiday")
    client.post(
        "/admin/calendar", data={"csrf_token": token, "date": "02/09/2027", "kind": "not_holiday"}
    )
    assert runtime.calendar().is_working_day(dt.date(2027, 9, 2))
    assert "đã có điều chỉnh" in refused("02/09/2027", "holiday")


# ---- CSRF ------------------------------------------------------------------------------------


def test_every_post_of_these_pages_needs_the_csrf_token(client, runtime):
    with runtime.sessions() as session, session.begin():
        notice = _notice(session, runtime, NoticeStatus.FAILED)
        callback = CallbackRequest(phone="+84912345678", reason="operator_busy")
        session.add(callback)
        session.flush()
        notice_id, callback_id = notice.id, callback.id
    as_role(client, runtime, Role.ADMIN)
    lan = make_user(runtime, "lan", Role.OPERATOR)
    posts = {
        f"/admin/outbox/{notice_id}/retry": {},
        "/admin/outbox/preview": {"text": "x"},
        "/admin/outbox/manual": {"phone": "0912345678", "text": "x", "step": "send"},
        f"/admin/callbacks/{callback_id}/close": {"note": "x"},
        "/admin/users": {"username": "x", "role": "operator", "generate": "1"},
        f"/admin/users/{lan}/active": {"active": "0"},
        f"/admin/users/{lan}/password": {},
        f"/admin/users/{lan}/role": {"role": "admin"},
        "/admin/calendar": {"date": "02/12/2026", "kind": "holiday"},
        "/admin/calendar/2026-12-02/remove": {},
    }
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 400, path
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 400, path
    with runtime.sessions() as session:
        assert session.get(Notice, notice_id).status is NoticeStatus.FAILED
        assert session.get(CallbackRequest, callback_id).closed_at is None
        assert session.get(StaffUser, lan).active is True
        assert session.get(CalendarDay, dt.date(2026, 12, 2)) is None
