"""Who may see what: log-in, roles, CSRF, throttling, inactivity, and every /admin route."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from intake.models import AuditEvent, Role, StaffUser
from tests.admin.staff import PASSWORD, log_in, make_user, token

SUPERVISOR_PAGES = ["/admin/reports", "/admin/users", "/admin/audit"]
ADMIN_PAGES = ["/admin/calendar"]


def _admin_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin") and rule.endpoint not in (
            "auth.login",
            "static_admin.static",
        ):
            path = re.sub(
                r"<(?:int:)?(\w+)>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule
            )
            yield rule, path


def test_every_admin_page_without_a_session_redirects_to_log_in(app, client):
    checked = 0
    for rule, path in _admin_rules(app):
        if "GET" in rule.methods:
            response = client.get(path)
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/admin/login"), path
            checked += 1
    assert checked >= 12


def test_every_post_without_a_csrf_token_is_refused(app, client, runtime):
    make_user(runtime, "lan", Role.ADMIN)
    log_in(client, "lan")
    checked = 0
    for rule, path in _admin_rules(app):
        if "POST" in rule.methods:
            response = client.post(path, data={"to": "accepted"})
            assert response.status_code == 400, path
            checked += 1
    assert checked >= 8
    assert (
        client.post("/admin/login", data={"username": "lan", "password": PASSWORD}).status_code
        == 400
    )


@pytest.mark.parametrize("path", SUPERVISOR_PAGES + ADMIN_PAGES)
def test_an_operator_cannot_reach_supervisor_or_admin_pages(client, runtime, path):
    make_user(runtime, "binh", Role.OPERATOR)
    log_in(client, "binh")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_supervisor_cannot_reach_admin_pages(client, runtime, path):
    make_user(runtime, "hung", Role.SUPERVISOR)
    log_in(client, "hung")
    assert client.get(path).status_code == 403
    assert client.get("/admin/reports").status_code == 200


def test_log_in_and_out(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    response = log_in(client, "lan")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout", data={"csrf_token": token(client)})
    assert client.get("/admin/").status_code == 302


def test_a_wrong_password_says_nothing_about_whether_the_user_exists(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    wrong = log_in(client, "lan", "sai-mat-khau-roi")
    unknown = log_in(client, "khong-co", "sai-mat-khau-roi")
    assert wrong.status_code == unknown.status_code == 401
    assert "không đúng" in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("không đúng") == unknown.get_data(as_text=True).count(
        "không đúng"
    )


def test_five_wrong_passwords_lock_the_account_for_a_while(client, runtime, clock):
    make_user(runtime, "lan", Role.OPERATOR)
    for _ in range(5):
        log_in(client, "lan", "sai-mat-khau-roi")
    locked = log_in(client, "lan")  # even the right password
    assert locked.status_code == 401 and "tạm khoá" in locked.get_data(as_text=True)
    clock.advance(dt.timedelta(minutes=16))
    assert log_in(client, "lan").status_code == 302
    with runtime.sessions() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "login.locked" in actions and "login" in actions


def test_a_session_ends_after_thirty_minutes_without_a_request(client, runtime, clock):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    clock.advance(dt.timedelta(minutes=29))
    assert client.get("/admin/").status_code == 200
    clock.advance(dt.timedelta(minutes=31))
    assert client.get("/admin/").status_code == 302


def test_a_reset_password_must_be_changed_before_anything_else(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    with runtime.sessions() as session, session.begin():
        session.scalars(select(StaffUser)).one().must_change_password = True
    log_in(client, "lan")
    assert client.get("/admin/dossiers").headers["Location"] == "/admin/password"
    response = client.post(
        "/admin/password",
        data={
            "csrf_token": token(client, "/admin/password"),
            "current": PASSWORD,
            "new": "ngan",
            "again": "khac",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "ít nhất 10 ký tự" in page and "Hai lần nhập không giống nhau" in page
    client.post(
        "/admin/password",
        data={
            "csrf_token": token(client, "/admin/password"),
            "current": PASSWORD,
            "new": "mat-khau-moi-cua-lan",
            "again": "mat-khau-moi-cua-lan",
        },
    )
    assert client.get("/admin/dossiers").status_code == 200


def test_the_log_in_page_never_redirects_off_site(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    page = client.get("/admin/login?next=https://evil.example/")
    from tests.admin.staff import csrf_of

    response = client.post(
        "/admin/login?next=https://evil.example/",
        data={
            "username": "lan",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.get_data(as_text=True)),
        },
    )
    assert response.headers["Location"] == "/admin/"


def test_staff_pages_are_not_cached_or_framed(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    response = client.get("/admin/dossiers")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    cookie = response.request.headers.get("Cookie", "")
    assert "tongdai_session" in cookie
