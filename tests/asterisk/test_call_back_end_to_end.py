"""A staff call-back through a real Asterisk: the queued order is placed by the AGI process's AMI
connection, the citizen's phone (baresip on the test endpoint `caller`) rings with the centre's
hotline as caller id, and once the citizen answers the shipped `tongdai-callback` context puts
them through to the operator's desk phone (the test endpoint `operator`)."""

from __future__ import annotations

import json

from intake.clock import SystemClock
from ivr.models import CallOrder, CallOrderStatus
from tests.asterisk.exchange import exchange
from tests.factories import create_call_order, create_dossier

PHONES = {
    "citizen": {"user": "caller", "caller_id": "0912345678"},
    "desk": {"user": "operator"},
}


def test_a_call_back_rings_the_citizen_then_puts_them_through_to_the_operator(
    tmp_path, pg_url, base_settings
):
    with exchange(tmp_path, pg_url, PHONES) as centre:
        # The national number reaches the registered test phone: PJSIP/<user>@<endpoint>.
        dialling = {"callback_dial": "PJSIP/{number}@caller", "callback_poll_seconds": 0.5}
        asterisk = base_settings.asterisk.model_copy(update=dialling)
        settings = centre.settings(base_settings, pg_url, asterisk=asterisk)
        runtime = centre.runtime(settings, SystemClock())
        citizen, desk = centre.phones["citizen"], centre.phones["desk"]
        with runtime.sessions() as session, session.begin():
            dossier = create_dossier(session, runtime, phone="+84912345678")
            order_id = create_call_order(session, runtime, dossier_id=dossier.id).id
        with centre.agi(runtime):
            ringing = citizen.wait_event("CALL_INCOMING", timeout=30)
            citizen.accept()
            put_through = desk.wait_event("CALL_INCOMING", timeout=30)
        with runtime.sessions() as session:
            order = session.get(CallOrder, order_id)
    assert settings.centre.hotline in json.dumps(ringing)  # the citizen sees the centre calling
    assert put_through
    assert order.status is CallOrderStatus.DONE and order.attempts == 1
