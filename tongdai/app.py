"""The Flask application factory (web app: /admin, Twilio webhooks, /healthz)."""

from __future__ import annotations

from flask import Flask, redirect, render_template, request, url_for

from intake.runtime import Runtime
from tongdai.startup import load_runtime


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or load_runtime()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        JSON_AS_ASCII=False,
    )
    app.extensions["tongdai"] = runtime

    from tongdai.web_sessions import StaffSessions

    app.session_interface = StaffSessions()

    from tongdai import limits

    limits.install(app, runtime.settings.web)  # first: before any hook can read the body

    from ivr.audio_lookup import blueprint as prompt_audio
    from ivr.twilio_notice_calls import blueprint as twilio_notice
    from ivr.twilio_voice import blueprint as twilio_voice
    from sms.twilio_webhooks import blueprint as twilio_sms
    from tongdai.health import blueprint as health

    app.register_blueprint(health)
    app.register_blueprint(twilio_sms)
    app.register_blueprint(twilio_voice)
    app.register_blueprint(twilio_notice)
    app.register_blueprint(prompt_audio)

    from admin.web import init_app as init_admin
    from api.views import init_app as init_api

    init_admin(app)
    init_api(app)

    @app.get("/")
    def home():
        return redirect(url_for("dashboard.index"))

    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(405)
    def staff_error(error):
        if request.path.startswith("/api/"):
            from api.views import http_problem

            return http_problem(error)  # an address no API view answers: a problem document
        if not request.path.startswith("/admin") or error.code == 405:
            return error
        titles = {403: "Không có quyền truy cập", 404: "Không tìm thấy"}
        messages = {
            403: "Trang này dành cho vai trò khác. Liên hệ quản trị nếu bạn cần.",
            404: "Trang hoặc hồ sơ này không tồn tại.",
        }
        return render_template(
            "admin/error.html",
            code=error.code,
            title=titles[error.code],
            message=messages[error.code],
        ), error.code

    return app
