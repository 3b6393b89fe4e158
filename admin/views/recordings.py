"""Call recordings, for logged-in staff only: never from a public path, every playback logged."""

from __future__ import annotations

import mimetypes

from flask import Blueprint, abort, g, send_file

from admin.auth import login_required, now, runtime
from intake.audit import record
from ivr.models import Recording, RecordingStatus

blueprint = Blueprint("recordings", __name__, url_prefix="/admin/recordings")


@blueprint.get("/<int:recording_id>")
@login_required
def play(recording_id: int):
    rt = runtime()
    with rt.sessions() as session, session.begin():
        recording = session.get(Recording, recording_id)
        if (
            recording is None
            or recording.status is not RecordingStatus.STORED
            or not recording.path
        ):
            abort(404)
        path = (rt.settings.data_dir / recording.path).resolve()
        if not path.is_relative_to(rt.settings.data_dir.resolve()) or not path.is_file():
            abort(404)
        record(
            session,
            actor=f"staff:{g.user.username}",
            action="recording.viewed",
            now=now(),
            target_type="recording",
            target_id=str(recording.id),
            details={"dossier": recording.dossier_id, "purpose": recording.purpose},
        )
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # conditional=True: browsers seek in audio with range requests.
    return send_file(path, mimetype=mimetype, conditional=True, max_age=0)
