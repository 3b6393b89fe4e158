"""Two AGI replicas, each with its own AMI connection, see the same events: the call log must
hold each call once, with each key counted once (PostgreSQL, as in the compose stack)."""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import select

from intake.runtime import Runtime
from ivr.asterisk.call_events import CALL_LOG_LOCK, CallEventLogger
from ivr.models import CallLog
from plumbing.db import make_engine, make_session_factory
from plumbing.leader import Leadership

EVENTS = [
    {"Event": "Newchannel", "Uniqueid": "7.1", "Linkedid": "7.1", "Channel": "PJSIP/caller-1",
     "CallerIDNum": "0912345678", "Exten": "1900", "Context": "tongdai-inbound"},
    {"Event": "DTMFEnd", "Uniqueid": "7.1", "Digit": "1", "Direction": "Received"},
    {"Event": "DTMFEnd", "Uniqueid": "7.1", "Digit": "2", "Direction": "Received"},
    {"Event": "Hangup", "Uniqueid": "7.1", "Cause": "16", "Cause-txt": "Normal Clearing"},
]  # fmt: skip


def test_two_replicas_log_each_call_once_and_the_survivor_takes_over(pg_only_url, base_settings):
    runtimes = []
    for _ in range(2):  # two processes: two engines, two lock connections
        engine = make_engine(pg_only_url)
        settings = base_settings.model_copy(update={"database_url": pg_only_url})
        runtimes.append(Runtime(settings, engine, make_session_factory(engine)))
    # The lock CallEventLogger takes by default (CALL_LOG_LOCK), under an id of this test's own:
    # another test's AGI server in this database may still hold the real one.
    lock = CALL_LOG_LOCK + 1000 + os.getpid() % 1000
    first, second = (
        CallEventLogger(runtime, Leadership(runtime.engine, lock, "test")) for runtime in runtimes
    )
    now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    try:
        for event in EVENTS:
            first.write(event, now)
            second.write(event, now)
        with runtimes[0].sessions() as session:
            [row] = session.scalars(select(CallLog)).all()
            assert (row.dtmf_count, row.cause) == (2, 16)

        # The writing replica dies: the other one logs the next call.
        first.leadership.release()
        runtimes[0].engine.dispose()
        for event in EVENTS:
            second.write({**event, "Uniqueid": "7.2"}, now)
        with runtimes[1].sessions() as session:
            rows = session.scalars(select(CallLog).order_by(CallLog.uniqueid)).all()
            assert [(r.uniqueid, r.dtmf_count) for r in rows] == [("7.1", 2), ("7.2", 2)]
    finally:
        for logger, runtime in ((first, runtimes[0]), (second, runtimes[1])):
            logger.leadership.release()
            runtime.engine.dispose()
