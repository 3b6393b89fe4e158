"""CSRF protection for every form of the staff page: a per-session token, checked on each POST.

The token lives in the signed session cookie and is echoed in a hidden field (or the
X-CSRF-Token header for the few fetch() calls). SameSite=Lax cookies already stop most forged
posts; the token also covers browsers and proxies that do not honour it.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return token


def check_csrf() -> None:
    """Abort with 400 unless the POST carries this session's token."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    expected = session.get(FIELD, "")
    given = request.form.get(FIELD) or request.headers.get(HEADER, "")
    if not expected or not hmac.compare_digest(expected, given):
        abort(400, description="Phiên làm việc không hợp lệ (CSRF). Vui lòng tải lại trang.")
