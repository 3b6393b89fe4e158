"""Whatever is in the address bar, a staff page answers: a bad filter or paging cursor is
dropped with a message (400), an id the database cannot hold is a page that does not exist
(404). On PostgreSQL, which refuses NUL characters and integers beyond its range."""

from __future__ import annotations

import html

import pytest

from intake.models import Role
from tests.admin.staff import PASSWORD, csrf_of, log_in, make_user, token
from tests.factories import create_dossier
from tests.hostile import on_postgresql

pytestmark = on_postgresql
TWENTY_DIGITS = "9" * 20
BAD_CURSOR = "Liên kết trang không hợp lệ; đang hiển thị trang đầu."


@pytest.fixture
def supervisor(client, runtime):
    with runtime.sessions() as session, session.begin():
        create_dossier(session, runtime)
    make_user(runtime, "mai", Role.SUPERVISOR)
    log_in(client, "mai")
    return client


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(
    "path",
    [
        "/admin/dossiers?after=2026-13-45:1",
        f"/admin/dossiers?after=2026-12-09:{TWENTY_DIGITS}",
        "/admin/dossiers?after=2026-12-09:²",
        f"/admin/dossiers?status=draft&after={TWENTY_DIGITS}",
        "/admin/dossiers?status=draft&after=²",
        f"/admin/outbox?after={TWENTY_DIGITS}",
        "/admin/outbox?after=²",
        f"/admin/calls?after={TWENTY_DIGITS}",
        "/admin/calls?after=2147483648",
        "/admin/calls?after=²",
        f"/admin/audit?before={TWENTY_DIGITS}",
        "/admin/audit?before=" + "9" * 18,
    ],
)
def test_a_broken_paging_cursor_shows_the_first_page_with_a_message(supervisor, path):
    response = supervisor.get(path)
    assert response.status_code == 400
    page = _page(response)
    assert BAD_CURSOR in page and "<table" in page


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/admin/dossiers?q=%00", "Tìm kiếm"),
        ("/admin/dossiers?q=QNg-%00-TS", "Tìm kiếm"),
        ("/admin/outbox?kind=rec%00eipt", "Loại tin"),
        ("/admin/audit?actor=mai%00", "Người thực hiện"),
        ("/admin/audit?action=login%00", "Hành động"),
    ],
)
def test_a_filter_with_a_nul_is_ignored_with_a_message(supervisor, path, label):
    response = supervisor.get(path)
    assert response.status_code == 400
    assert f"Ô «{label}» có ký tự không dùng được" in _page(response)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/admin/calls?date=01/01/0001", "e-date"),
        ("/admin/calls?date=31/12/9999", "e-date"),
        ("/admin/audit?start=01/01/0001", "start-error"),
        ("/admin/audit?end=31/12/9999", "end-error"),
        ("/admin/reports?start=01/01/0001&end=31/12/0001", "start-error"),
        ("/admin/reports?start=01/01/9999&end=31/12/9999", "end-error"),
    ],
)
def test_a_date_at_the_ends_of_the_calendar_gets_a_message_next_to_its_field(
    supervisor, path, field
):
    response = supervisor.get(path)
    assert response.status_code == 400
    assert f'id="{field}">Ngày phải trong khoảng 01/01/1900 đến 31/12/2100.' in _page(response)


@pytest.mark.parametrize(
    "query", ["start=01/01/0001&end=31/12/0001", "start=01/01/9999&end=31/12/9999"]
)
def test_the_excel_report_for_year_one_or_9999_is_refused_not_crashed(supervisor, query):
    assert supervisor.get(f"/admin/reports.xlsx?{query}").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/dossiers/{TWENTY_DIGITS}",
        "/admin/dossiers/2147483648",
        "/admin/dossiers/²",
        f"/admin/dossiers/{TWENTY_DIGITS}/citizen-id",
        f"/admin/dossiers/{TWENTY_DIGITS}/slip/receipt",
        f"/admin/recordings/{TWENTY_DIGITS}",
    ],
)
def test_an_id_beyond_the_database_range_is_not_found(supervisor, path):
    response = supervisor.get(path)
    assert response.status_code == 404
    assert "Không tìm thấy" in _page(response)


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/dossiers/{TWENTY_DIGITS}/claim",
        f"/admin/dossiers/{TWENTY_DIGITS}/form",
        f"/admin/outbox/{TWENTY_DIGITS}/retry",
        f"/admin/users/{TWENTY_DIGITS}/active",
    ],
)
def test_an_action_on_an_id_beyond_the_database_range_is_not_found(client, runtime, path):
    make_user(runtime, "root", Role.ADMIN)
    log_in(client, "root")
    response = client.post(path, data={"csrf_token": token(client)})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "next_",
    ["/admin%0d%0aSet-Cookie:%20x=1", "/admin/%0aLocation:%20https://evil.example/", "/admin%00"],
)
def test_a_log_in_link_with_a_line_break_lands_on_the_dashboard(client, runtime, next_):
    make_user(runtime, "lan", Role.OPERATOR)
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post(
        f"/admin/login?next={next_}",
        data={"username": "lan", "password": PASSWORD, "csrf_token": csrf_of(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    assert "x=1" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/admin/login", {"username": "lan\x00", "password": PASSWORD}),
        ("/admin/callbacks/1/close", {"note": "Đã gọi\x00"}),
        ("/admin/users", {"username": "an\x00", "role": "operator", "generate": "1"}),
        ("/admin/calendar", {"date": "02/01/2027", "kind": "holiday", "note": "Tết\x00"}),
    ],
)
def test_a_staff_form_value_with_a_nul_gets_a_400_page_in_vietnamese(client, runtime, path, form):
    make_user(runtime, "root", Role.ADMIN)
    log_in(client, "root")
    response = client.post(path, data={**form, "csrf_token": token(client)})
    assert response.status_code == 400
    assert "Yêu cầu không hợp lệ" in _page(response)
