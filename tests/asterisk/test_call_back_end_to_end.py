"""A staff call-back through a real Asterisk: the queued order is placed by the AGI process's AMI
connection, the citizen's phone (baresip on the test endpoint `caller`) rings with the centre's
hotline as caller id, and once the citizen answers the shipped `tongdai-callback` context puts
them through to the operator's desk phone (the test endpoint `operator`)."""

from __future__ import annotations

import json
import shutil

from intake.clock import SystemClock
from intake.runtime import Runtime
from ivr.asterisk.agi_server import AgiThread
from ivr.models import CallOrder, CallOrderStatus
from plumbing.db import make_engine, make_session_factory
from tests.asterisk.harness import AsteriskProcess, Baresip, asterisk_root, free_port, silence_audio
from tests.conftest import _empty_tables, missing_service
from tests.factories import create_call_order, create_dossier


def test_a_call_back_rings_the_citizen_then_puts_them_through_to_the_operator(
    tmp_path, pg_url, base_settings
):
    root = asterisk_root()
    if root is None:
        missing_service("Asterisk chroot (scripts/asterisk-chroot.sh build)")
    if shutil.which("baresip") is None:
        missing_service("baresip")
    _empty_tables(pg_url)
    agi_port = free_port()
    asterisk = AsteriskProcess(root, tmp_path / "asterisk", agi_port=agi_port)
    asterisk.start()
    engine = make_engine(pg_url)
    try:
        # The national number reaches the registered test phone: PJSIP/<user>@<endpoint>.
        settings = base_settings.model_copy(update={
            "database_url": pg_url, "data_dir": tmp_path / "data", "ami_url": asterisk.ami_url,
            "asterisk": base_settings.asterisk.model_copy(
                update={"callback_dial": "PJSIP/{number}@caller", "callback_poll_seconds": 0.5}),
        })  # fmt: skip
        runtime = Runtime(settings, engine, make_session_factory(engine), SystemClock())
        audio = silence_audio(tmp_path / "silence.wav")
        password = asterisk.sip_password
        citizen = Baresip(
            tmp_path / "citizen",
            user="caller",
            caller_id="0912345678",
            password=password,
            audio=audio,
            register=True,
        )
        desk = Baresip(
            tmp_path / "desk", user="operator", password=password, audio=audio, register=True
        )
        with citizen, desk:
            citizen.wait_registered()
            desk.wait_registered()
            with runtime.sessions() as session, session.begin():
                dossier = create_dossier(session, runtime, phone="+84912345678")
                order_id = create_call_order(session, runtime, dossier_id=dossier.id).id
            agi = AgiThread(runtime, "127.0.0.1", agi_port)
            agi.start()
            try:
                ringing = citizen.wait_event("CALL_INCOMING", timeout=30)
                citizen.accept()
                put_through = desk.wait_event("CALL_INCOMING", timeout=30)
            finally:
                agi.stop()
        with runtime.sessions() as session:
            order = session.get(CallOrder, order_id)
    finally:
        asterisk.stop()
        engine.dispose()
    assert settings.centre.hotline in json.dumps(ringing)  # the citizen sees the centre calling
    assert put_through
    assert order.status is CallOrderStatus.DONE and order.attempts == 1
