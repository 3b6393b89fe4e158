"""Several FastAGI servers in TONGDAI_AGI_HOST ("&"): calls take them in turn, and one that
cannot be reached is skipped. Here the first listed, 127.0.0.2, has nobody listening."""

from __future__ import annotations

from sqlalchemy import func, select

from intake.runtime import Runtime
from ivr.asterisk.agi_server import AgiThread
from ivr.models import IvrCall
from plumbing.db import make_engine, make_session_factory
from tests.asterisk.exchange import asterisk_and_baresip
from tests.asterisk.harness import Ami, AsteriskProcess, Baresip, caller_audio
from tests.asterisk.harness import free_port as free_agi_port
from tests.asterisk.test_end_to_end import IvrListener
from tests.conftest import _empty_tables


def test_a_server_that_cannot_be_reached_is_skipped(tmp_path, pg_url, base_settings):
    root = asterisk_and_baresip()
    _empty_tables(pg_url)
    port = free_agi_port()
    asterisk = AsteriskProcess(root, tmp_path / "asterisk", agi_host="127.0.0.2&127.0.0.1",
                               agi_port=port)  # fmt: skip
    engine = make_engine(pg_url)
    settings = base_settings.model_copy(update={"database_url": pg_url, "data_dir": tmp_path})
    runtime = Runtime(settings, engine, make_session_factory(engine))
    agi = AgiThread(runtime, "127.0.0.1", port)
    with asterisk:
        agi.start()
        try:
            for number in range(2):  # one call starts at each server of the list
                audio = caller_audio(tmp_path / f"caller{number}.wav", total_seconds=20)
                phone = Baresip(tmp_path / f"phone{number}", password=asterisk.sip_password,
                                caller_id="0912345678", audio=audio)  # fmt: skip
                with Ami(asterisk.ami_secret) as ami, phone:
                    phone.dial()
                    IvrListener(ami).prompt("main_menu")
                    phone.hangup()
                    ami.wait_event("Hangup", timeout=15)
        finally:
            agi.stop()
            engine.dispose()
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IvrCall)) == 2
    assert "127.0.0.2" in asterisk.log_text()  # the refused server was tried, and skipped
