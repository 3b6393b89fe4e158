"""`/api/v1/...`: the dossiers for the processing systems, and the events they send.

Every request but the OpenAPI document's is signed (api/signing.py) by an active client, within
`[api] timestamp_window_seconds` of our clock, and counted against the client's rate; every
signed call leaves one audit line (client, action, dossier, answer). Bodies are validated by the
models of api/schemas.py; every error is a problem document (api/problems.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import mimetypes
import re

from flask import Blueprint, Flask, Response, current_app, g, request, send_file, url_for
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import event as sa_event
from werkzeug.exceptions import HTTPException

from api import openapi
from api.clients import SecretBox, active_client, count_request, seconds_to_next_window
from api.dossiers import dossier_answers
from api.events import Caller, apply_event, digest
from api.problems import ApiProblem
from api.schemas import CODE_PATTERN, DossierQuery, Event, FieldError, ProblemType
from api.signing import (
    CLIENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    matches,
    request_target,
)
from intake import dossier_queries
from intake.audit import record
from intake.models import Dossier
from intake.runtime import Runtime
from ivr import queries as ivr_queries
from ivr.models import RecordingStatus
from plumbing.db import INTEGER_MAX

log = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
EVENTS = TypeAdapter(Event)
EVENT_TYPES = frozenset({"status", "new_due_date", "dispatched_by_post"})
CLIENT_ID = re.compile(r"tdc_[0-9a-f]{16}")
CODE = re.compile(CODE_PATTERN)
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
WRITE_ENDPOINTS = frozenset({"api.post_event"})


def init_app(app: Flask) -> None:
    app.extensions["tongdai_api_secrets"] = SecretBox(
        app.extensions["tongdai"].settings.api_secrets_key
    )
    app.register_blueprint(blueprint)


def runtime() -> Runtime:
    return current_app.extensions["tongdai"]


# ---- who is calling --------------------------------------------------------------------------


def _unsigned(detail: str) -> ApiProblem:
    # RFC 9110: a 401 names the scheme the client must use.
    return ApiProblem(
        401,
        ProblemType.UNSIGNED,
        detail,
        headers={"WWW-Authenticate": 'Tongdai-HMAC-SHA256 realm="api"'},
    )


@blueprint.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    rt = runtime()
    limit = rt.settings.api.max_body_kib * 1024
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise ApiProblem(413, ProblemType.TOO_LARGE, f"Nội dung tối đa {limit} byte.")
    public_id = request.headers.get(CLIENT_HEADER, "")
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    sent = request.headers.get(SIGNATURE_HEADER, "")
    if not (public_id and stamp and sent):
        raise _unsigned(f"Thiếu {CLIENT_HEADER}, {TIMESTAMP_HEADER} hoặc {SIGNATURE_HEADER}.")
    if not CLIENT_ID.fullmatch(public_id):
        raise _unsigned(f"{CLIENT_HEADER} không đúng dạng tdc_<16 chữ số hex>.")
    now = rt.clock.now()
    window = rt.settings.api.timestamp_window_seconds
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise _unsigned(f"{TIMESTAMP_HEADER} là số giây Unix.")
    if abs(now.timestamp() - int(stamp)) > window:
        raise _unsigned(f"{TIMESTAMP_HEADER} lệch quá {window} giây so với đồng hồ máy chủ.")
    body = request.get_data(cache=True)
    with rt.sessions() as session, session.begin():
        client = active_client(session, public_id)
        secret = None
        if client is not None:
            secret = current_app.extensions["tongdai_api_secrets"].open(client.secret_encrypted)
            if secret is None:
                log.error("api: the secret of client %s opens with no key we hold", client.name)
        target = request_target(request.environ)
        if secret is None or not matches(secret, stamp, request.method, target, body, sent):
            log.warning("api: bad signature or unknown client on %s %s", request.method,
                        request.path)  # fmt: skip
            raise _unsigned(
                "Chữ ký không hợp lệ, hoặc hệ thống gọi không tồn tại hay đã bị thu hồi."
            )
        count = count_request(session, client.id, now)
        allowed = client.rate_per_minute or rt.settings.api.rate_per_minute
        g.api_caller = Caller(client.id, client.name)
        scope = client.scope
    g.api_audit = {}
    if count > allowed:
        raise ApiProblem(
            429,
            ProblemType.RATE_LIMITED,
            f"Tối đa {allowed} yêu cầu mỗi phút.",
            headers={"Retry-After": str(seconds_to_next_window(now))},
        )
    if request.endpoint in WRITE_ENDPOINTS and not scope.may_write:
        raise ApiProblem(403, ProblemType.FORBIDDEN, "Hệ thống này chỉ được đọc (scope read).")


def _audit_call(session, status: int, *, with_commit: bool = False) -> None:
    """The audit line of this call: client, action, dossier, answer. `with_commit`: it rides
    in the caller's transaction, and counts as written only once that commits."""
    caller: Caller = g.api_caller
    record(
        session,
        actor=caller.actor.name,
        action=f"api.{(request.endpoint or 'unknown').removeprefix('api.')}"[:40],
        now=runtime().clock.now(),
        target_type="dossier",
        target_id=_code_asked() or "",
        details={"method": request.method, "status": status, **g.get("api_audit", {})},
    )
    if not with_commit:
        g.api_audited = True
        return

    def written(_session) -> None:
        g.api_audited = True

    sa_event.listen(session, "after_commit", written, once=True)


@blueprint.after_request
def _audit(response: Response) -> Response:
    if g.get("api_caller") is None or g.get("api_audited"):
        return response
    with runtime().sessions() as session, session.begin():
        _audit_call(session, response.status_code)
    return response


def _code_asked() -> str | None:
    """The dossier code in the address, if it has the form of one (anything else, a NUL
    included, never reaches a query or the audit log)."""
    code = (request.view_args or {}).get("code")
    return code if code is not None and CODE.fullmatch(code) else None


@blueprint.errorhandler(ApiProblem)
def _problem(problem: ApiProblem):
    return problem.response()


@blueprint.errorhandler(HTTPException)
def _http_problem(error: HTTPException):
    return http_problem(error)


def http_problem(error: HTTPException) -> Response:
    """A werkzeug error (404 of an unknown path, 405, 413 of a body cut off) under /api/."""
    kinds = {
        404: ProblemType.NOT_FOUND,
        405: ProblemType.METHOD,
        413: ProblemType.TOO_LARGE,
        414: ProblemType.TOO_LARGE,
    }
    kind = kinds.get(error.code or 400, ProblemType.INVALID)
    status = error.code if error.code in kinds else 400
    response = ApiProblem(status, kind, error.description or error.name).response()
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


# ---- the answers -----------------------------------------------------------------------------


def _json(payload: object, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status, mimetype="application/json")


def _recording_url(dossier: Dossier, recording_id: int) -> str:
    return url_for("api.recording", code=dossier.code, recording_id=recording_id)


def _answers(session, rows: list[Dossier]) -> list[dict]:
    answers = dossier_answers(session, rows, runtime().settings, _recording_url)
    return [answer.model_dump(mode="json") for answer in answers]


@blueprint.get("/openapi.json")
def openapi_document():
    return _json(openapi.document())


@blueprint.get("/dossiers/<code>")
def dossier(code: str):
    with runtime().sessions() as session:
        found = dossier_queries.submitted_by_code(session, code) if _code_asked() else None
        if found is None:
            raise ApiProblem(404, ProblemType.NOT_FOUND, f"Không có hồ sơ mã {code!r}.")
        return _json(_answers(session, [found])[0])


def _bad_query(field: str, message: str) -> ApiProblem:
    return ApiProblem(
        400, ProblemType.INVALID, message, errors=[FieldError(field=field, message=message)]
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # year 1 or 9999 with an offset: before or after anything stored
        edge = dt.datetime.min if moment.year == 1 else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def _invalid(exc: ValidationError, detail: str) -> ApiProblem:
    errors = [
        FieldError(field=_field_name(e["loc"]), message=e["msg"])
        for e in exc.errors(include_url=False)
    ]
    return ApiProblem(400, ProblemType.INVALID, detail, errors=errors)


def encode_cursor(dossier: Dossier) -> str:
    raw = f"{dossier.updated_at.astimezone(dt.UTC).isoformat()}|{dossier.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        moment, ident = raw.split("|")
        number = int(ident)
        when = dt.datetime.fromisoformat(moment)
        if not 0 < number <= INTEGER_MAX or when.tzinfo is None:
            raise ValueError(ident)
        return _utc(when), number
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise _bad_query(
            "cursor", "cursor không hợp lệ: dùng next_cursor của trang trước."
        ) from None


@blueprint.get("/dossiers")
def dossiers():
    rt = runtime()
    try:
        query = DossierQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise _invalid(exc, "Tham số không hợp lệ; xem errors.") from None
    since = _utc(query.changed_since) if query.changed_since is not None else None
    after = _decode_cursor(query.cursor) if query.cursor else None
    external = query.external_code
    size = rt.settings.api.page_size
    with rt.sessions() as session:
        if external is not None:
            rows = dossier_queries.submitted_by_external_code(session, external)[:size]
            more = False
        else:
            rows = dossier_queries.changed_page(session, since=since, after=after, limit=size + 1)
            more = len(rows) > size
            rows = rows[:size]
        items = _answers(session, rows)
    g.api_audit = {"codes": [item["code"] for item in items]}
    return _json({"items": items, "next_cursor": encode_cursor(rows[-1]) if more else None})


@blueprint.post("/dossiers/<code>/events")
def post_event(code: str):
    try:
        payload = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise _bad_query("body", "Nội dung phải là JSON.") from None
    try:
        event = EVENTS.validate_python(payload)
    except ValidationError as exc:
        raise _invalid(exc, "Sự kiện không hợp lệ; xem errors.") from None
    g.api_audit = {"event_id": event.event_id, "type": event.type}
    rt = runtime()
    if _code_asked() is None:
        raise ApiProblem(404, ProblemType.NOT_FOUND, f"Không có hồ sơ mã {code!r}.")

    def answer(session, dossier: Dossier) -> dict:
        # An applied event's audit line commits with it: one transaction fewer per event.
        _audit_call(session, 200, with_commit=True)
        return _answers(session, [dossier])[0]

    return _json(apply_event(rt, g.api_caller, code, event, digest(code, payload), answer))


def _field_name(loc: tuple) -> str:
    """`status.actor.name` -> `actor.name`: pydantic puts the event's type first."""
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in EVENT_TYPES:
        parts = parts[1:]
    return ".".join(parts) or "body"


@blueprint.get("/dossiers/<code>/recordings/<int:recording_id>")
def recording(code: str, recording_id: int):
    rt = runtime()
    g.api_audit = {"recording": recording_id}
    with rt.sessions() as session:
        found = dossier_queries.submitted_by_code(session, code) if _code_asked() else None
        heard = (
            ivr_queries.recording_of_dossier(session, found.id, recording_id)
            if found is not None and recording_id <= INTEGER_MAX
            else None
        )
        if heard is None or heard.status is not RecordingStatus.STORED or not heard.path:
            raise ApiProblem(404, ProblemType.NOT_FOUND, "Không có bản ghi âm này.")
        path = (rt.settings.data_dir / heard.path).resolve()
    if not path.is_relative_to(rt.settings.data_dir.resolve()) or not path.is_file():
        raise ApiProblem(404, ProblemType.NOT_FOUND, "Bản ghi âm không còn trên máy chủ.")
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return send_file(path, mimetype=mimetype, conditional=True, max_age=0)
