"""`tongdai web`'s waitress hands X-Forwarded-For to the app, which alone decides whether to
believe it (TONGDAI_TRUSTED_PROXIES): behind nginx the client's address must get through."""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.request

from sqlalchemy import select

from plumbing.heartbeat import beat
from scheduler.alerts import LEADER_HEARTBEAT
from scheduler.models import StaffAlert
from tests.conftest import free_port
from tongdai.serve import _web_server, web_server


def test_waitress_passes_x_forwarded_for_to_the_app(base_settings):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("HTTP_X_FORWARDED_FOR", "-").encode()]

    port = free_port()
    server = web_server(app, base_settings.web, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.read() == b"203.0.113.9"
    finally:
        server.close()
        thread.join(timeout=5)


def test_the_web_process_watches_the_scheduler_and_alerts_a_silent_one(runtime, monkeypatch):
    """`tongdai web` (and `tongdai run`) start a watchdog beside the server: a leader heartbeat
    older than the limit is on the dashboard's alerts after the watchdog's first look (looks
    every 0.2 s here instead of every minute)."""
    monkeypatch.setattr("scheduler.watchdog.WATCH_SECONDS", 0.2)
    now = dt.datetime.now(dt.UTC)
    with runtime.sessions() as session, session.begin():
        beat(session, LEADER_HEARTBEAT, "may-chu-a:42", {}, now - dt.timedelta(minutes=10))
    server, watchdog = _web_server(runtime.settings, "127.0.0.1", free_port())
    watchdog.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _alert_kinds(runtime):
            time.sleep(0.1)
    finally:
        watchdog.stop()
        server.close()
    assert _alert_kinds(runtime) == ["scheduler_no_leader"]


def _alert_kinds(runtime) -> list[str]:
    with runtime.sessions() as session:
        return list(session.scalars(select(StaffAlert.kind)))
