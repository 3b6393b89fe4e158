"""/healthz reports the database; 503 when it is unreachable; details only for monitoring (the
health token) and signed-in staff."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker

from intake.models import Role
from intake.runtime import Runtime
from plumbing.db import make_engine
from tests.admin.staff import log_in, make_user
from tests.factories import create_notice
from tongdai.app import create_app

HEALTH_TOKEN = "monitoring-token-2026"


@pytest.fixture
def monitored(runtime):
    runtime.settings = runtime.settings.model_copy(update={"health_token": HEALTH_TOKEN})
    return runtime


class Monitor:
    """A monitoring system: every request carries the health token."""

    def __init__(self, client, token: str = HEALTH_TOKEN) -> None:
        self.client, self.token = client, token

    def get(self, path: str):
        return self.client.get(path, headers={"X-Health-Token": self.token})


@pytest.fixture
def client(monitored):
    return Monitor(create_app(monitored).test_client())


def test_healthz_reports_the_database_ok(client, runtime):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "backend": runtime.engine.dialect.name}


def test_healthz_is_503_when_the_database_is_unreachable(base_settings, clock):
    # A port nothing listens on: the check must fail fast and say so.
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    engine = make_engine(url)
    settings = base_settings.model_copy(update={"health_token": HEALTH_TOKEN})
    runtime = Runtime(settings, engine, sessionmaker(engine), clock)
    response = Monitor(create_app(runtime).test_client()).get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"]["ok"] is False


def test_healthz_reports_the_oldest_due_sms(client, runtime, session, clock):
    import datetime as dt

    create_notice(session, runtime)
    session.commit()
    clock.advance(dt.timedelta(minutes=15))
    body = client.get("/healthz").get_json()
    assert body["sms"]["oldest_pending_seconds"] == 900
    assert body["sms"]["pending_due"] == 1 and body["sms"]["ok"] is False
    assert body["status"] == "degraded"


def test_healthz_reports_ami_from_its_heartbeat(monitored, session, clock):
    from plumbing.heartbeat import beat

    runtime = monitored
    runtime.settings = runtime.settings.model_copy(update={"ami_url": "ami://u:p@127.0.0.1:5038"})
    client = Monitor(create_app(runtime).test_client())
    assert client.get("/healthz").get_json()["ami"]["ok"] is False  # no heartbeat yet
    beat(session, "ami", "host:1", {"connected": True}, clock.now())
    session.commit()
    body = client.get("/healthz").get_json()
    assert body["ami"]["ok"] is True and body["status"] == "ok"


def test_healthz_names_the_scheduler_leader(client, session, clock):
    from plumbing.heartbeat import beat

    assert client.get("/healthz").get_json()["scheduler"]["leader"] is None
    beat(session, "scheduler-leader", "host-a:4242", {}, clock.now())
    session.commit()
    assert client.get("/healthz").get_json()["scheduler"]["leader"] == "host-a:4242"


# ---- who sees the details --------------------------------------------------------------------


def test_an_anonymous_caller_learns_only_the_overall_state(monitored, session, clock):
    from plumbing.heartbeat import beat

    beat(session, "scheduler-leader", "host-a:4242", {}, clock.now())
    session.commit()
    response = create_app(monitored).test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert "host-a" not in response.get_data(as_text=True)


def test_a_wrong_health_token_gets_no_details(monitored):
    client = Monitor(create_app(monitored).test_client(), token="monitoring-token-2025")
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_without_a_configured_token_no_header_unlocks_the_details(runtime):
    assert runtime.settings.health_token is None
    client = create_app(runtime).test_client()
    for token in ("", "None", "null"):
        reply = client.get("/healthz", headers={"X-Health-Token": token})
        assert reply.get_json() == {"status": "ok"}


def test_the_state_without_details_still_says_degraded(monitored, session, clock):
    import datetime as dt

    create_notice(session, monitored)
    session.commit()
    clock.advance(dt.timedelta(minutes=15))
    assert create_app(monitored).test_client().get("/healthz").get_json() == {"status": "degraded"}


def test_the_503_without_details_does_not_name_the_error(base_settings, clock):
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    engine = make_engine(url)
    runtime = Runtime(base_settings, engine, sessionmaker(engine), clock)
    response = create_app(runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "down"}


def test_a_signed_in_staff_member_sees_the_details(runtime):
    client = create_app(runtime).test_client()
    make_user(runtime, "tuan", Role.OPERATOR)
    assert log_in(client, "tuan").status_code == 302
    body = client.get("/healthz").get_json()
    assert body["database"]["ok"] is True and "scheduler" in body


def test_a_session_of_a_deactivated_account_sees_no_details(runtime):
    from sqlalchemy import select

    from intake.models import StaffUser

    client = create_app(runtime).test_client()
    make_user(runtime, "tuan", Role.OPERATOR)
    assert log_in(client, "tuan").status_code == 302
    with runtime.sessions() as session, session.begin():
        session.scalars(select(StaffUser).where(StaffUser.username == "tuan")).one().active = False
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_the_health_token_comes_from_the_environment():
    from plumbing.settings import load_settings
    from tests.conftest import ROOT

    env = {"TONGDAI_HEALTH_TOKEN": HEALTH_TOKEN, "TONGDAI_SECRET_KEY": "k"}
    assert load_settings(ROOT / "config.toml", env=env).health_token == HEALTH_TOKEN
