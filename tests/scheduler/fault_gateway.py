"""A faulty SMS provider in its own process, and `HttpGateway`, the SmsGateway that talks to it.

    python -m tests.scheduler.fault_gateway --seed N --log FILE [--port 0] [--late-seconds 0.7]
        [--fail-share 0.30] [--late-share 0.05]

`POST /send` with JSON {"notice_id", "to", "text"}: 30 % of requests get HTTP 503; 5 % are
answered only after `--late-seconds` (longer than the client's timeout) and are then accepted all
the same, like a provider that took the message but answered too late; the rest are accepted.
The design assumes the provider has recorded a message before `unknown_after_seconds` have
passed since the send began, so `--late-seconds` must stay below that window.
Every acceptance is appended to FILE as one JSON line {"notice_id", "provider_id"} and fsynced
before the answer, so the file is the provider's record even if this process dies.
`GET /lookup?notice_id=N` answers 200 {"provider_id"} from that file, or 404.

The fate of the k-th request for notice N depends only on (seed, N, k), so a seed replays the
same provider behaviour whatever the timing of the dispatchers. Prints `listening on <port>`
when ready; SIGTERM stops it after the late answers still under way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from sms.gateways.base import Accepted, OutgoingSms, TransientSendError, UncertainSendError

FAIL_SHARE = 0.30
LATE_SHARE = 0.05


def fate(
    seed: int,
    notice_id: int,
    attempt: int,
    fail_share: float = FAIL_SHARE,
    late_share: float = LATE_SHARE,
) -> str:
    """ "fail", "late" or "accept" for the `attempt`-th request (from 1) for a notice."""
    draw = random.Random(f"{seed}:{notice_id}:{attempt}").random()
    if draw < fail_share:
        return "fail"
    if draw < fail_share + late_share:
        return "late"
    return "accept"


class Provider:
    """The provider's state: how often each notice was asked for, and the acceptance file."""

    def __init__(
        self,
        seed: int,
        log_path: Path,
        late_seconds: float,
        fail_share: float = FAIL_SHARE,
        late_share: float = LATE_SHARE,
    ) -> None:
        self.seed = seed
        self.log_path = log_path
        self.late_seconds = late_seconds
        self.shares = (fail_share, late_share)
        self._lock = threading.Lock()
        self._requests: Counter[int] = Counter()
        self._accepted = 0
        self._log = log_path.open("a", encoding="utf-8")

    def next_fate(self, notice_id: int) -> str:
        with self._lock:
            self._requests[notice_id] += 1
            return fate(self.seed, notice_id, self._requests[notice_id], *self.shares)

    def accept(self, notice_id: int) -> str:
        with self._lock:
            self._accepted += 1
            provider_id = f"FG{self.seed}-{self._accepted:06d}"
            line = json.dumps({"notice_id": notice_id, "provider_id": provider_id})
            self._log.write(line + "\n")
            self._log.flush()
            os.fsync(self._log.fileno())
        return provider_id

    def lookup(self, notice_id: int) -> str | None:
        with self._lock:
            for record in read_acceptances(self.log_path):
                if record["notice_id"] == notice_id:
                    return record["provider_id"]
        return None


def read_acceptances(path: Path) -> list[dict[str, object]]:
    """The acceptance file's records, in order."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


class Handler(BaseHTTPRequestHandler):
    server: ProviderServer

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        if urlsplit(self.path).path != "/send":
            return self._answer(404, {"error": "no such path"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        notice_id = int(body["notice_id"])
        provider = self.server.provider
        outcome = provider.next_fate(notice_id)
        if outcome == "fail":
            return self._answer(503, {"error": "provider busy"})
        if outcome == "late":
            time.sleep(provider.late_seconds)
        self._answer(200, {"provider_id": provider.accept(notice_id)})

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        if url.path != "/lookup":
            return self._answer(404, {"error": "no such path"})
        notice_id = int(parse_qs(url.query)["notice_id"][0])
        provider_id = self.server.provider.lookup(notice_id)
        if provider_id is None:
            return self._answer(404, {"error": "never accepted"})
        self._answer(200, {"provider_id": provider_id})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a late answer): the acceptance still stands

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the test's output


class ProviderServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for late answers to be recorded
    block_on_close = True

    def __init__(self, port: int, provider: Provider) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.provider = provider


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True, help="the acceptance file")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--late-seconds", type=float, default=0.7)
    parser.add_argument("--fail-share", type=float, default=FAIL_SHARE)
    parser.add_argument("--late-share", type=float, default=LATE_SHARE)
    args = parser.parse_args(argv)

    provider = Provider(args.seed, args.log, args.late_seconds, args.fail_share, args.late_share)
    server = ProviderServer(args.port, provider)
    # shutdown() waits for serve_forever() to return, so it cannot run in the signal handler.
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()
    )
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
    sys.exit(0)


class HttpGateway:
    """An SmsGateway (with `lookup`) for the fault provider. A timeout or a 503 is transient."""

    name = "fault-http"

    def __init__(self, base_url: str, *, timeout: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def send(self, message: OutgoingSms) -> Accepted:
        payload = {"notice_id": message.notice_id, "to": message.to, "text": message.text}
        try:
            reply = self._http.post(f"{self.base_url}/send", json=payload, timeout=self.timeout)
        except requests.Timeout as error:
            raise UncertainSendError(f"no answer in {self.timeout} s", "timeout") from error
        except requests.RequestException as error:
            raise TransientSendError(f"unreachable: {error}", "connection") from error
        if reply.status_code != 200:
            raise TransientSendError(f"HTTP {reply.status_code}", str(reply.status_code))
        return Accepted(reply.json()["provider_id"], "sent")

    def lookup(self, message: OutgoingSms, since: dt.datetime) -> Accepted | None:
        try:
            reply = self._http.get(
                f"{self.base_url}/lookup",
                params={"notice_id": message.notice_id},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise TransientSendError(f"look-up failed: {error}", "lookup") from error
        if reply.status_code == 404:
            return None
        if reply.status_code != 200:
            raise TransientSendError(f"look-up: HTTP {reply.status_code}", "lookup")
        return Accepted(reply.json()["provider_id"], "sent")


if __name__ == "__main__":
    main()
