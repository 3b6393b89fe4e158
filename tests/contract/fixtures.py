"""Contract fixtures, registered by the conftest of each test package that uses them.

`prism_url`: Prism (npm, pinned in package.json/package-lock.json) serving Twilio's OpenAPI spec
as a mock, one per test session (or xdist worker). `contract_http`: a fresh in-process
ContractHttpClient; the test fails if the gateway sent a request the spec does not allow.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, missing_service
from tests.contract.twilio_contract import SPEC_PATH, ContractHttpClient

CONTRACT_DIR = Path(__file__).resolve().parent
PRISM = CONTRACT_DIR / "node_modules" / ".bin" / "prism"
PRISM_START_TIMEOUT = 60.0


def _log_tail(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-3000:]


@pytest.fixture(scope="session")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PRISM.exists():
        missing_service("Prism contract mock (run npm ci in tests/contract)")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    command = [str(PRISM), "mock", str(SPEC_PATH), "-h", "127.0.0.1", "-p", str(port), "--errors"]
    with log_path.open("wb") as log:
        try:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        except OSError as error:  # node itself missing
            missing_service(f"Prism contract mock ({error})")
    try:
        deadline = time.monotonic() + PRISM_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism exited with {process.returncode}:\n{_log_tail(log_path)}")
            try:
                requests.get(base_url, timeout=1)
                break
            # Prism accepts connections before it has read the 1.8 MB spec: on a loaded machine
            # the first probes time out rather than being refused.
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not answer within {PRISM_START_TIMEOUT:.0f} s")
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def contract_http() -> Iterator[ContractHttpClient]:
    client = ContractHttpClient()
    yield client
    # The gateway may swallow the ContractViolation; the record still fails the test.
    assert not client.violations, "requests or replies broke Twilio's spec:\n" + "\n".join(
        client.violations
    )
