"""Where a front end finds built prompt audio, and the public route that serves it to Twilio.

Prompts are the centre's own words, not personal data, so they may be served without log-in
(Twilio fetches them); callers' recordings never are.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, request, send_file

from tongdai.settings import Settings

blueprint = Blueprint("prompt_audio", __name__)
_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def web_audio_path(settings: Settings, key: str) -> Path:
    return settings.data_dir / "prompts" / "web" / f"{key}.mp3"


def web_audio_url(settings: Settings, key: str) -> str | None:
    """The absolute URL of a prompt's web audio, or None when it has not been built."""
    if not web_audio_path(settings, key).is_file():
        return None
    base = (settings.public_url or request.url_root).rstrip("/")
    return f"{base}/prompts/{key}.mp3"


@blueprint.get("/prompts/<key>.mp3")
def prompt_file(key: str):
    if not _KEY.match(key):
        abort(404)
    path = web_audio_path(current_app.extensions["tongdai"].settings, key)
    if not path.is_file():
        abort(404)
    return send_file(path.resolve(), mimetype="audio/mpeg", max_age=3600)
