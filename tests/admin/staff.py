"""Logging staff in through the real log-in form (with its CSRF token)."""

from __future__ import annotations

import re

from intake.models import Role
from tests.factories import STAFF_PASSWORD, create_staff_user

PASSWORD = STAFF_PASSWORD


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def make_user(runtime, name: str, role: Role) -> None:
    with runtime.sessions() as session, session.begin():
        create_staff_user(session, name, role)


def log_in(client, name: str, password: str = PASSWORD):
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    return client.post(
        "/admin/login", data={"username": name, "password": password, "csrf_token": token}
    )


def token(client, path: str = "/admin/") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))
