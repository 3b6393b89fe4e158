"""`tongdai web`'s waitress hands X-Forwarded-For to the app, which alone decides whether to
believe it (TONGDAI_TRUSTED_PROXIES): behind nginx the client's address must get through."""

from __future__ import annotations

import threading
import urllib.request

from tests.conftest import free_port
from tongdai.serve import web_server


def test_waitress_passes_x_forwarded_for_to_the_app(base_settings):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("HTTP_X_FORWARDED_FOR", "-").encode()]

    port = free_port()
    server = web_server(app, base_settings.web, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.read() == b"203.0.113.9"
    finally:
        server.close()
        thread.join(timeout=5)
