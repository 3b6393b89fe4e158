"""Every /twilio/... request must carry a valid X-Twilio-Signature, or it gets 403.

Twilio signs the URL it called. Behind a TLS-terminating proxy the app sees http://internal/...,
so the URL is rebuilt from TONGDAI_PUBLIC_URL when it is set; forwarded headers are not trusted,
since anyone can send them.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable, Mapping
from functools import wraps
from urllib.parse import urlparse

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, remove_port

log = logging.getLogger(__name__)


def signed_url() -> str:
    public = current_app.extensions["tongdai"].settings.public_url
    if not public:
        return request.url
    query = request.query_string.decode("latin-1")
    path = request.script_root + request.path
    return public.rstrip("/") + path + (f"?{query}" if query else "")


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def valid_signature(token: str, url: str, form: Mapping, signature: str) -> bool:
    """Twilio's own check (`RequestValidator.validate`: the URL without, then with, its port;
    HMAC-SHA1 over the URL and the sorted form fields), computing the second variant only when
    the first does not match: Twilio signs the URL as configured, so the first one usually
    does, and every HMAC over the form is CPU on every webhook."""
    validator = _validator(token)
    parsed = urlparse(url)
    expected = signature.encode("utf-8")
    for variant in (remove_port, add_port):
        computed = validator.compute_signature(variant(parsed), form)
        if hmac.compare_digest(computed.encode("utf-8"), expected):
            return True
    return False


def require_twilio_signature(view: Callable) -> Callable:
    @wraps(view)
    def checked(*args, **kwargs):
        token = current_app.extensions["tongdai"].settings.twilio_auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        # Without a token nothing can be verified, so nothing is accepted.
        if not token or not signature:
            log.warning("twilio: unsigned request to %s refused", request.path)
            abort(403)
        # Validate over the form body only: query parameters are already part of the URL.
        if not valid_signature(token, signed_url(), request.form, signature):
            log.warning("twilio: bad signature on %s refused", request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked
