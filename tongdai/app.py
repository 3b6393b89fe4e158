"""The Flask application factory (web app: /admin, Twilio webhooks, /healthz)."""

from __future__ import annotations

from flask import Flask

from tongdai.runtime import Runtime, load_runtime


def create_app(runtime: Runtime | None = None) -> Flask:
    runtime = runtime or load_runtime()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        JSON_AS_ASCII=False,
    )
    app.extensions["tongdai"] = runtime

    from ivr.audio_lookup import blueprint as prompt_audio
    from ivr.twilio_voice import blueprint as twilio_voice
    from sms.twilio_webhooks import blueprint as twilio_sms
    from tongdai.health import blueprint as health

    app.register_blueprint(health)
    app.register_blueprint(twilio_sms)
    app.register_blueprint(twilio_voice)
    app.register_blueprint(prompt_audio)
    return app
