"""The `tongdai` command as staff and operators use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.models import Role, StaffUser
from tests.conftest import ROOT, free_port


def tongdai(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tongdai", *args],
        input=stdin,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TONGDAI_DATA_DIR": str(tmp_path), "TONGDAI_CONFIG": str(ROOT / "config.toml")}


def test_calendar_due_prints_the_date_first(env):
    result = tongdai("calendar", "due", "--received", "2026-11-27 16:00", "--days", "6", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "2026-12-08"


def test_calendar_due_refuses_a_malformed_date_in_one_line(env):
    result = tongdai("calendar", "due", "--received", "27/11/2026", "--days", "6", env=env)
    assert result.returncode != 0
    assert "YYYY-MM-DD HH:MM" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_then_user_add_reads_the_password_from_stdin(env, db_url):
    env = {**env, "DATABASE_URL": db_url}
    assert tongdai("db", "upgrade", env=env).returncode == 0
    result = tongdai(
        "user", "add", "lan", "--role", "supervisor", env=env, stdin="mat-khau-du-dai\n"
    )
    assert result.returncode == 0, result.stderr
    from plumbing.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        user = session.scalars(select(StaffUser).where(StaffUser.username == "lan")).one()
    engine.dispose()
    assert user.role is Role.SUPERVISOR
    assert "mat-khau-du-dai" not in user.password_hash

    again = tongdai("user", "add", "lan", env=env, stdin="mat-khau-du-dai\n")
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == ["error: Tên đăng nhập 'lan' đã tồn tại."]


def test_user_add_refuses_a_short_password(env, db_url):
    env = {**env, "DATABASE_URL": db_url}
    result = tongdai("user", "add", "minh", env=env, stdin="ngan\n")
    assert result.returncode == 1
    assert "ít nhất 10 ký tự" in result.stderr


def _start_run(env: dict[str, str], **popen) -> tuple[subprocess.Popen, int]:
    """`tongdai run` on free ports."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tongdai",
        "run",
        "--port",
        str(port),
        "--agi-port",
        str(free_port()),
    ]
    process = subprocess.Popen(
        command,
        env={"PATH": os.environ["PATH"], **env},
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **popen,
    )
    return process, port


def _health(port: int, seconds: float = 60, token: str = "") -> dict | None:
    """/healthz once it answers (None if it never does within `seconds`)."""
    deadline = time.monotonic() + seconds
    asked = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"X-Health-Token": token}
    )
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(asked, timeout=2) as reply:
                return json.load(reply)
        except OSError:
            time.sleep(0.3)
    return None


def _declared_gigabyte(port: int) -> str:
    """The status the server answers to a request announcing a 1 GB body it never sends."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        return sock.makefile("rb").readline().split()[1].decode()


def test_run_starts_on_sqlite_with_a_first_admin_and_stops_on_ctrl_c(env, tmp_path):
    env = {**env, "TONGDAI_HEALTH_TOKEN": "monitoring-token"}
    process, port = _start_run(env)
    try:
        body = _health(port, token="monitoring-token")
        assert body is not None, "the web app did not answer /healthz within a minute"
        assert body["database"] == {"ok": True, "backend": "sqlite"}
        assert (tmp_path / "tongdai.sqlite3").exists()
        assert _declared_gigabyte(port) == "413"  # waitress's own limit, not its 1 GB default
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "First admin account: admin  password: " in output
    assert f"http://127.0.0.1:{port}/admin" in output
    assert "FastAGI  agi://127.0.0.1:" in output


def test_run_stops_cleanly_on_sigterm_even_when_started_with_sigint_ignored(env):
    # As a non-interactive shell starts a background job (and docker a service).
    process, port = _start_run(env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert _health(port) is not None
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
