"""Which prompts Twilio should <Play> (human recordings only), and the route that serves them.

The order of preference (docs/domain.md, "Voices"): a human recording; on Twilio, <Say> with a
Google vi-VN voice; last, espeak-ng. So on Twilio only prompts voiced by a person are played from
files. Prompts are the centre's own words, not personal data, so they are served without log-in
(Twilio fetches them); callers' recordings never are.
"""

from __future__ import annotations

import re
import threading
import time

from flask import Blueprint, abort, current_app, request, send_file

from ivr.audio import PromptFiles
from plumbing.settings import Settings

blueprint = Blueprint("prompt_audio", __name__)
_KEY = re.compile(r"^[A-Za-z0-9_]+$")
_cache_lock = threading.Lock()
# data folder -> (when last looked at, manifest mtime or None when absent, recorded keys)
_cache: dict[str, tuple[float, float | None, frozenset[str]]] = {}
_CHECK_SECONDS = 2.0


def recorded_keys(settings: Settings) -> frozenset[str]:
    """Keys whose built web audio is a human recording. The manifest (or its absence) is looked
    at again at most every couple of seconds, not once per prompt part of every webhook."""
    folder = str(settings.data_dir)
    now = time.monotonic()
    cached = _cache.get(folder)
    if cached is not None and now - cached[0] < _CHECK_SECONDS:
        return cached[2]
    files = PromptFiles.of(settings)
    try:
        stamp: float | None = files.manifest_path.stat().st_mtime
    except FileNotFoundError:
        stamp = None
    with _cache_lock:
        cached = _cache.get(folder)
        if cached is not None and cached[1] == stamp:
            keys = cached[2]
        elif stamp is None:
            keys = frozenset()
        else:
            manifest = files.manifest()
            keys = frozenset(k for k, v in manifest.items() if v.get("source") == "recorded")
        _cache[folder] = (now, stamp, keys)
    return keys


def web_audio_url(settings: Settings, key: str) -> str | None:
    """The absolute URL of a human-recorded prompt, or None (then Twilio uses <Say>)."""
    if key not in recorded_keys(settings):
        return None
    base = (settings.public_url or request.url_root).rstrip("/")
    return f"{base}/prompts/{key}.mp3"


@blueprint.get("/prompts/<key>.mp3")
def prompt_file(key: str):
    if not _KEY.match(key):
        abort(404)
    path = PromptFiles.of(current_app.extensions["tongdai"].settings).web_file(key)
    if not path.is_file():
        abort(404)
    return send_file(path.resolve(), mimetype="audio/mpeg", max_age=3600)
