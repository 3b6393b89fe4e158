"""The state of each part (database, AMI, scheduler, SMS queue, portal sync), as /healthz and
the admin Health page both report it. Parts running in other processes (AMI in the AGI process, the
scheduler) report through heartbeat rows."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select, text

from intake.runtime import Runtime
from plumbing.heartbeat import read as read_heartbeats

log = logging.getLogger(__name__)
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
    if runtime.settings.sms_gateway == "smpp":
        report["smpp"] = _smpp_binds(beats, now)
    report["onestop"] = check_onestop(runtime, now)
    report["sms"] = {
        "ok": due is None or now - due < dt.timedelta(minutes=10),
        "oldest_pending_seconds": round((now - due).total_seconds()) if due else 0,
        "pending_due": pending_due,
        "held": held,  # waiting for quiet hours or a retry
        "retrying": failing,
    }
    return report


def _smpp_binds(beats, now: dt.datetime) -> dict[str, object]:
    """The SMPP binds of every scheduler process that reported lately (heartbeats `smpp:…`):
    ok when at least one process is bound."""
    processes = [
        {
            "holder": row.holder,
            "state": row.state.get("state"),
            "binds": row.state.get("binds"),
            "last_heartbeat": row.beat_at.isoformat(),
        }  # fmt: skip
        for name, row in sorted(beats.items())
        if name.startswith("smpp:") and now - row.beat_at < STALE_AFTER
    ]
    states = [process["state"] for process in processes]
    bound = states.count("bound")
    # standby: no bind slot (another process holds the account's binds, docs/smpp.md);
    # refused: the SMSC answered the bind "already bound" / "bind failed" (its limit reached).
    return {"ok": bound > 0, "bound_processes": bound, "standby_processes": states.count("standby"),
            "refused_processes": states.count("refused"), "processes": processes}  # fmt: skip


def check_onestop(runtime: Runtime, now: dt.datetime) -> dict[str, object]:
    """The portal sync's backlog and its oldest waiting record."""
    if not runtime.settings.onestop.enabled:
        return {"ok": True, "configured": False}
    from onestop.queries import backlog, latest_reconciliation

    with runtime.sessions() as session:
        waiting = backlog(session)
        last = latest_reconciliation(session)
    age = waiting.waited(now)
    return {
        "ok": not waiting.is_late(now),
        "backlog": waiting.waiting,
        "oldest_pending": waiting.oldest.isoformat() if waiting.oldest else None,
        "oldest_pending_seconds": round(age.total_seconds()) if age else 0,
        "stopped_dossiers": waiting.stopped_dossiers,
        "last_reconciliation": last.ran_at.isoformat() if last else None,
        "reconciliation_mismatches": len(last.mismatches) if last else None,
    }
