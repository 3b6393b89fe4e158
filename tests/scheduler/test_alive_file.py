"""The scheduler's alive file: the compose health check of the scheduler replicas reads its age,
so it must be touched only after a leader check that reached the database."""

from __future__ import annotations

from pathlib import Path

from intake.runtime import Runtime
from plumbing.db import make_engine, make_session_factory
from scheduler.leader import Leadership
from scheduler.process import leader_tick


def test_a_leader_check_that_reached_the_database_touches_the_alive_file(
    runtime: Runtime, tmp_path: Path
) -> None:
    alive = tmp_path / "scheduler.alive"
    leadership = Leadership(runtime.engine)
    try:
        leader_tick(runtime, leadership, alive)
    finally:
        # On PostgreSQL the check took the leader lock: held on, it would outlive the test on
        # this worker's database, and no later test's scheduler could ever lead there.
        leadership.release()
    assert alive.exists()


def test_a_leader_check_without_a_database_leaves_the_alive_file_alone(
    runtime: Runtime, tmp_path: Path
) -> None:
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
    engine = make_engine(unreachable)
    broken = Runtime(runtime.settings, engine, make_session_factory(engine))
    alive = tmp_path / "scheduler.alive"
    leader_tick(broken, Leadership(engine), alive)
    assert not alive.exists()
    engine.dispose()
