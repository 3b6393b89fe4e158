"""The SMPP gateway bound to an in-process SMSC (the carrier simulator): what goes on the wire,
how refusals and silence are classified, and how the bind survives a broken line."""

from __future__ import annotations

import time

import pytest

from plumbing.settings import SmppSettings
from sms.gateways.base import (
    OutgoingSms,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
)
from sms.gateways.smpp import ESME_RX_T_APPN, SmppGateway
from sms.gateways.smpp_codec import MobileOriginated, Receipt

PHONE = "+84912345678"


class Inbox:
    def __init__(self) -> None:
        self.items: list[tuple[object, int | None]] = []
        self.accept = True

    def __call__(self, delivery, notice_id):
        self.items.append((delivery, notice_id))
        return self.accept


def _gateway(carrier, inbox=None, password="secret", **overrides) -> SmppGateway:
    values = {"response_timeout_seconds": 2, "reconnect_max_seconds": 0.5, **overrides}
    settings = SmppSettings(port=carrier.port, system_id="tongdai", **values)
    return SmppGateway(settings, password, on_delivery=inbox).start()


@pytest.fixture
def inbox():
    return Inbox()


@pytest.fixture
def gateway(carrier, inbox):
    gateway = _gateway(carrier, inbox)
    assert gateway.wait_bound(5)
    yield gateway
    gateway.close()


def _wait(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_notice_leaves_under_the_brandname_to_the_international_number(gateway, carrier):
    accepted = gateway.send(OutgoingSms(1, PHONE, "Da tiep nhan ho so", "TTHCC QNGAI"))
    (taken,) = carrier.submitted
    assert accepted.provider_id == taken.message_id
    assert (taken.source, taken.source_ton, taken.destination) == ("TTHCC QNGAI", 5, "84912345678")
    assert taken.text == "Da tiep nhan ho so" and taken.data_coding == 0
    assert taken.validity_period == "000003000000000R"
    assert taken.registered_delivery == 1
    assert gateway.health()["state"] == "bound"


def test_a_reply_leaves_from_the_short_code(gateway, carrier):
    gateway.send(OutgoingSms(2, PHONE, "Ho so dang xu ly", "TTHCC QNGAI", reply=True))
    assert (carrier.submitted[0].source, carrier.submitted[0].source_ton) == ("8079", 3)


def test_a_long_notice_asks_for_one_receipt_and_arrives_whole(gateway, carrier, inbox):
    text = "Hồ sơ của ông/bà đã được tiếp nhận, hẹn trả kết quả ngày 08/12/2026. " * 2
    accepted = gateway.send(OutgoingSms(3, PHONE, text, "TTHCC QNGAI"))
    assert [s.registered_delivery for s in carrier.submitted] == [0, 0, 1]
    assert carrier.messages() == [("TTHCC QNGAI", "84912345678", text)]
    assert _wait(lambda: inbox.items)
    assert inbox.items == [(Receipt(accepted.provider_id, "DELIVRD", "000"), 3)]


def test_refusals_are_classified(gateway, carrier):
    carrier.outcomes["84900000001"] = "refuse:0x0B"
    carrier.outcomes["84900000002"] = "refuse:0x58"
    with pytest.raises(PermanentSendError) as refused:
        gateway.send(OutgoingSms(4, "+84900000001", "x", "S"))
    assert refused.value.code == "0x0B" and "invalid destination" in str(refused.value)
    with pytest.raises(TransientSendError) as throttled:
        gateway.send(OutgoingSms(5, "+84900000002", "x", "S"))
    assert not throttled.value.permanent and not throttled.value.uncertain


def test_a_submit_never_answered_is_in_doubt_not_failed(carrier, inbox):
    gateway = _gateway(carrier, inbox, response_timeout_seconds=0.5)
    carrier.outcomes["84900000003"] = "silent"
    try:
        assert gateway.wait_bound(5)
        with pytest.raises(UncertainSendError):
            gateway.send(OutgoingSms(6, "+84900000003", "x", "S"))
    finally:
        gateway.close()


def test_a_bind_dropped_after_the_write_leaves_the_notice_in_doubt_and_rebinds(gateway, carrier):
    carrier.outcomes["84900000004"] = "drop"
    with pytest.raises(UncertainSendError):
        gateway.send(OutgoingSms(7, "+84900000004", "x", "S"))
    assert _wait(lambda: gateway.binds[0].binds == 2 and gateway.health()["state"] == "bound")
    assert gateway.send(OutgoingSms(8, PHONE, "again", "S")).provider_id


def test_the_gateway_rebinds_when_the_smsc_comes_back(carrier, inbox):
    gateway = _gateway(carrier, inbox)
    try:
        assert gateway.wait_bound(5)
        carrier.stop()
        assert _wait(lambda: gateway.health()["state"] == "down")
        with pytest.raises(TransientSendError) as down:
            gateway.send(OutgoingSms(9, PHONE, "x", "S"))
        assert down.value.code == "unbound" and not down.value.uncertain
        carrier.start()  # the same port
        assert _wait(lambda: gateway.health()["state"] == "bound", 10)
        assert gateway.send(OutgoingSms(10, PHONE, "back", "S")).provider_id
    finally:
        gateway.close()


def test_a_wrong_password_is_reported_and_nothing_is_sent(carrier):
    gateway = _gateway(carrier, password="wrong", response_timeout_seconds=0.5)
    try:
        with pytest.raises(TransientSendError):
            gateway.send(OutgoingSms(11, PHONE, "x", "S"))
        health = gateway.health()
        assert health["state"] == "down" and "bind failed" in health["binds"][0]["error"]
        assert carrier.submitted == []
    finally:
        gateway.close()


def test_a_citizens_message_is_handed_over_and_refused_when_it_cannot_be_stored(
    gateway, carrier, inbox
):
    first = carrier.send_mo("84912345678", "8079", "TT 2612010001")
    assert carrier.wait(lambda: first in carrier.mo_acks)
    assert carrier.mo_acks[first] == 0
    assert inbox.items[0] == (MobileOriginated("84912345678", "8079", "TT 2612010001"), None)
    inbox.accept = False
    second = carrier.send_mo("84912345678", "8079", "HUY")
    assert carrier.wait(lambda: second in carrier.mo_acks)
    assert carrier.mo_acks[second] == ESME_RX_T_APPN  # the SMSC will deliver it again


def test_a_quiet_line_is_kept_alive_with_enquire_link(carrier, inbox):
    gateway = _gateway(carrier, inbox, enquire_link_seconds=0.2)
    try:
        assert gateway.wait_bound(5)
        time.sleep(1.0)
        assert carrier.enquire_links >= 3
        assert gateway.binds[0].binds == 1 and gateway.health()["state"] == "bound"
    finally:
        gateway.close()


def test_pair_mode_holds_a_transmitter_and_a_receiver(carrier, inbox):
    gateway = _gateway(carrier, inbox, bind="pair", max_binds=2)
    try:
        assert gateway.wait_bound(5)
        assert [b["mode"] for b in gateway.health()["binds"]] == ["transmitter", "receiver"]
        accepted = gateway.send(OutgoingSms(12, PHONE, "x", "S"))
        assert _wait(lambda: inbox.items)
        assert inbox.items[0][0].message_id == accepted.provider_id
    finally:
        gateway.close()


def test_the_bind_state_reaches_healthz_and_the_staff_page(carrier, inbox, runtime):
    from intake.models import Role
    from scheduler.process import gateway_tick
    from tests.admin.staff import log_in, make_user
    from tongdai.app import create_app

    runtime.settings = runtime.settings.model_copy(
        update={"sms_gateway": "smpp", "smpp_password": "secret", "health_token": "t0ken"}
    )
    client = create_app(runtime).test_client()
    health = client.get("/healthz", headers={"X-Health-Token": "t0ken"}).get_json()
    assert health["smpp"]["ok"] is False and health["status"] == "degraded"  # nobody bound yet
    gateway = _gateway(carrier, inbox)
    try:
        assert gateway.wait_bound(5)
        gateway_tick(runtime, gateway, "sched-host:42")
        health = client.get("/healthz", headers={"X-Health-Token": "t0ken"}).get_json()
        assert health["smpp"]["ok"] is True and health["smpp"]["bound_processes"] == 1
        make_user(runtime, "lan", Role.SUPERVISOR)
        log_in(client, "lan")
        page = client.get("/admin/health").get_data(as_text=True)
        assert "Kết nối SMPP (nhà mạng)" in page and "sched-host:42: đã kết nối" in page
        carrier.stop()
        assert _wait(lambda: gateway.health()["state"] == "down")
        gateway_tick(runtime, gateway, "sched-host:42")
        assert (
            client.get("/healthz", headers={"X-Health-Token": "t0ken"}).get_json()["smpp"]["ok"]
            is False
        )
        assert "sched-host:42: mất kết nối" in client.get("/admin/health").get_data(as_text=True)
    finally:
        gateway.close()


def test_the_smpp_gateway_is_chosen_by_the_environment_and_needs_its_password(tmp_path):
    from plumbing.settings import SettingsError, load_settings
    from sms.gateways.factory import gateway_from_settings
    from tests.conftest import ROOT

    env = {"TONGDAI_SECRET_KEY": "k", "TONGDAI_SMS_GATEWAY": "smpp"}
    with pytest.raises(SettingsError, match="TONGDAI_SMPP_PASSWORD"):
        gateway_from_settings(load_settings(ROOT / "config.toml", env=env))
    settings = load_settings(ROOT / "config.toml", env={**env, "TONGDAI_SMPP_PASSWORD": "pw"})
    gateway = gateway_from_settings(settings)
    assert isinstance(gateway, SmppGateway) and gateway.password == "pw"
    assert gateway.settings == settings.sms.smpp and gateway.settings.source_addr == "TTHCC QNGAI"
    config = (ROOT / "config.toml").read_text().replace("query_sm = false", "query_sm = true")
    (tmp_path / "config.toml").write_text(config)
    queries = load_settings(tmp_path / "config.toml", env={**env, "TONGDAI_SMPP_PASSWORD": "pw"})
    assert gateway_from_settings(queries).settings.query_sm is True
    # A pair of binds does not fit an account that allows one.
    (tmp_path / "config.toml").write_text(config.replace('bind = "transceiver"', 'bind = "pair"'))
    with pytest.raises(SettingsError, match="max_binds"):
        load_settings(tmp_path / "config.toml", env={**env, "TONGDAI_SMPP_PASSWORD": "pw"})


def test_query_sm_asks_the_smsc_what_became_of_a_message(gateway, carrier):
    carrier.outcomes["84900000011"] = "noreceipt:DELIVRD"
    carrier.outcomes["84900000012"] = "noreceipt:UNDELIV"
    delivered = gateway.send(OutgoingSms(21, "+84900000011", "x", "S")).provider_id
    undelivered = gateway.send(OutgoingSms(22, "+84900000012", "y", "S", reply=True)).provider_id
    assert gateway.query(delivered) == Receipt(delivered, "DELIVRD", "000")
    assert gateway.query(undelivered, reply=True).provider_status == "undelivered"
    assert gateway.query("123") is None  # the SMSC does not know it
    assert carrier.queries == [delivered, undelivered, "123"]


class Places:
    """Bind slots handed out by the test (plumbing.leader.Slots does it through PostgreSQL)."""

    def __init__(self, free: bool) -> None:
        self.free = free
        self.released = 0

    def hold(self):
        return 0 if self.free else None

    def release(self):
        self.released += 1


def test_a_process_without_a_bind_slot_stands_by_and_binds_when_one_frees(carrier, inbox):
    places = Places(free=False)
    settings = SmppSettings(port=carrier.port, system_id="tongdai", response_timeout_seconds=0.5,
                            reconnect_max_seconds=0.5)  # fmt: skip
    gateway = SmppGateway(settings, "secret", on_delivery=inbox, slots=places).start()
    try:
        assert _wait(lambda: gateway.health()["state"] == "standby")
        assert not gateway.may_send() and carrier.bound() == 0
        assert "max_binds = 1" in gateway.health()["binds"][0]["error"]
        places.free = True
        assert gateway.wait_bound(10) and gateway.may_send()
        assert gateway.health()["slot"] == 1 and carrier.bound() == 1
        # The slot lost (its database connection broke, another process took it): unbind.
        places.free = False
        assert _wait(lambda: gateway.health()["state"] == "standby", 10)
        assert _wait(lambda: carrier.bound() == 0)
    finally:
        gateway.close()
    assert places.released == 1


def test_an_smsc_refusing_the_bind_as_over_its_limit_is_a_state_of_its_own(carrier, inbox):
    carrier.bind_status = 0x0D  # ESME_RBINDFAIL, Jasmin's answer past a user's max_bindings
    gateway = _gateway(carrier, inbox, reconnect_max_seconds=30)
    try:
        assert _wait(lambda: gateway.health()["state"] == "refused")
        error = gateway.health()["binds"][0]["error"]
        assert "ESME_RBINDFAIL" in error and "max_binds" in error
        carrier.bind_status = 0
        time.sleep(1.0)  # no quick second try: the backoff is the longest one
        assert gateway.health()["state"] == "refused" and gateway.binds[0].binds == 0
    finally:
        gateway.close()


def test_a_standing_by_process_shows_on_healthz_and_the_staff_page(carrier, inbox, runtime):
    from intake.models import Role
    from scheduler.process import gateway_tick
    from tests.admin.staff import log_in, make_user
    from tongdai.app import create_app

    runtime.settings = runtime.settings.model_copy(
        update={"sms_gateway": "smpp", "smpp_password": "secret", "health_token": "t0ken"}
    )
    settings = SmppSettings(port=carrier.port, system_id="tongdai", reconnect_max_seconds=0.5)
    holder = SmppGateway(settings, "secret", on_delivery=inbox, slots=Places(free=True)).start()
    waiting = SmppGateway(settings, "secret", on_delivery=inbox, slots=Places(free=False)).start()
    try:
        assert holder.wait_bound(5)
        assert _wait(lambda: waiting.health()["state"] == "standby")
        gateway_tick(runtime, holder, "sched-a:1")
        gateway_tick(runtime, waiting, "sched-b:2")
    finally:
        holder.close()
        waiting.close()
    client = create_app(runtime).test_client()
    smpp = client.get("/healthz", headers={"X-Health-Token": "t0ken"}).get_json()["smpp"]
    assert (smpp["ok"], smpp["bound_processes"], smpp["standby_processes"]) == (True, 1, 1)
    make_user(runtime, "lan", Role.SUPERVISOR)
    log_in(client, "lan")
    page = client.get("/admin/health").get_data(as_text=True)
    assert "sched-a:1: đã kết nối" in page
    assert "sched-b:2: chờ (tiến trình khác đang giữ kết nối" in page
