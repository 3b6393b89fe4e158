"""The scheduler tests' shared parts: real `tongdai scheduler` processes, and a real SMTP
server (aiosmtpd on a local port) that keeps what supervisors would receive."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.policy import default as email_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port
from tests.scheduler.processes import Schedulers, scheduler_fleet


@pytest.fixture
def schedulers(pg_only_url: str, tmp_path: Path) -> Iterator[Schedulers]:
    yield from scheduler_fleet(pg_only_url, tmp_path)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email_policy))
        return "250 OK"


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()
