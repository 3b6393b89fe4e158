"""The cookie session is the staff's: Twilio's webhooks neither read nor write it.

Flask opens the session of every request before the view runs: it builds a signing serializer
and parses the cookies even when there are none, and afterwards decides whether to set one.
A webhook arrives many times a second per call and never looks at it, so under /twilio/ Flask
gets no session to open and uses its null session (empty; writing to it raises).
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from tongdai.limits import TWILIO_PREFIX


class StaffSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(TWILIO_PREFIX):
            return None  # Flask then uses its null session; nothing is saved
        return super().open_session(app, request)
