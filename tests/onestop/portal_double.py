"""The portal double: the national portal's integration adapter as a separate HTTP process.

    python -m tests.onestop.portal_double [--port P] [--seed S] [--session-seconds N]

Prints `listening on <port>` once ready. Serves the three endpoints (`/auth`, `/integration`,
`/share`: the defaults of config.toml's `[onestop]` paths) with tests/onestop/portal_book.py's
answers, and injects faults, each with its own probability, drawn from a generator seeded by S:

- `error_5xx`: HTTP 503 before the request is looked at;
- `not_json`: HTTP 200 with an HTML error page, before the request is looked at;
- `hang_after`: the request is read and carried out, and the answer never comes (the client
  times out not knowing);
- `hang_before`: the request is read, not carried out, and no answer comes;
- `slow`: the answer comes after `slow_seconds`.

Control (for tests, not part of the portal): `GET /_double/state` (what the portal holds),
`POST /_double/faults` with `{"error_5xx": p, ..., "slow_seconds": s, "hang_seconds": s}`,
`POST /_double/expire` (forget every session).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.onestop.portal_book import PortalBook

FAULTS = ("error_5xx", "not_json", "hang_after", "hang_before", "slow")


class DoubleState:
    def __init__(self, book: PortalBook, seed: str) -> None:
        self.book = book
        self.draws = random.Random(seed)
        self.lock = threading.Lock()
        self.faults: dict[str, float] = dict.fromkeys(FAULTS, 0.0)
        self.slow_seconds = 0.2
        self.hang_seconds = 5.0
        self.injected: dict[str, int] = dict.fromkeys(FAULTS, 0)

    def draw(self) -> str | None:
        with self.lock:
            for fault in FAULTS:
                if self.draws.random() < self.faults[fault]:
                    self.injected[fault] += 1
                    return fault
        return None


def make_handler(state: DoubleState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real adapter
        # Headers and body are written apart: without TCP_NODELAY the body would wait for the
        # client's delayed ACK (40 ms a call).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any, status: int = 200) -> None:
            self._answer(status, json.dumps(value, ensure_ascii=False).encode())

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/_double/state":
                snapshot = state.book.snapshot()
                snapshot["injected"] = dict(state.injected)
                self._json(snapshot)
            else:
                self._json({"error": "not found"}, 404)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.startswith("/_double/"):
                self._control(raw)
                return
            endpoint = {
                "/auth": state.book.auth,
                "/integration": state.book.integration,
                "/share": state.book.share,
            }.get(self.path)
            if endpoint is None:
                self._json({"error": "not found"}, 404)
                return
            fault = state.draw() if self.path != "/auth" else None
            if fault == "error_5xx":
                self._answer(503, b"Service Unavailable", "text/plain")
                return
            if fault == "not_json":
                self._answer(200, b"<html><body>Gateway error</body></html>", "text/html")
                return
            if fault == "hang_before":
                self._hang()
                return
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._json({"error_code": 1, "message": "Dữ liệu không phải JSON"})
                return
            headers = {key.lower(): value for key, value in self.headers.items()}
            reply = endpoint(headers, body)
            if fault == "hang_after":
                self._hang()
                return
            if fault == "slow":
                time.sleep(state.slow_seconds)
            self._json(reply)

        def _hang(self) -> None:
            time.sleep(state.hang_seconds)
            self.close_connection = True

        def _control(self, raw: bytes) -> None:
            if self.path == "/_double/faults":
                settings = json.loads(raw or b"{}")
                with state.lock:
                    for key, value in settings.items():
                        if key in state.faults:
                            state.faults[key] = float(value)
                        elif key in ("slow_seconds", "hang_seconds"):
                            setattr(state, key, float(value))
                self._json({"faults": state.faults})
            elif self.path == "/_double/expire":
                state.book.expire_sessions()
                self._json({"expired": True})
            else:
                self._json({"error": "not found"}, 404)

    return Handler


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or was killed hangs up mid-answer: expected here, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", default="0")
    parser.add_argument("--session-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    state = DoubleState(PortalBook(session_seconds=args.session_seconds), args.seed)
    server = DoubleServer(("127.0.0.1", args.port), make_handler(state))
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
