"""Dead database connections: pinged when idle, and call steps run again when they met one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from plumbing import db
from plumbing.db import make_engine, retry_if_disconnected
from tests.conftest import backend_pid, kill_connections


@pytest.fixture
def engine(pg_only_url):
    engine = make_engine(pg_only_url)
    with engine.connect() as connection:  # one connection, back in the pool
        engine.pooled_pid = backend_pid(connection)
    yield engine
    engine.dispose()


def select_one(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT 1")).scalar_one()


def test_a_connection_idle_in_the_pool_is_pinged_and_replaced_when_dead(engine, monkeypatch):
    monkeypatch.setattr(db, "PING_IF_IDLE_SECONDS", 0.0)
    # The pooled connection, whatever else of this worker's database died with it.
    assert engine.pooled_pid in kill_connections(engine.url)
    assert select_one(engine) == 1


def test_a_connection_used_just_now_is_not_pinged_so_the_statement_meets_the_dead_one(
    engine, monkeypatch
):
    monkeypatch.setattr(db, "PING_IF_IDLE_SECONDS", 3600.0)  # "just now", however slow CI is
    assert engine.pooled_pid in kill_connections(engine.url)
    with pytest.raises(exc.DBAPIError) as raised:
        select_one(engine)
    assert raised.value.connection_invalidated
    assert select_one(engine) == 1  # the pool was refreshed by that failure


def test_work_that_met_a_dead_connection_runs_again_on_a_new_one(engine, monkeypatch):
    monkeypatch.setattr(db, "PING_IF_IDLE_SECONDS", 3600.0)
    runs = []

    @retry_if_disconnected
    def work() -> int:
        runs.append(1)
        return select_one(engine)

    kill_connections(engine.url)
    assert work() == 1
    assert len(runs) == 2


def test_work_that_had_sent_commit_is_not_run_again(engine):
    """After COMMIT was sent the outcome is unknown: running again could do it twice."""
    runs = []

    @retry_if_disconnected
    def work() -> None:
        runs.append(1)
        with engine.begin() as connection:
            connection.execute(sa.text("SELECT 1"))
        raise exc.DBAPIError("COMMIT", None, OSError("lost"), connection_invalidated=True)

    with pytest.raises(exc.DBAPIError):
        work()
    assert len(runs) == 1


def test_other_database_errors_are_not_retried(engine):
    runs = []

    @retry_if_disconnected
    def work() -> None:
        runs.append(1)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(exc.ProgrammingError):
        work()
    assert len(runs) == 1
