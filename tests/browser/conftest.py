"""Fixtures of the browser tests: the real web server (`tongdai web`, waitress) on a PostgreSQL
database of its own, seeded as a phone call would leave it, and Debian's Chromium driven by
Playwright. Playwright never downloads a browser here: the tests use /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from admin.accounts import add_user
from intake.models import Applicant, Role, Vessel
from intake.runtime import Runtime
from plumbing.settings import load_settings
from scheduler.rules import ScanReport, run_rules
from tests.admin.staff import PASSWORD
from tests.conftest import (
    PG_ADMIN_URL,
    ROOT,
    _create_pg_database,
    _drop_pg_database,
    _pg_reachable,
    free_port,
    missing_service,
)
from tests.factories import create_dossier, create_recording
from tongdai.bootstrap import prepare_database

CHROMIUM = os.environ.get("TONGDAI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Staff press play themselves; the test starts playback from script, without a gesture.
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
OPERATOR, SUPERVISOR = "lan", "hung"
VESSEL, CITIZEN_ID, PHONE = "90617", "012345678901", "+84912345678"
SERVER_START_SECONDS = 60


@dataclass(frozen=True)
class Site:
    """The running web app and what was seeded into its database."""

    url: str
    runtime: Runtime
    dossier_id: int
    code: str
    other_code: str
    recording_id: int

    def run_notice_rules(self) -> ScanReport:
        """One tick of the scheduler's notice rules (the scheduler is not running here)."""
        rt = self.runtime
        return run_rules(rt.sessions, rt.settings, rt.calendar(), rt.clock.now())


def _tone(path: Path, seconds: float) -> None:
    from pydub.generators import Sine

    path.parent.mkdir(parents=True, exist_ok=True)
    Sine(440).to_audio_segment(duration=seconds * 1000, volume=-12).export(path, format="wav")


def _seed(runtime: Runtime) -> dict[str, object]:
    """Two staff accounts and two phone-in dossiers; the first has its caller's recorded name."""
    _tone(runtime.settings.data_dir / "recordings" / "owner-name.wav", 2)
    with runtime.sessions() as session, session.begin():
        add_user(session, OPERATOR, PASSWORD, Role.OPERATOR)
        add_user(session, SUPERVISOR, PASSWORD, Role.SUPERVISOR)
        codes = []
        for vessel, phone, citizen in (
            (VESSEL, PHONE, CITIZEN_ID),
            ("12345", "+84987654321", "000000000000"),
        ):
            dossier = create_dossier(session, runtime, phone=phone)
            vessel_row = Vessel(province_code="QNg", digits=vessel)
            applicant = Applicant(phone=phone, citizen_id=citizen)
            session.add_all([vessel_row, applicant])
            session.flush()
            dossier.vessel_id, dossier.applicant_id = vessel_row.id, applicant.id
            dossier.form = {
                **dossier.form,
                "citizen_id": citizen,
                "vessel_number": f"QNg-{vessel}-TS",
            }
            codes.append((dossier.id, dossier.code))
        dossier_id = codes[0][0]
        recording = create_recording(
            session,
            dossier_id=dossier_id,
            path="recordings/owner-name.wav",
            provider="asterisk",
            seconds=2,
            caller=PHONE,
            caller_raw="0912345678",
            duration_seconds=151,
            end_reason="hangup",
            outcome="submitted",
        )
        return {
            "dossier_id": dossier_id,
            "code": codes[0][1],
            "other_code": codes[1][1],
            "recording_id": recording.id,
        }


@contextmanager
def _web_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`python -m tongdai web` on a free local port; yields its base URL once /healthz answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tongdai", "web", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"tongdai web exited with {process.returncode}:\n{output}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"tongdai web did not answer within {SERVER_START_SECONDS} s")
                time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not _pg_reachable():
        missing_service(f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()}")
    data_dir = tmp_path_factory.mktemp("site")
    db_url = _create_pg_database()
    # Nothing from the developer's own environment (a public https URL, Twilio, AMI) leaks in.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TONGDAI_", "TWILIO_", "DATABASE_URL"))
    }
    env |= {
        "DATABASE_URL": db_url,
        "TONGDAI_DATA_DIR": str(data_dir),
        "TONGDAI_SECRET_KEY": "browser-test-secret",
        "TONGDAI_SMS_GATEWAY": "console",
    }
    try:
        settings = load_settings(ROOT / "config.toml", env=env)
        prepare_database(settings)
        runtime = Runtime.from_settings(settings)
        try:
            seeded = _seed(runtime)
            with _web_server(env, data_dir / "web.log") as url:
                yield Site(url=url, runtime=runtime, **seeded)
        finally:
            runtime.engine.dispose()
    finally:
        _drop_pg_database(db_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).is_file():
        missing_service(f"Chromium ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright Python package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page in a fresh browser context (its own cookies), and what its console reported."""

    page: object
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def new_tab(browser, site: Site) -> Iterator[Callable[[], Tab]]:
    contexts = []

    def open_tab() -> Tab:
        context = browser.new_context(
            base_url=site.url,
            accept_downloads=True,
            locale="vi-VN",
            viewport={"width": 1280, "height": 900},
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        tab = Tab(page)
        page.on(
            "console",
            lambda message: (
                tab.console_errors.append(f"{page.url}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: tab.console_errors.append(f"{page.url}: {error}"))
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def log_in(page, username: str) -> None:
    """Through the log-in form, as staff do."""
    from playwright.sync_api import expect

    page.goto("/admin/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("header.top .who")).to_contain_text(username)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
