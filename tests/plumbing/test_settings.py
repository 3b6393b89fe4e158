"""config.toml is validated at start-up; every mistake is one line naming the file and the key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from plumbing.settings import SettingsError, load_settings
from tests.conftest import ROOT

GOOD = (ROOT / "config.toml").read_text(encoding="utf-8")


def _broken(tmp_path, old: str, new: str):
    assert old in GOOD, f"fixture text {old!r} no longer in config.toml"
    path = tmp_path / "config.toml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_shipped_config_loads(base_settings):
    assert base_settings.centre.home_province == "QNg"
    assert base_settings.procedures["fishing_licence"].variants["new"].days == 6
    assert base_settings.procedures["fishing_licence"].variants["reissue"].days == 3
    assert base_settings.calendar.cutoff_time.hour == 15


def test_settings_are_frozen(base_settings):
    with pytest.raises(Exception, match="frozen"):
        base_settings.centre.hotline = "0"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('cutoff = "15:00"', 'cutof = "15:00"', "calendar.cutof: unknown key"),
        ('cutoff = "15:00"', 'cutoff = "25:00"', "calendar.cutoff: Value error, must be a local"),
        ("days = 6\n", 'days = "six"\n', "procedures.fishing_licence.variants.new.days"),
        ('sender = "TTHCC QNGAI"', 'sender = "TTHCC QUANG NGAI"', "sms.sender"),
        ('home_province = "QNg"', 'home_province = "XX"', "is not in [provinces]"),
        ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi_City"', "centre.timezone"),
        ("[sms]\n", "[sms]\nretries = 3\n", "sms.retries: unknown key"),
        ('hotline = "02553822222"', "", "centre.hotline: required key is missing"),
        (
            'callback_dial = "PJSIP/{number}@trunk"',
            'callback_dial = "PJSIP/0912345678@trunk"',
            "asterisk.callback_dial: Value error, must name {number}",
        ),
        (
            'callback_dial = "PJSIP/{number}@trunk"',
            'callback_dial = "PJSIP/{phone}@trunk"',
            "asterisk.callback_dial: Value error, may contain only the placeholder {number}",
        ),
    ],
)
def test_a_broken_config_names_the_key(tmp_path, old, new, message):
    path = _broken(tmp_path, old, new)
    with pytest.raises(SettingsError) as error:
        load_settings(path, env={})
    text = str(error.value)
    assert message in text
    assert text.startswith(str(path))
    assert "\n" not in text


def test_a_secret_in_the_file_is_refused(tmp_path):
    path = _broken(tmp_path, "[centre]\n", 'database_url = "postgresql://x"\n[centre]\n')
    with pytest.raises(SettingsError, match="database_url: set it in the environment"):
        load_settings(path, env={})


def test_environment_overrides(tmp_path):
    settings = load_settings(
        ROOT / "config.toml",
        env={
            "DATABASE_URL": "postgresql+psycopg://db/tongdai",
            "TONGDAI_SECRET_KEY": "k",
            "TONGDAI_SMS_GATEWAY": "twilio",
            "TONGDAI_DATA_DIR": str(tmp_path),
        },
    )
    assert settings.database_url == "postgresql+psycopg://db/tongdai"
    assert settings.sms_gateway == "twilio"
    assert settings.data_dir == tmp_path


def test_dev_secret_key_is_generated_once_and_kept(tmp_path):
    env = {"TONGDAI_DATA_DIR": str(tmp_path)}
    first = load_settings(ROOT / "config.toml", env=env).secret_key
    assert len(first) == 64
    assert load_settings(ROOT / "config.toml", env=env).secret_key == first


def test_the_command_line_reports_a_broken_config_in_one_line(tmp_path):
    path = _broken(tmp_path, 'cutoff = "15:00"', "cutoff = 15")
    result = subprocess.run(
        [sys.executable, "-m", "tongdai", "calendar", "due", "--received", "2026-12-01 09:00",
         "--days", "6"],
        env={"TONGDAI_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: calendar.cutoff: Input should be a valid string"
    ]
    assert "Traceback" not in result.stderr


def test_the_code_prefix_is_set_once_as_the_portal_unit_code(tmp_path):
    """`centre.agency_id` moved to `[onestop] madonvi`: an old file says so in one line."""
    path = _broken(tmp_path, "[centre]\n", '[centre]\nagency_id = "000.00.53.H48.TD"\n')
    with pytest.raises(SettingsError, match=r"centre.agency_id is now \[onestop\] madonvi"):
        load_settings(path, env={})
