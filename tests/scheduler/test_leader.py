"""Two `tongdai scheduler` processes on one PostgreSQL database: one leads (runs the rules), the
other stands by and takes over when the leader is SIGKILLed; no rule fires twice, none is missed.

Both processes run the outbox dispatcher with the console gateway, which appends every SMS it
sends to one shared var/sms.log: each notice must be there exactly once.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from intake.clock import SystemClock
from intake.lifecycle import Actor, change_status
from intake.models import Role
from intake.runtime import Runtime
from intake.statuses import DossierStatus
from plumbing.db import make_engine, make_session_factory
from plumbing.heartbeat import Heartbeat
from scheduler.leader import LEADER_LOCK
from sms.models import Notice, NoticeStatus
from tests.factories import create_dossier
from tests.scheduler.processes import STARTUP_SECONDS, Schedulers, wait_for

HOST = socket.gethostname()
STAFF = Actor.staff("lan", Role.OPERATOR)
TAKEOVER_SECONDS = 15.0  # a standby tries every 2 s


def test_one_scheduler_leads_and_the_standby_takes_over_when_it_is_killed(
    pg_only_url: str, base_settings, schedulers: Schedulers, tmp_path: Path
) -> None:
    engine = make_engine(pg_only_url)
    settings = base_settings.model_copy(update={"database_url": pg_only_url})
    runtime = Runtime(settings, engine, make_session_factory(engine), SystemClock())
    sessions = runtime.sessions

    def leader() -> tuple[str, dt.datetime] | None:
        with sessions() as session:
            row = session.get(Heartbeat, "scheduler-leader")
            return (row.holder, row.beat_at) if row else None

    def advisory_holders() -> int:
        with engine.connect() as connection:
            return connection.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND objid = :lock AND granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"lock": LEADER_LOCK},
            )

    def add_dossiers(first_phone: int, count: int, *, refuse: int) -> list[int]:
        """`count` new dossiers (a receipt each); the first `refuse` are then refused."""
        with sessions() as session, session.begin():
            dossiers = [
                create_dossier(session, runtime, phone=f"091{first_phone + n:07d}")
                for n in range(count)
            ]
            for dossier in dossiers[:refuse]:
                change_status(session, dossier, DossierStatus.REFUSED, actor=STAFF,
                              now=runtime.clock.now(), calendar=runtime.calendar(),
                              reason="Khong thuoc tham quyen")  # fmt: skip
            return [d.id for d in dossiers]

    def keys() -> list[str]:
        with sessions() as session:
            return list(session.scalars(select(Notice.dedupe_key)))

    first, second = schedulers.start(), schedulers.start()
    holder, _ = wait_for("a leader's heartbeat", leader, STARTUP_SECONDS)
    assert holder in {f"{HOST}:{first}", f"{HOST}:{second}"}
    leading = int(holder.rsplit(":", 1)[1])
    standby = second if leading == first else first

    batch_one = add_dossiers(100, 4, refuse=1)
    expected_one = {f"{i}:receipt" for i in batch_one} | {f"{batch_one[0]}:refused"}
    wait_for("the leader's notices", lambda: expected_one <= set(keys()), 15.0)
    _, beat = leader()
    wait_for("a second heartbeat", lambda: leader()[1] > beat, 5.0)
    assert leader()[0] == f"{HOST}:{leading}"
    assert advisory_holders() == 1
    assert "is now the leader" in schedulers.log(leading)
    assert "is now the leader" not in schedulers.log(standby)

    schedulers.processes[leading].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    batch_two = add_dossiers(200, 4, refuse=1)  # while nobody leads
    wait_for(
        "the standby's heartbeat",
        lambda: leader()[0] == f"{HOST}:{standby}",
        TAKEOVER_SECONDS,
    )
    takeover = time.monotonic() - killed
    print(f"standby {standby} took over {takeover:.1f} s after leader {leading} was killed")
    expected = expected_one | {f"{i}:receipt" for i in batch_two} | {f"{batch_two[0]}:refused"}
    wait_for("the new leader's notices", lambda: expected <= set(keys()), 15.0)

    def all_sent() -> bool:
        with sessions() as session:
            return not session.scalar(
                select(func.count())
                .select_from(Notice)
                .where(Notice.status.not_in([NoticeStatus.SENT, NoticeStatus.DELIVERED]))
            )

    try:
        wait_for("every notice sent", all_sent, 20.0)
    except BaseException:
        with sessions() as session:
            unsent = session.execute(
                select(Notice.kind, Notice.status, Notice.error).where(
                    Notice.status.not_in([NoticeStatus.SENT, NoticeStatus.DELIVERED])
                )
            ).all()
        print(f"not sent: {unsent}")
        raise
    assert advisory_holders() == 1
    assert "is now the leader" in schedulers.log(standby)

    with sessions() as session:
        notices = list(session.scalars(select(Notice)))
    engine.dispose()
    per_dossier = Counter((n.dossier_id, n.kind) for n in notices)
    assert sorted(n.dedupe_key for n in notices) == sorted(expected)
    assert all(count == 1 for count in per_dossier.values()), per_dossier
    for ids in (batch_one, batch_two):
        assert all(per_dossier[(i, "receipt")] == 1 for i in ids)
        assert per_dossier[(ids[0], "refused")] == 1
    sms_log = (tmp_path / "sms.log").read_text(encoding="utf-8")
    sent = Counter(int(n) for n in re.findall(r"\tnotice=(\d+)\t", sms_log))
    assert sent == {n.id: 1 for n in notices}, "each notice must be sent exactly once"
