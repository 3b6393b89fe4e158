"""GET /healthz: the state of each part, for monitoring (and the admin Health page).

200 when the database answers (other parts may still be degraded: see `status`), 503 when it
does not. Parts running in other processes (AMI in the AGI process, the scheduler) report
through heartbeat rows.

Anyone gets the overall `status` and the status code. The details (database kind, scheduler
host and PID, queue sizes) go only to monitoring that sends `X-Health-Token` equal to
TONGDAI_HEALTH_TOKEN (compared in constant time; unset means no token is accepted) and to a
signed-in staff member.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, g, jsonify, request, session

from admin.health_checks import check_database, check_parts
from intake.runtime import Runtime

blueprint = Blueprint("health", __name__)


def may_see_details(runtime: Runtime, database_up: bool) -> bool:
    """Monitoring with the health token, or a signed-in staff member (known only while the
    database answers)."""
    expected = runtime.settings.health_token
    given = request.headers.get("X-Health-Token", "")
    if expected and hmac.compare_digest(given.encode(), expected.encode()):
        return True
    if not database_up or session.get("sid") is None:
        return False  # no cookie: no database look-up for anonymous callers
    from admin.auth import load_user

    load_user()  # the same checks as every staff page: active account, not idle too long
    return g.get("user") is not None


@blueprint.get("/healthz")
def healthz():
    runtime: Runtime = current_app.extensions["tongdai"]
    report: dict[str, object] = {"database": check_database(runtime)}
    details = may_see_details(runtime, bool(report["database"]["ok"]))
    if not report["database"]["ok"]:
        return jsonify(status="down", **(report if details else {})), 503
    report.update(check_parts(runtime))
    healthy = all(part["ok"] for part in report.values())
    status = "ok" if healthy else "degraded"
    return jsonify(status=status, **(report if details else {})), 200
