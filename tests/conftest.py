"""Fixtures: settings, a database per backend (SQLite file, real PostgreSQL), a runtime, the app.

PostgreSQL tests need a server (TONGDAI_TEST_PG_URL, default the local one). Without it they are
skipped, except with TONGDAI_REQUIRE_SERVICES=1 (CI), where a missing server is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import api.models  # noqa: F401 - registers the tables
import intake.models  # noqa: F401
import ivr.models  # noqa: F401
import onestop.models  # noqa: F401
import plumbing.heartbeat  # noqa: F401
import scheduler.models  # noqa: F401
import sms.models  # noqa: F401
from intake.clock import FixedClock
from intake.runtime import Runtime
from plumbing.db import Base, make_engine, make_session_factory
from plumbing.settings import Settings, load_settings
from tongdai.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "TONGDAI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("TONGDAI_REQUIRE_SERVICES") == "1"
# A fixed Fernet key, so no test writes one under var/.
API_SECRETS_KEY = "dGVzdC1rZXktb2YtdGhlLWFwaS1zZWNyZXRzLS0tLS0="
# tests/deploy builds and runs the compose stack (minutes, root, Docker): only `make deploy-test`
# runs it, which sets TONGDAI_DEPLOY_TEST=1.
collect_ignore = [] if os.environ.get("TONGDAI_DEPLOY_TEST") == "1" else ["deploy"]
# A Tuesday morning in Quảng Ngãi, far from any holiday.
DEFAULT_NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: `-p no:xdist` has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile` with the longest files first and one worker for the Asterisk files."""
    if config.getvalue("dist") != "loadfile":
        return None
    from tests.scheduling import LongestFilesFirst

    return LongestFilesFirst(config, log)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_service(what: str) -> None:
    """Skip locally; fail in CI, where every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (TONGDAI_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


def _pg_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = load_settings(
        ROOT / "config.toml",
        env={"TONGDAI_SECRET_KEY": "test-secret", "TONGDAI_API_SECRETS_KEY": API_SECRETS_KEY},
    )
    # No rate limit: tests on a fake clock must not sleep (tests/sms/test_dispatch.py checks it).
    scheduler = settings.scheduler.model_copy(update={"rate_per_second": 0})
    return settings.model_copy(update={"scheduler": scheduler})


def _create_pg_database() -> str:
    name = f"tongdai_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def kill_connections(url: sa.URL) -> list[int]:
    """What a database restart does to a pool: every connection to the database dies.

    Returns the backend pids terminated. Under xdist a worker's database may hold more than the
    caller's own connections at that moment (a lock connection of an earlier test's AGI server or
    scheduler not yet garbage-collected, a backend whose client has just exited): a test checks
    that *its* connection is among them (`backend_pid`), never how many there were."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.execute(
            sa.text(
                "WITH ended AS MATERIALIZED (SELECT pid, pg_terminate_backend(pid) AS done"
                " FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid())"
                " SELECT pid FROM ended WHERE done"
            ),
            {"name": url.database},
        ).scalars()
        killed = sorted(killed)
    admin.dispose()
    return killed


def backend_pid(connection: sa.Connection) -> int:
    """The PostgreSQL backend serving `connection`."""
    return connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database for this test session (or xdist worker)."""
    if not _pg_reachable():
        missing_service(f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()}")
    url = _create_pg_database()
    upgrade(url)
    yield url
    _drop_pg_database(url)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)
    return url


def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # The append-only triggers (migration 0010) refuse deletes; tests start empty anyway.
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test using it runs on both backends, against emptied tables."""
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    _empty_tables(url)
    yield url


@pytest.fixture
def pg_only_url(pg_url: str) -> Iterator[str]:
    _empty_tables(pg_url)
    yield pg_url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DEFAULT_NOW)


@pytest.fixture
def runtime(db_url: str, base_settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    settings = base_settings.model_copy(update={"database_url": db_url})
    engine = make_engine(db_url)
    yield Runtime(settings, engine, make_session_factory(engine), clock)
    engine.dispose()


@pytest.fixture
def session(runtime: Runtime):
    with runtime.sessions() as session:
        yield session


@pytest.fixture
def app(runtime: Runtime):
    from tongdai.app import create_app

    app = create_app(runtime)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def client(app):
    return app.test_client()
