"""API clients as admins make and revoke them: on the staff page and with `tongdai apiclient
add`; the secret is shown once and stored only encrypted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from api.clients import SecretBox
from api.models import ApiClient
from intake.models import AuditEvent, Role
from tests.admin.staff import log_in, make_user, token
from tests.api.signed import System
from tests.factories import create_dossier
from tests.tongdai.test_cli import env, tongdai  # noqa: F401 - env is a fixture


@pytest.fixture
def admin(client, runtime):
    make_user(runtime, "an", Role.ADMIN)
    log_in(client, "an")
    return client


def _add(admin, name="motcua", scope="write", rate=""):
    csrf = token(admin, "/admin/api-clients")
    return admin.post(
        "/admin/api-clients", data={"csrf_token": csrf, "name": name, "scope": scope, "rate": rate}
    )


def _shown(page: str) -> tuple[str, str]:
    public_id = re.search(r"Mã hệ thống: <code>(tdc_[0-9a-f]+)</code>", page).group(1)
    secret = re.search(r'<p class="sms-preview">([^<]+)</p>', page).group(1)
    return public_id, secret


def test_an_admin_adds_a_client_sees_its_secret_once_and_it_signs(admin, app, runtime):
    with runtime.sessions() as session, session.begin():
        code = create_dossier(session, runtime).code

    page = _add(admin).get_data(as_text=True)
    public_id, secret = _shown(page)
    again = admin.get("/admin/api-clients").get_data(as_text=True)

    assert public_id in again and secret not in again
    system = System(app.test_client(), runtime, public_id, secret)
    assert system.get(f"/api/v1/dossiers/{code}").status_code == 200
    with runtime.sessions() as session:
        stored = session.scalars(select(ApiClient)).one()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "api_client.added"))
        assert [(a.actor, a.target_id) for a in audit] == [("staff:an", public_id)]
    assert secret not in stored.secret_encrypted
    assert SecretBox(runtime.settings.api_secrets_key).open(stored.secret_encrypted) == secret
    assert (
        SecretBox("ZmFrZS1rZXktZmFrZS1rZXktZmFrZS1rZXktZmFrZSE=").open(stored.secret_encrypted)
        is None
    )


def test_a_name_is_refused_with_a_message_and_kept_in_the_form(admin):
    reply = _add(admin, name="một cửa")

    assert reply.status_code == 400
    page = reply.get_data(as_text=True)
    assert "Tên hệ thống gồm chữ cái không dấu" in page and 'value="một cửa"' in page


def test_a_revoked_client_is_refused_from_its_next_request(admin, app, runtime):
    with runtime.sessions() as session, session.begin():
        code = create_dossier(session, runtime).code
    public_id, secret = _shown(_add(admin).get_data(as_text=True))
    system = System(app.test_client(), runtime, public_id, secret)
    with runtime.sessions() as session:
        client_id = session.scalar(select(ApiClient.id))

    admin.post(
        f"/admin/api-clients/{client_id}/revoke",
        data={"csrf_token": token(admin, "/admin/api-clients")},
    )

    assert system.get(f"/api/v1/dossiers/{code}").status_code == 401
    assert "Đã thu hồi" in admin.get("/admin/api-clients").get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPERVISOR])
def test_only_admins_manage_clients(client, runtime, role):
    make_user(runtime, "lan", role)
    log_in(client, "lan")

    assert client.get("/admin/api-clients").status_code == 403


def test_the_cli_adds_a_client_and_prints_its_id_and_secret_once(env, db_url):  # noqa: F811
    env = {**env, "DATABASE_URL": db_url}
    assert tongdai("db", "upgrade", env=env).returncode == 0

    result = tongdai("apiclient", "add", "thuysan", "--scope", "read", env=env)
    again = tongdai("apiclient", "add", "thuysan", "--scope", "read", env=env)

    assert result.returncode == 0, result.stderr
    public_id = re.search(r"client id: (tdc_[0-9a-f]{16})", result.stdout).group(1)
    assert re.search(r"secret: +\S{40,}", result.stdout)
    assert again.returncode == 1 and "Đã có hệ thống tên «thuysan»" in again.stderr
    assert "Traceback" not in again.stderr
    from plumbing.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as connection:
        scope = connection.execute(
            select(ApiClient.scope).where(ApiClient.public_id == public_id)
        ).scalar_one()
    engine.dispose()
    assert scope == "read"
