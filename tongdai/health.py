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

import datetime as dt
import hmac
import logging

from flask import Blueprint, current_app, g, jsonify, request, session
from sqlalchemy import func, select, text

from tongdai.heartbeat import read as read_heartbeats
from tongdai.runtime import Runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)
STALE_AFTER = dt.timedelta(seconds=60)


def check_database(runtime: Runtime) -> dict[str, object]:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason goes to the report
        log.warning("health: database unreachable: %s", exc.__class__.__name__)
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "backend": runtime.engine.dialect.name}


def check_parts(runtime: Runtime) -> dict[str, dict[str, object]]:
    """AMI and the SMS queue (the database must be up)."""
    from sms.models import Notice, NoticeStatus

    now = runtime.clock.now()
    with runtime.sessions() as session:
        beats = read_heartbeats(session)
        pending = Notice.status == NoticeStatus.PENDING
        due = session.scalar(
            select(func.min(Notice.next_attempt_at)).where(pending, Notice.next_attempt_at <= now)
        )
        is_due = Notice.next_attempt_at <= now
        pending_due = session.scalar(select(func.count()).where(pending, is_due))
        held = session.scalar(select(func.count()).where(pending, ~is_due))
        failing = session.scalar(select(func.count()).where(pending, Notice.attempts > 0))
    report: dict[str, dict[str, object]] = {}
    if runtime.settings.ami_url:
        ami = beats.get("ami")
        fresh = ami is not None and now - ami.beat_at < STALE_AFTER
        report["ami"] = {
            "ok": bool(fresh and ami.state.get("connected")),
            "connected": bool(ami and ami.state.get("connected")),
            "last_heartbeat": ami.beat_at.isoformat() if ami else None,
        }
    else:
        report["ami"] = {"ok": True, "configured": False}
    leader = beats.get("scheduler-leader")
    report["scheduler"] = {
        # Informational: a stopped scheduler shows as an old heartbeat and a growing SMS queue.
        "ok": True,
        "leader": leader.holder if leader and now - leader.beat_at < STALE_AFTER else None,
        "last_heartbeat": leader.beat_at.isoformat() if leader else None,
    }
    report["sms"] = {
        "ok": due is None or now - due < dt.timedelta(minutes=10),
        "oldest_pending_seconds": round((now - due).total_seconds()) if due else 0,
        "pending_due": pending_due,
        "held": held,  # waiting for quiet hours or a retry
        "retrying": failing,
    }
    return report


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
