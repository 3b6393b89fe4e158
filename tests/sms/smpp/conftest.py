"""A real Jasmin between our gateway and the carrier simulator, for the end-to-end tests.

One Jasmin per test module (xdist runs a module in one worker), configured through jCli;
each test gets its own gateway bound to it and a PostgreSQL database emptied for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.clock import SystemClock
from intake.runtime import Runtime
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import Settings, SmppSettings
from sms.gateways.smpp import SmppGateway
from sms.smpp_deliveries import SmppDeliveries
from tests.conftest import missing_service
from tests.sms.smpp.carrier import CarrierSimulator
from tests.sms.smpp.jasmin import (
    CARRIER_PASSWORD,
    CARRIER_USER,
    PASSWORD,
    USER,
    Jasmin,
    JasminUnavailable,
)


class Stack:
    """Jasmin, the carrier behind it, and how to reach them."""

    def __init__(self, jasmin: Jasmin, carrier: CarrierSimulator) -> None:
        self.jasmin = jasmin
        self.carrier = carrier

    def smpp_settings(self, **overrides) -> SmppSettings:
        values = {
            "port": self.jasmin.smpp_port,
            "system_id": USER,
            "response_timeout_seconds": 5.0,
            "reconnect_max_seconds": 1.0,
            "rate_per_second": 0.0,
            **overrides,
        }
        return SmppSettings(**values)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("jasmin")
    carrier = CarrierSimulator(
        system_id=CARRIER_USER,
        password=CARRIER_PASSWORD,
        receipt_delay=0.2,
        log_path=workdir / "carrier.jsonl",
    )
    carrier.start()
    jasmin = Jasmin(workdir)
    try:
        jasmin.start()
        jasmin.provision(carrier.port)
    except JasminUnavailable as error:
        jasmin.close()
        carrier.stop()
        missing_service(f"Jasmin SMS gateway ({error})")
    if not carrier.wait(lambda: carrier.bound() > 0, 15):
        pytest.fail("Jasmin never bound to the carrier simulator")
    yield Stack(jasmin, carrier)
    jasmin.close()
    carrier.stop()


@pytest.fixture
def smpp_runtime(pg_only_url: str, base_settings: Settings) -> Iterator[Runtime]:
    """PostgreSQL and the real clock: receipts arrive on their own thread, in real time."""
    settings = base_settings.model_copy(
        update={"database_url": pg_only_url, "sms_gateway": "smpp", "smpp_password": PASSWORD}
    )
    engine = make_engine(pg_only_url)
    yield Runtime(settings, engine, make_session_factory(engine), SystemClock())
    engine.dispose()


@pytest.fixture
def make_gateway(stack: Stack, smpp_runtime: Runtime):
    made: list[SmppGateway] = []

    def make(**overrides) -> SmppGateway:
        password = overrides.pop("password", PASSWORD)
        gateway = SmppGateway(
            stack.smpp_settings(**overrides), password, on_delivery=SmppDeliveries(smpp_runtime)
        ).start()
        made.append(gateway)
        assert gateway.wait_bound(10), gateway.health()
        return gateway

    yield make
    for gateway in made:
        gateway.close()


def wait_until(predicate, timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


@pytest.fixture
def carrier() -> Iterator[CarrierSimulator]:
    """A carrier simulator of its own, for tests that bind to it directly (not through Jasmin)."""
    carrier = CarrierSimulator(system_id="tongdai", password="secret")
    carrier.start()
    yield carrier
    carrier.stop()


def carrier_log(stack: Stack) -> Path:
    assert stack.carrier.log_path is not None
    return stack.carrier.log_path
