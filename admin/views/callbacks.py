"""Callers to phone back: the IVR could not help them, or no operator could take the call."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from admin.auth import login_required, now, runtime
from intake import dossier_queries
from intake.audit import record
from ivr import queries as ivr_queries
from ivr.models import CallbackRequest

blueprint = Blueprint("callbacks", __name__, url_prefix="/admin/callbacks")
OPEN_LIMIT = 200
CLOSED_LIMIT = 50
NOTE_MAX = 2000

# The IVR step where a caller gave up after too many wrong answers ("failures:<step>").
STEPS = {
    "resume_offer": "chọn tiếp tục hồ sơ đang khai",
    "main_menu": "chọn dịch vụ",
    "licence_variant": "chọn cấp mới hay cấp lại",
    "reissue_reason": "lý do cấp lại",
    "vessel_digits": "nhập số tàu",
    "vessel_confirm": "xác nhận số tàu",
    "vessel_province": "đọc tỉnh đăng ký tàu",
    "citizen_id": "nhập số căn cước",
    "citizen_id_confirm": "xác nhận số căn cước",
    "owner_name": "đọc họ tên",
    "address": "đọc địa chỉ",
    "delivery": "chọn cách nhận kết quả",
    "phone_own": "xác nhận số nhận tin",
    "phone_digits": "nhập số nhận tin",
    "phone_confirm": "xác nhận số nhận tin",
    "summary": "xác nhận thông tin hồ sơ",
    "summary_edit": "chọn thông tin cần sửa",
    "review": "nghe lại hoặc nói lại câu trả lời",
    "review_playback": "nghe lại hoặc nói lại câu trả lời",
    "operator_unanswered": "chọn để lại lời nhắn hay quay lại",
    "status_query": "nhập mã hồ sơ cần tra cứu",
    "status_verify": "nhập 4 số cuối căn cước khi tra cứu",
}
REASONS = {
    "operator_closed": "Gọi ngoài giờ làm việc, để lại lời nhắn",
    "operator_busy": "Tổng đài viên bận máy, để lại lời nhắn",
    "operator_no_answer": "Tổng đài viên không nghe máy, để lại lời nhắn",
    "duplicate": "Tàu đã có hồ sơ cùng thủ tục đang giải quyết; người gọi không khớp số căn cước",
    "operator_message": "Để lại lời nhắn cho tổng đài viên",
    "codes_exhausted": "Hết khoảng số hồ sơ của ngày: hồ sơ nháp chưa được cấp mã, cần nộp lại",
}


def reason_text(reason: str) -> str:
    if reason.startswith("failures:"):
        step = reason.split(":", 1)[1]
        return f"Không thao tác được ở bước «{STEPS.get(step, step)}»"
    return REASONS.get(reason, reason)


def _related(session: Session, rows: list[CallbackRequest]):
    recording_ids = {r.recording_id for r in rows if r.recording_id}
    dossier_ids = {r.dossier_id for r in rows if r.dossier_id}
    recordings = ivr_queries.recordings_by_id(session, recording_ids)
    dossiers = dossier_queries.dossiers_by_id(session, dossier_ids)
    return recordings, dossiers


def _page(errors: dict[int, str] | None = None, notes: dict[int, str] | None = None):
    with runtime().sessions() as session:
        # The one waiting longest comes first.
        open_rows = ivr_queries.open_callback_requests(session, OPEN_LIMIT + 1)
        closed_rows = ivr_queries.closed_callback_requests(session, CLOSED_LIMIT)
        recordings, dossiers = _related(session, open_rows + closed_rows)
    return render_template(
        "admin/callbacks.html",
        open_rows=open_rows[:OPEN_LIMIT],
        more_open=len(open_rows) > OPEN_LIMIT,
        closed_rows=closed_rows,
        recordings=recordings,
        dossiers=dossiers,
        reason_text=reason_text,
        errors=errors or {},
        notes=notes or {},
        note_max=NOTE_MAX,
    ), 400 if errors else 200


@blueprint.get("")
@login_required
def index():
    return _page()


@blueprint.post("/<int:callback_id>/close")
@login_required
def close(callback_id: int):
    note = request.form.get("note", "").strip()
    if not note:
        return _page(
            errors={callback_id: "Ghi lại kết quả gọi lại trước khi đóng."},
            notes={callback_id: note},
        )
    if len(note) > NOTE_MAX:
        return _page(
            errors={callback_id: f"Ghi chú tối đa {NOTE_MAX} ký tự."}, notes={callback_id: note}
        )
    current = now()
    with runtime().sessions() as session, session.begin():
        row = session.get(CallbackRequest, callback_id, with_for_update=True)
        if row is None:
            abort(404)
        if row.closed_at is not None:
            flash(f"Yêu cầu này đã được {row.closed_by} đóng trước đó.", "info")
            return redirect(url_for("callbacks.index"))
        row.closed_at = current
        row.closed_by = g.user.username
        row.note = note
        record(
            session,
            actor=f"staff:{g.user.username}",
            action="callback.closed",
            now=current,
            target_type="callback_request",
            target_id=str(row.id),
            details={"dossier": row.dossier_id, "reason": row.reason},
        )
    flash("Đã đóng yêu cầu gọi lại.", "success")
    return redirect(url_for("callbacks.index"))
