"""The staff web page: wiring of its blueprints, security headers and template helpers."""

from __future__ import annotations

from flask import Flask, request

from admin import auth, formatting, staff_sessions
from admin.csrf import check_csrf, csrf_token
from admin.query import (
    bad_request_page,
    install_id_converter,
    refuse_nul_in_forms,
)
from intake.models import Role
from intake.statuses import DossierStatus
from reports import labels


def init_app(app: Flask) -> None:
    from admin.views import BLUEPRINTS

    settings = app.extensions["tongdai"].settings
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url and settings.public_url.startswith("https")),
        SESSION_COOKIE_NAME="tongdai_session",
        # The browser drops the cookie when the server would refuse the session anyway.
        PERMANENT_SESSION_LIFETIME=staff_sessions.LIFETIME,
    )
    install_id_converter(app)
    app.register_blueprint(auth.blueprint)
    auth.dummy_hash()  # now, so that no log-in attempt pays for it
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.before_request
    def _staff_only() -> None:
        if request.path.startswith("/admin"):
            refuse_nul_in_forms()
            auth.load_user()
            check_csrf()

    app.register_error_handler(400, bad_request_page)

    @app.after_request
    def _headers(response):
        if request.path.startswith("/admin"):
            # Personal data: never cached, never framed, no third-party anything.
            response.headers["Cache-Control"] = "no-store"
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
            )
        return response

    zone = settings.zone
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        has_role=auth.has_role,
        Role=Role,
        DossierStatus=DossierStatus,
        centre=settings.centre,
        procedures=settings.procedures,
    )
    app.jinja_env.filters.update(
        dt=lambda v: formatting.local_datetime(v, zone),
        date=lambda v: formatting.local_date(v, zone),
        phone=formatting.national_phone,
        mask_id=formatting.mask_citizen_id,
        money=formatting.money,
        notice_kind=labels.notice_kind,
        notice_status=labels.notice_status,
        call_ending=labels.call_ending,
        outcome=labels.outcome,
        call_order_state=labels.call_order_state,
        notice_call_state=labels.notice_call_state,
        notice_call_history=lambda call: labels.notice_call_history(call, zone),
    )
