"""Oversized or many-field requests are refused (413) before the body is read or parsed."""

from __future__ import annotations

import html
import socket
import threading

import pytest

from plumbing import twilio_signature
from tests.conftest import free_port
from tongdai.app import create_app
from tongdai.serve import web_server

ON_POSTGRESQL = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
TOKEN = "test-auth-token"


@pytest.fixture
def signed_app(runtime):
    runtime.settings = runtime.settings.model_copy(update={"twilio_auth_token": TOKEN})
    return create_app(runtime)


@pytest.fixture
def validations(monkeypatch) -> list[str]:
    """The URLs whose Twilio signature was computed."""
    seen: list[str] = []
    original = twilio_signature.valid_signature

    def counted(token, uri, params, signature):
        seen.append(uri)
        return original(token, uri, params, signature)

    monkeypatch.setattr(twilio_signature, "valid_signature", counted)
    return seen


@ON_POSTGRESQL
def test_an_oversized_twilio_body_is_refused_before_its_signature_is_computed(
    signed_app, validations
):
    limit = signed_app.extensions["tongdai"].settings.web.twilio_max_body_bytes
    response = signed_app.test_client().post(
        "/twilio/voice",
        data={"CallSid": "CA1", "From": "+84912345678", "Junk": "x" * limit},
        headers={"X-Twilio-Signature": "anything"},
    )
    assert response.status_code == 413
    assert response.mimetype == "text/plain" and len(response.data) < 100
    assert validations == []


@ON_POSTGRESQL
def test_a_twilio_form_with_thousands_of_fields_is_refused_unparsed(signed_app, validations):
    body = "&".join(f"f{i}=" for i in range(4000))  # about 24 KB: under the size limit
    response = signed_app.test_client().post(
        "/twilio/sms",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "anything"},
    )
    assert response.status_code == 413
    assert validations == []


@ON_POSTGRESQL
def test_an_oversized_staff_form_gets_a_page_in_vietnamese(app):
    limit = app.extensions["tongdai"].settings.web.max_body_bytes
    response = app.test_client().post(
        "/admin/login", data={"username": "a", "password": "p" * limit}
    )
    assert response.status_code == 413
    assert "Nội dung gửi lên quá lớn" in html.unescape(response.get_data(as_text=True))


@ON_POSTGRESQL
def test_a_staff_form_with_too_many_fields_is_refused(app):
    body = "&".join(f"f{i}=1" for i in range(app.config["MAX_FORM_PARTS"] + 1))
    response = app.test_client().post(
        "/admin/login", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413


@ON_POSTGRESQL
def test_a_query_with_too_many_parameters_is_refused(app):
    query = "&".join(f"q{i}=1" for i in range(app.config["MAX_FORM_PARTS"] + 1))
    assert app.test_client().get(f"/admin/dossiers?{query}").status_code == 414


@ON_POSTGRESQL
def test_an_ordinary_twilio_webhook_still_reaches_its_signature_check(signed_app, validations):
    form = {"CallSid": "CA1", "From": "+84912345678", "To": "+842553822222"}
    response = signed_app.test_client().post(
        "/twilio/voice", data=form, headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status_code == 403
    assert validations == ["http://localhost/twilio/voice"]


# ---- the real web server (waitress, as `tongdai web` starts it) ---------------------------------


@pytest.fixture
def served(signed_app):
    """The app behind waitress on a free port, configured exactly as `tongdai web` does."""
    port = free_port()
    limits = signed_app.extensions["tongdai"].settings.web
    server = web_server(signed_app, limits, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield port
    server.close()
    thread.join(timeout=5)


def _exchange(port: int, head: str, body_chunks=()) -> str:
    """Send a raw HTTP request (the body as given, possibly only part of it); the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is waiting
        return sock.makefile("rb").readline().decode().strip()


@ON_POSTGRESQL
def test_the_web_server_refuses_a_declared_gigabyte_without_waiting_for_it(served):
    head = (
        "POST /twilio/voice HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: s\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000000\r\n\r\n"
    )
    assert _exchange(served, head).split()[1] == "413"


def _chunked(total: int, size: int = 16384):
    sent = 0
    while sent < total:
        yield b"%x\r\n%s\r\n" % (size, b"a" * size)
        sent += size
    yield b"0\r\n\r\n"


@ON_POSTGRESQL
def test_a_chunked_body_without_length_is_limited_too(served, validations):
    head = (
        "POST /twilio/sms HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: s\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    # Over Twilio's limit but under the server's: the app refuses it without parsing it.
    assert _exchange(served, head, _chunked(100_000)).split()[1] == "413"
    # Far over everything: the server stops buffering it.
    assert _exchange(served, head, _chunked(20_000_000)).split()[1] == "413"
    assert validations == []


def test_a_twilio_limit_above_the_whole_app_limit_stops_the_start(tmp_path):
    from plumbing.settings import SettingsError, load_settings
    from tests.conftest import ROOT

    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(text.replace("twilio_max_body_kib = 32", "twilio_max_body_kib = 512"))
    with pytest.raises(SettingsError, match="web: Value error, twilio_max_body_kib cannot"):
        load_settings(path, env={})
