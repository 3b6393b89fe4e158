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
