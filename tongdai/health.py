"""GET /healthz: the state of each part, for monitoring (and the admin Health page)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from tongdai.runtime import Runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


def check_database(runtime: Runtime) -> dict[str, object]:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason goes to the report
        log.warning("health: database unreachable: %s", exc.__class__.__name__)
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "backend": runtime.engine.dialect.name}


@blueprint.get("/healthz")
def healthz():
    runtime: Runtime = current_app.extensions["tongdai"]
    report = {"database": check_database(runtime)}
    healthy = report["database"]["ok"]
    return jsonify(status="ok" if healthy else "down", **report), 200 if healthy else 503
