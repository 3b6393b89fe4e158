"""/healthz reports the database; 503 when it is unreachable."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from tongdai.app import create_app
from tongdai.db import make_engine
from tongdai.runtime import Runtime


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
    runtime = Runtime(base_settings, engine, sessionmaker(engine), clock)
    response = create_app(runtime).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"]["ok"] is False


def test_healthz_reports_the_oldest_due_sms(client, runtime, session, clock):
    import datetime as dt

    from sms.outbox import enqueue

    values = {"code": "X-261201-0001", "reason": "r"}
    enqueue(
        session,
        runtime.settings,
        kind="stopped",
        phone="0912345678",
        values=values,
        now=clock.now(),
    )
    session.commit()
    clock.advance(dt.timedelta(minutes=15))
    body = client.get("/healthz").get_json()
    assert body["sms"]["oldest_pending_seconds"] == 900
    assert body["sms"]["pending_due"] == 1 and body["sms"]["ok"] is False
    assert body["status"] == "degraded"


def test_healthz_reports_ami_from_its_heartbeat(runtime, session, clock):
    from tongdai.heartbeat import beat

    runtime.settings = runtime.settings.model_copy(update={"ami_url": "ami://u:p@127.0.0.1:5038"})
    client = create_app(runtime).test_client()
    assert client.get("/healthz").get_json()["ami"]["ok"] is False  # no heartbeat yet
    beat(session, "ami", "host:1", {"connected": True}, clock.now())
    session.commit()
    body = client.get("/healthz").get_json()
    assert body["ami"]["ok"] is True and body["status"] == "ok"


def test_healthz_names_the_scheduler_leader(client, session, clock):
    from tongdai.heartbeat import beat

    assert client.get("/healthz").get_json()["scheduler"]["leader"] is None
    beat(session, "scheduler-leader", "host-a:4242", {}, clock.now())
    session.commit()
    assert client.get("/healthz").get_json()["scheduler"]["leader"] == "host-a:4242"
