"""Staff sessions live on the server: log-out, a password change or reset, and an admin's
"end all sessions" end them for good, whatever cookie someone kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from intake.models import AuditEvent, Role, StaffUser
from tests.admin.staff import PASSWORD, log_in, make_user, token

COOKIE = "tongdai_session"
NEW_PASSWORD = "mat-khau-moi-cua-lan-2026"


def _copy_of_cookie(app, client):
    """A second browser holding a copy of `client`'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _user_id(runtime, name: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(StaffUser.id).where(StaffUser.username == name))


def _actions(runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _logged_out(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_a_cookie_copied_before_log_out_opens_nothing_after_it(app, client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    thief = _copy_of_cookie(app, client)
    assert thief.get("/admin/dossiers").status_code == 200

    client.post("/admin/logout", data={"csrf_token": token(client)})

    assert _logged_out(thief.get("/admin/dossiers"))


def test_changing_ones_password_ends_every_other_session_but_keeps_this_one(app, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    office, phone = app.test_client(), app.test_client()
    log_in(office, "lan")
    log_in(phone, "lan")
    assert phone.get("/admin/dossiers").status_code == 200

    office.post(
        "/admin/password",
        data={
            "csrf_token": token(office, "/admin/password"),
            "current": PASSWORD,
            "new": NEW_PASSWORD,
            "again": NEW_PASSWORD,
        },
    )

    assert office.get("/admin/dossiers").status_code == 200
    assert _logged_out(phone.get("/admin/dossiers"))
    assert log_in(phone, "lan", NEW_PASSWORD).status_code == 302


def test_an_admin_password_reset_ends_every_session_of_that_account(app, client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    make_user(runtime, "boss", Role.ADMIN)
    lan = app.test_client()
    log_in(lan, "lan")
    log_in(client, "boss")

    reset = client.post(
        f"/admin/users/{_user_id(runtime, 'lan')}/password",
        data={"csrf_token": token(client, "/admin/users")},
    )

    assert reset.status_code == 200
    assert _logged_out(lan.get("/admin/dossiers"))
    assert client.get("/admin/dossiers").status_code == 200


def test_an_admin_ends_all_sessions_of_an_account_from_the_users_page(app, client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    make_user(runtime, "boss", Role.ADMIN)
    office, phone = app.test_client(), app.test_client()
    log_in(office, "lan")
    log_in(phone, "lan")
    log_in(client, "boss")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "Kết thúc mọi phiên" in page and "2 phiên" in page

    ended = client.post(
        f"/admin/users/{_user_id(runtime, 'lan')}/sessions/end",
        data={"csrf_token": token(client, "/admin/users")},
    )

    assert ended.status_code == 302
    assert _logged_out(office.get("/admin/dossiers"))
    assert _logged_out(phone.get("/admin/dossiers"))
    assert client.get("/admin/dossiers").status_code == 200
    assert "staff_user.sessions_ended" in _actions(runtime)
    # Without the form's token the action is refused.
    refused = client.post(f"/admin/users/{_user_id(runtime, 'lan')}/sessions/end")
    assert refused.status_code == 400


def test_an_operator_cannot_end_anyone_elses_sessions(app, client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    make_user(runtime, "binh", Role.OPERATOR)
    binh = app.test_client()
    log_in(binh, "binh")
    log_in(client, "lan")

    refused = client.post(
        f"/admin/users/{_user_id(runtime, 'binh')}/sessions/end",
        data={"csrf_token": token(client)},
    )

    assert refused.status_code == 403
    assert binh.get("/admin/dossiers").status_code == 200


def test_a_disabled_account_stays_out_even_after_it_is_enabled_again(app, client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    make_user(runtime, "boss", Role.ADMIN)
    lan = app.test_client()
    log_in(lan, "lan")
    log_in(client, "boss")
    lan_id = _user_id(runtime, "lan")
    for active in ("0", "1"):
        client.post(
            f"/admin/users/{lan_id}/active",
            data={"csrf_token": token(client, "/admin/users"), "active": active},
        )

    assert _logged_out(lan.get("/admin/dossiers"))


def test_a_busy_session_writes_its_last_request_at_most_once_a_minute(client, runtime, clock):
    from intake.models import StaffSession

    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    with runtime.sessions() as session:
        first = session.scalars(select(StaffSession.last_seen_at)).one()
    for _ in range(5):
        clock.advance(dt.timedelta(seconds=10))
        assert client.get("/admin/").status_code == 200
    with runtime.sessions() as session:
        assert session.scalars(select(StaffSession.last_seen_at)).one() == first
    clock.advance(dt.timedelta(seconds=15))
    client.get("/admin/")
    with runtime.sessions() as session:
        assert session.scalars(select(StaffSession.last_seen_at)).one() > first


def test_an_admin_ends_their_own_other_sessions_and_stays_in(app, client, runtime):
    make_user(runtime, "boss", Role.ADMIN)
    forgotten = app.test_client()
    log_in(forgotten, "boss")
    log_in(client, "boss")

    client.post(
        f"/admin/users/{_user_id(runtime, 'boss')}/sessions/end",
        data={"csrf_token": token(client, "/admin/users")},
    )

    assert _logged_out(forgotten.get("/admin/dossiers"))
    assert client.get("/admin/dossiers").status_code == 200


def test_a_session_ends_twelve_hours_after_log_in_however_busy(client, runtime, clock):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    for _ in range(35):  # a request every 20 minutes: never idle, 11 h 40 min in all
        clock.advance(dt.timedelta(minutes=20))
        assert client.get("/admin/").status_code == 200
    clock.advance(dt.timedelta(minutes=21))

    assert _logged_out(client.get("/admin/"))
