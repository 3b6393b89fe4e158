"""The only scheduler stops: nobody stands by to notice, so the web process's watchdog does. The
alert reaches the dashboard and, by email, a real SMTP server (aiosmtpd on a local port)."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

from sqlalchemy import select

from intake.clock import FixedClock
from intake.models import Role
from intake.runtime import Runtime
from plumbing.db import make_engine, make_session_factory
from plumbing.heartbeat import Heartbeat
from plumbing.mailer import SmtpMailer
from scheduler.alerts import LEADER_HEARTBEAT, LEADER_SILENT_SECONDS
from scheduler.models import StaffAlert
from scheduler.watchdog import LeaderWatchdog
from tests.admin.staff import log_in, make_user
from tests.scheduler.processes import STARTUP_SECONDS, Schedulers, wait_for

SUPERVISOR = "giamsat@tthcc.example"


def test_a_single_scheduler_killed_is_alerted_on_the_dashboard_and_by_email(
    pg_only_url: str, base_settings, schedulers: Schedulers, inbox, tmp_path: Path
) -> None:
    handler, smtp_url = inbox
    settings = base_settings.model_copy(update={
        "database_url": pg_only_url,
        "scheduler": base_settings.scheduler.model_copy(
            update={"supervisor_emails": (SUPERVISOR,), "supervisor_phones": ()}),
    })  # fmt: skip
    engine = make_engine(pg_only_url)
    clock = FixedClock(dt.datetime.now(dt.UTC))
    runtime = Runtime(settings, engine, make_session_factory(engine), clock)

    def beat_at() -> dt.datetime | None:
        with runtime.sessions() as session:
            row = session.get(Heartbeat, LEADER_HEARTBEAT)
            return row.beat_at if row else None

    def alerts() -> list[StaffAlert]:
        with runtime.sessions() as session:
            return list(session.scalars(select(StaffAlert)))

    pid = schedulers.start()  # the only replica: it leads at once
    wait_for("the scheduler's heartbeat", beat_at, STARTUP_SECONDS)
    watchdog = LeaderWatchdog(runtime, SmtpMailer.from_url(smtp_url, "tongdai@tthcc.example"),
                              interval=0.2)  # fmt: skip
    clock.set(beat_at())
    assert watchdog.check() == []  # a scheduler that beats is left alone

    schedulers.processes[pid].send_signal(signal.SIGKILL)
    schedulers.processes[pid].wait()
    last = beat_at()
    # Time moves on (frozen clock, no sleeping): the heartbeat is now older than the limit.
    clock.set(last + dt.timedelta(seconds=LEADER_SILENT_SECONDS + 60))
    watchdog.start()
    try:
        wait_for("the alert on the dashboard", alerts, 10.0)
        wait_for("the email", lambda: handler.messages, 10.0)
    finally:
        watchdog.stop()
    assert watchdog.check() == []  # still silent, but already alerted today

    [alert] = alerts()
    assert alert.kind == "scheduler_no_leader"
    assert f":{pid}" in alert.message and "Bộ lập lịch không có tiến trình chính" in alert.message
    [mail] = handler.messages
    assert mail["To"] == SUPERVISOR
    assert "Bộ lập lịch" in mail["Subject"] and alert.message in mail.get_content()

    from tongdai.app import create_app

    app = create_app(runtime)
    app.config.update(TESTING=True)
    client = app.test_client()
    make_user(runtime, "hung", Role.SUPERVISOR)
    log_in(client, "hung")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Bộ lập lịch dừng" in page and "Bộ lập lịch không có tiến trình chính" in page
    engine.dispose()
