"""Who may call the API: signed requests from an active client, within the time window, at the
client's rate; every call audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from api.clients import revoke_client
from api.models import ApiClient, ApiScope
from intake.models import AuditEvent
from tests.api.signed import make_system, status_event
from tests.factories import create_dossier


@pytest.fixture
def code(runtime) -> str:
    with runtime.sessions() as session, session.begin():
        return create_dossier(session, runtime).code


def test_a_signed_request_reads_the_dossier(client, runtime, code):
    system = make_system(client, runtime, scope=ApiScope.READ)

    reply = system.get(f"/api/v1/dossiers/{code}")

    assert reply.status_code == 200
    assert reply.json["code"] == code
    assert reply.json["status"] == {"name": "received", "code": 1, "label": "Mới tiếp nhận"}


@pytest.mark.parametrize(
    "spoil",
    ["no headers", "wrong secret", "other path", "other body", "unknown client", "old", "future"],
)
def test_a_request_that_is_not_signed_exactly_is_refused_with_401(client, runtime, code, spoil):
    system = make_system(client, runtime)
    target = f"/api/v1/dossiers/{code}/events"
    body = b'{"event_id": "e1"}'
    headers = system.headers("POST", target, body)
    now = int(runtime.clock.now().timestamp())
    if spoil == "no headers":
        headers = {}
    elif spoil == "wrong secret":
        system.secret = "not-the-secret"
        headers = system.headers("POST", target, body)
    elif spoil == "other path":
        headers = system.headers("POST", f"/api/v1/dossiers/{code}", body)
    elif spoil == "other body":
        body = b'{"event_id": "e2"}'
    elif spoil == "unknown client":
        headers["X-Tongdai-Client"] = "tdc_0000000000000000"
    elif spoil in ("old", "future"):
        shift = -301 if spoil == "old" else 301
        from api.signing import signed_headers

        headers = signed_headers(system.public_id, system.secret, "POST", target, body,
                                 timestamp=now + shift)  # fmt: skip

    reply = client.post(target, data=body, content_type="application/json", headers=headers)

    assert reply.status_code == 401
    assert reply.mimetype == "application/problem+json"
    assert reply.json["status"] == 401 and reply.json["type"].endswith("/unauthenticated")
    assert reply.headers["WWW-Authenticate"].startswith("Tongdai-HMAC-SHA256")


def test_the_signature_covers_the_query(client, runtime, code):
    system = make_system(client, runtime, scope=ApiScope.READ)
    headers = system.headers("GET", "/api/v1/dossiers?changed_since=2026-01-01T00:00:00Z")

    reply = client.get("/api/v1/dossiers?changed_since=2000-01-01T00:00:00Z", headers=headers)

    assert reply.status_code == 401


def test_a_revoked_client_is_refused_at_once(client, runtime, code):
    system = make_system(client, runtime, scope=ApiScope.READ)
    assert system.get(f"/api/v1/dossiers/{code}").status_code == 200
    with runtime.sessions() as session, session.begin():
        client_id = session.scalar(
            select(ApiClient.id).where(ApiClient.public_id == system.public_id)
        )
        assert revoke_client(session, client_id, revoked_by="staff:an", now=runtime.clock.now())

    assert system.get(f"/api/v1/dossiers/{code}").status_code == 401


def test_a_read_client_may_not_send_events(client, runtime, code):
    system = make_system(client, runtime, scope=ApiScope.READ)

    reply = system.event(code, status_event("e1", "accepted"))

    assert reply.status_code == 403
    assert reply.json["type"].endswith("/forbidden")


def test_a_client_over_its_rate_gets_429_until_the_next_minute(client, runtime, code, clock):
    system = make_system(client, runtime, scope=ApiScope.READ, rate_per_minute=3)
    answers = [system.get(f"/api/v1/dossiers/{code}").status_code for _ in range(4)]
    refused = system.get(f"/api/v1/dossiers/{code}")

    assert answers == [200, 200, 200, 429]
    assert refused.json["type"].endswith("/rate-limited")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    clock.advance(dt.timedelta(minutes=1))
    assert system.get(f"/api/v1/dossiers/{code}").status_code == 200


def test_every_signed_call_is_audited_with_client_action_and_dossier(client, runtime, code):
    system = make_system(client, runtime, scope=ApiScope.READ)
    system.get(f"/api/v1/dossiers/{code}")
    system.get("/api/v1/dossiers/000.00.53.H48.TD-261201-9999")

    with runtime.sessions() as session:
        lines = session.scalars(
            select(AuditEvent).where(AuditEvent.actor == "api:motcua").order_by(AuditEvent.id)
        ).all()
    assert [(a.action, a.target_id, a.details["status"]) for a in lines] == [
        ("api.dossier", code, 200),
        ("api.dossier", "000.00.53.H48.TD-261201-9999", 404),
    ]


def test_an_oversized_body_is_refused_with_a_problem_before_it_is_read(client, runtime, code):
    system = make_system(client, runtime)
    body = b"x" * (runtime.settings.api.max_body_kib * 1024 + 1)
    target = f"/api/v1/dossiers/{code}/events"

    reply = client.post(target, data=body, content_type="application/json",
                        headers=system.headers("POST", target, body))  # fmt: skip

    assert reply.status_code == 413
    assert reply.mimetype == "application/problem+json"


def test_an_address_no_view_answers_is_a_problem_too(client, runtime):
    reply = client.get("/api/v1/nowhere")

    assert reply.status_code == 404
    assert reply.mimetype == "application/problem+json"


@pytest.mark.parametrize("code", ["%00", "abc%00-261201-0001", "x" * 300])
def test_a_code_no_dossier_could_have_is_a_404_and_never_reaches_the_database(
    client, runtime, code
):
    system = make_system(client, runtime)

    read = system.get(f"/api/v1/dossiers/{code}")
    sent = system.event(code, status_event("e1", "accepted"))

    assert (read.status_code, sent.status_code) == (404, 404)
    with runtime.sessions() as session:
        targets = session.scalars(
            select(AuditEvent.target_id).where(AuditEvent.actor == "api:motcua")
        )
        assert list(targets) == ["", ""]


def test_a_client_id_of_another_form_is_refused_before_any_query(client, runtime, code):
    system = make_system(client, runtime)
    target = f"/api/v1/dossiers/{code}"
    headers = {**system.headers("GET", target), "X-Tongdai-Client": "tdc_\x01' OR 1=1"}

    assert client.get(target, headers=headers).status_code == 401


def test_a_nul_in_the_external_code_is_a_400_naming_it_not_a_500(client, runtime, code):
    """PostgreSQL cannot compare text with a NUL: found by schemathesis (a 500 on PostgreSQL)."""
    system = make_system(client, runtime, scope=ApiScope.READ)

    reply = system.get("/api/v1/dossiers?external_code=%00%C2%A4")

    assert reply.status_code == 400
    assert "external_code" in str(reply.json)
