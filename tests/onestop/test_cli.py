"""`tongdai onestop check|sync` against the portal double, as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from onestop import sync
from tests.conftest import ROOT
from tests.factories import create_dossier


def tongdai(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tongdai", *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture
def env(tmp_path, double, db_url):
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    # The table itself, not a comment that names it.
    head, _, tail = text.partition("\n[onestop]\n")
    config = tmp_path / "config.toml"
    config.write_text(head + "\n[onestop]\n" + tail.replace("enabled = false", "enabled = true", 1))
    return {
        "TONGDAI_DATA_DIR": str(tmp_path),
        "TONGDAI_CONFIG": str(config),
        "DATABASE_URL": db_url,
        "TONGDAI_SECRET_KEY": "cli-test",
        "TONGDAI_ONESTOP_URL": double.url,
        "TONGDAI_ONESTOP_USER": "tongdai",
        "TONGDAI_ONESTOP_PASSWORD": "mat-khau",
        "TONGDAI_ONESTOP_DSTCODE": "DVCQG-TEST",
    }


def test_check_prints_what_the_portal_says_of_each_procedure(env):
    result = tongdai("onestop", "check", env=env)
    assert result.returncode == 0, result.stderr
    assert "1.004359: Cấp, cấp lại giấy phép khai thác thủy sản | lĩnh vực G09-TS" in result.stdout
    assert "1.004692: Cấp giấy chứng nhận an toàn kỹ thuật tàu cá" in result.stdout


def test_check_with_a_wrong_password_fails_in_one_line(env):
    result = tongdai("onestop", "check", env={**env, "TONGDAI_ONESTOP_PASSWORD": "sai"})
    assert result.returncode != 0
    assert "Sai tên đăng nhập hoặc mật khẩu" in result.stderr
    assert "Traceback" not in result.stderr


def test_sync_pushes_one_dossier_now(env, runtime, double):
    onestop = runtime.settings.onestop.model_copy(update={"enabled": True})
    settings = runtime.settings.model_copy(update={"onestop": onestop})
    sync.install(settings)
    try:
        with runtime.sessions() as session, session.begin():
            code = create_dossier(session, runtime).code
    finally:
        sync.install(runtime.settings)
    result = tongdai("onestop", "sync", "--dossier", code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2 sent")
    state = double.state()
    assert state["creates"] == {code: 1} and len(state["progress"][code]) == 1


def test_sync_while_the_sync_is_off_says_so(env):
    off = {**env, "TONGDAI_CONFIG": str(ROOT / "config.toml")}
    result = tongdai("onestop", "sync", env=off)
    assert result.returncode != 0
    assert result.stderr.strip() == "error: onestop: the sync is off ([onestop] enabled = false)"


def test_enabled_without_the_portal_address_stops_at_start_up(env):
    result = tongdai("onestop", "sync", env={k: v for k, v in env.items()
                                              if k != "TONGDAI_ONESTOP_URL"})  # fmt: skip
    assert result.returncode == 2
    assert "onestop.enabled needs TONGDAI_ONESTOP_URL" in result.stderr
