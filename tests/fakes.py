"""Fake twins of outside systems, for tests. They record what they were asked to do."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from sms.gateways.base import Accepted, OutgoingSms, SendError


class RecordingGateway:
    """Accepts every message (or raises what `script` returns) and remembers each call."""

    name = "fake"

    def __init__(self, script: Callable[[OutgoingSms], SendError | None] | None = None) -> None:
        self.sent: list[OutgoingSms] = []
        self.attempts: list[OutgoingSms] = []
        self._script = script
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def lookup(self, message: OutgoingSms, since) -> Accepted | None:
        with self._lock:
            for index, sent in enumerate(self.sent, start=1):
                if sent.notice_id == message.notice_id:
                    return Accepted(f"FAKE{index:06d}", "delivered")
        return None

    def send(self, message: OutgoingSms) -> Accepted:
        with self._lock:
            self.attempts.append(message)
        error = self._script(message) if self._script else None
        if error is not None:
            raise error
        with self._lock:
            self.sent.append(message)
            return Accepted(f"FAKE{next(self._ids):06d}", "queued")
