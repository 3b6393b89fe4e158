"""Only staff pages open the cookie session; Twilio's webhooks get Flask's null session."""

from __future__ import annotations

from flask import session
from flask.sessions import NullSession, SecureCookieSession


def test_a_webhook_opens_no_cookie_session(app):
    with app.test_request_context("/twilio/voice/step?seq=1", method="POST"):
        assert isinstance(session._get_current_object(), NullSession)
        assert not session.get("sid")  # reading it is harmless: it is empty


def test_staff_pages_still_have_their_session(app):
    for path in ("/admin/login", "/healthz"):
        with app.test_request_context(path):
            current = session._get_current_object()
            assert isinstance(current, SecureCookieSession)
            assert not isinstance(current, NullSession)
            session["sid"] = "x"  # writable
