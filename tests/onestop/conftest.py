"""The portal double as a separate process, and the client pointed at it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from onestop.http_portal import HttpPortal
from tests.conftest import ROOT


@dataclass
class Double:
    url: str
    process: subprocess.Popen[str]

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_double/state", timeout=5) as reply:
            return json.loads(reply.read())

    def control(self, what: str, settings: dict[str, Any] | None = None) -> None:
        request = urllib.request.Request(
            f"{self.url}/_double/{what}", data=json.dumps(settings or {}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):
            pass

    def faults(self, **settings: float) -> None:
        self.control("faults", settings)

    def client(self, timeout: float = 1.0) -> HttpPortal:
        return HttpPortal(
            self.url,
            username="tongdai",
            password="mat-khau",
            dstcode="DVCQG-TEST",
            madonvi="000.00.53.H48",
            auth_path="/auth",
            integration_path="/integration",
            share_path="/share",
            timeout=timeout,
        )


def start_double(seed: str = "0", session_seconds: float = 600.0) -> Double:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.onestop.portal_double", "--seed", seed,
         "--session-seconds", str(session_seconds)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on "), f"the portal double did not start: {line!r}"
    return Double(f"http://127.0.0.1:{int(line.split()[-1])}", process)


def stop_double(double: Double) -> None:
    double.process.terminate()
    double.process.wait(timeout=10)


@pytest.fixture
def double() -> Iterator[Double]:
    running = start_double()
    yield running
    stop_double(running)
