"""The call-order queue on PostgreSQL: shared by several processes, safe against a killed one."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

from intake.clock import FixedClock
from intake.runtime import Runtime
from ivr.call_orders import CALL_ORDERS, STUCK_REASON, carry_out_due, settle_stuck
from ivr.models import CallOrder, CallOrderStatus
from plumbing.db import make_engine, make_session_factory
from tests.conftest import ROOT
from tests.factories import create_call_order


@pytest.fixture
def pg_runtime(pg_only_url, base_settings, clock):
    """SKIP LOCKED is what these tests are about: PostgreSQL only."""
    settings = base_settings.model_copy(update={"database_url": pg_only_url})
    engine = make_engine(pg_only_url)
    yield Runtime(settings, engine, make_session_factory(engine), clock)
    engine.dispose()


def _orders(runtime, count: int) -> list[int]:
    with runtime.sessions() as session, session.begin():
        return [create_call_order(session, runtime).id for _ in range(count)]


def test_two_claimers_never_get_the_same_order(pg_runtime):
    ids = _orders(pg_runtime, 12)
    now = pg_runtime.clock.now()
    with pg_runtime.sessions() as first, pg_runtime.sessions() as second:
        first.begin()
        mine = {order.id for order in CALL_ORDERS.claim(first, now, 8)}
        second.begin()  # the first claim is not committed yet: its rows stay locked
        # Were locked rows waited for instead of skipped, this claim would fail, not hang.
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        theirs = {order.id for order in CALL_ORDERS.claim(second, now, 12)}
        first.commit()
        second.commit()
    assert len(mine) == 8 and len(theirs) == 4
    assert mine.isdisjoint(theirs) and mine | theirs == set(ids)


def test_an_order_claimed_by_a_killed_process_becomes_unknown_and_is_not_dialled_again(
    pg_runtime, tmp_path
):
    [order_id] = _orders(pg_runtime, 1)
    started = tmp_path / "dialing"
    # A process that claims the order and hangs in the Originate until it is killed.
    script = f"""
import pathlib, time
from intake.clock import SystemClock
from ivr.call_orders import carry_out_due
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import load_settings
settings = load_settings({str(ROOT / "config.toml")!r}, env={{"TONGDAI_SECRET_KEY": "t"}})
sessions = make_session_factory(make_engine({pg_runtime.settings.database_url!r}))
def originate(request):
    pathlib.Path({str(started)!r}).write_text(str(request.order_id))
    time.sleep(600)
carry_out_due(sessions, settings, SystemClock().now, originate)
"""
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        for _ in range(3000):
            if started.exists() or process.poll() is not None:
                break
            time.sleep(0.01)
        assert started.read_text() == str(order_id)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    called = []
    window = dt.timedelta(seconds=pg_runtime.settings.asterisk.callback_stuck_seconds)
    later = FixedClock(dt.datetime.now(dt.UTC) + window + dt.timedelta(seconds=1))
    report = carry_out_due(pg_runtime.sessions, pg_runtime.settings, later.now, called.append)
    with pg_runtime.sessions() as session:
        order = session.get(CallOrder, order_id)
    assert order.status is CallOrderStatus.UNKNOWN and order.result == STUCK_REASON
    assert report.stuck == 1 and called == []  # the citizen's phone is not rung a second time


def test_an_outcome_is_not_recorded_over_an_order_another_process_settled(pg_runtime):
    """The guarded update: the Originate returned, but meanwhile the order was taken for stuck."""
    [order_id] = _orders(pg_runtime, 1)
    window = dt.timedelta(seconds=pg_runtime.settings.asterisk.callback_stuck_seconds)

    def slow_originate(request):
        later = pg_runtime.clock.now() + window + dt.timedelta(seconds=1)
        settle_stuck(pg_runtime.sessions, pg_runtime.settings, later)  # another process

    carry_out_due(pg_runtime.sessions, pg_runtime.settings, pg_runtime.clock.now, slow_originate)
    with pg_runtime.sessions() as session:
        order = session.get(CallOrder, order_id)
    assert order.status is CallOrderStatus.UNKNOWN  # not "done" over the other's settlement
