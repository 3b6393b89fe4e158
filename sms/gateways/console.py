"""The console gateway: for a laptop. Prints each SMS and appends it to var/sms.log."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path

from sms.gateways.base import Accepted, OutgoingSms


class ConsoleGateway:
    name = "console"

    def __init__(self, log_path: Path, echo: bool = True) -> None:
        self.log_path = log_path
        self.echo = echo
        self._lock = threading.Lock()

    def send(self, message: OutgoingSms) -> Accepted:
        provider_id = f"CON{uuid.uuid4().hex}"
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        line = (
            f"{stamp}\t{message.sender}\t{message.to}\t{provider_id}\t"
            f"notice={message.notice_id}\t{message.text}\n"
        )
        with self._lock:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(line)
        if self.echo:
            print(f"[SMS {message.sender} -> {message.to}] {message.text}", flush=True)
        return Accepted(provider_id, "delivered")

    def lookup(self, message: OutgoingSms, since: dt.datetime) -> Accepted | None:
        """The log is the console's record of what it accepted."""
        marker = f"\tnotice={message.notice_id}\t"
        if not self.log_path.exists():
            return None
        with self._lock, self.log_path.open(encoding="utf-8") as log:
            for line in log:
                if marker in line:
                    return Accepted(line.split("\t")[3], "delivered")
        return None
