"""Fixtures for the FastAGI tests: a runtime with a local recording folder, a server on a free
port."""

from __future__ import annotations

import pytest

from ivr.asterisk.agi_server import AgiThread
from tests.conftest import free_port


@pytest.fixture
def agi_runtime(runtime, tmp_path):
    asterisk = runtime.settings.asterisk.model_copy(
        update={"recording_dir": "/var/spool/asterisk/recording/tongdai",
                "recording_dir_local": str(tmp_path / "spool"), "command_timeout_seconds": 3,
                "header_timeout_seconds": 2}
    )  # fmt: skip
    runtime.settings = runtime.settings.model_copy(
        update={"asterisk": asterisk, "data_dir": tmp_path / "data"}
    )
    return runtime


@pytest.fixture
def agi_port(agi_runtime):
    port = free_port()
    server = AgiThread(agi_runtime, "127.0.0.1", port)
    server.start()
    yield port
    server.stop()
