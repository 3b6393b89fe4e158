"""The phone calls: who called, how it ended, what it produced, and what they said.

Pages by keyset on the id (newest first), like the dossier queue: never OFFSET.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request

from admin.auth import login_required, runtime
from admin.query import FIRST_DAY, LAST_DAY, OUT_OF_RANGE_DATE, QueryReader
from intake import dossier_queries
from intake.models import Dossier
from ivr import queries as ivr_queries
from ivr.models import CallLog, IvrCall, Recording
from ivr.queries import CallFilters

blueprint = Blueprint("calls", __name__, url_prefix="/admin/calls")
PAGE = 50

OUTCOMES = {
    "submitted": "Nộp hồ sơ",
    "status": "Tra cứu hồ sơ",
    "operator": "Gặp tổng đài viên",
    "callback": "Hẹn gọi lại",
    "abandoned": "Bỏ dở khi đang khai",
    "hangup": "Gác máy",
}
END_REASONS = {
    "completed": "Kết thúc bình thường",
    "hangup": "Người gọi gác máy",
    "busy": "Máy bận",
    "no-answer": "Không trả lời",
    "failed": "Cuộc gọi lỗi",
    "canceled": "Đã huỷ",
    "agi_error": "Lỗi kết nối tổng đài (AGI)",
    "server_error": "Lỗi máy chủ",
}
# Q.850 causes as Asterisk's manager reports them; others are shown as Asterisk names them.
CAUSES = {
    1: "Số không tồn tại",
    16: "Kết thúc bình thường",
    17: "Máy bận",
    18: "Không phản hồi",
    19: "Không trả lời",
    21: "Bị từ chối",
    27: "Máy đích hỏng",
    28: "Số sai định dạng",
    31: "Kết thúc bình thường",
    34: "Hết kênh",
    38: "Mạng lỗi",
    41: "Lỗi tạm thời",
    127: "Lỗi liên mạng",
}
RECORDING_PURPOSES = {
    "owner_name_recording": "Họ tên chủ tàu",
    "address_recording": "Địa chỉ",
    "vessel_province_recording": "Tỉnh đăng ký tàu",
    "operator_message": "Lời nhắn",
}


def end_text(call: IvrCall, log: CallLog | None) -> str:
    parts = []
    if call.end_reason:
        parts.append(END_REASONS.get(call.end_reason, call.end_reason))
    if log is not None and (log.cause is not None or log.cause_txt):
        cause = CAUSES.get(log.cause) if log.cause is not None else None
        parts.append(f"tổng đài: {cause or log.cause_txt or log.cause}")
    return "; ".join(parts)


def duration_text(call: IvrCall) -> str:
    seconds = call.duration_seconds
    if seconds is None and call.ended_at is not None:
        seconds = int((call.ended_at - call.started_at).total_seconds())
    if seconds is None:
        return ""
    return f"{seconds // 60}:{seconds % 60:02d}"


def _parse_day(raw: str) -> dt.date:
    return dt.datetime.strptime(raw.strip(), "%d/%m/%Y").date()


@blueprint.get("")
@login_required
def index():
    rt = runtime()
    zone = rt.settings.zone
    errors: dict[str, str] = {}
    started_from = started_before = None
    day_raw = request.args.get("date", "").strip()
    if day_raw:
        try:
            day = _parse_day(day_raw)
        except ValueError:
            errors["date"] = "Ngày viết theo dạng ngày/tháng/năm, ví dụ 01/12/2026."
        else:
            if not FIRST_DAY <= day <= LAST_DAY:
                errors["date"] = OUT_OF_RANGE_DATE
        if "date" not in errors:
            started_from = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
            started_before = started_from + dt.timedelta(days=1)
    outcome = request.args.get("outcome", "")
    filters = CallFilters(
        started_from=started_from,
        started_before=started_before,
        outcome=outcome if outcome == "none" or outcome in OUTCOMES else None,
    )
    reader = QueryReader(request.args)
    after = reader.id_cursor()
    status = reader.flash_problems()
    with rt.sessions() as session:
        rows = ivr_queries.calls_page(session, filters, after=after, limit=PAGE + 1)
        more = len(rows) > PAGE
        rows = rows[:PAGE]
        logs: dict[str, CallLog] = {}
        recordings: dict[int, list[Recording]] = {}
        dossiers: dict[int, Dossier] = {}
        if rows:
            logs = ivr_queries.call_logs_by_uniqueid(session, [c.provider_call_id for c in rows])
            recordings = ivr_queries.recordings_by_call(session, [c.id for c in rows])
            dossiers = dossier_queries.dossiers_by_id(
                session, {c.dossier_id for c in rows if c.dossier_id}
            )
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    return render_template(
        "admin/calls.html",
        rows=rows,
        logs=logs,
        recordings=recordings,
        dossiers=dossiers,
        end_text=end_text,
        duration=duration_text,
        outcomes=OUTCOMES,
        purposes=RECORDING_PURPOSES,
        errors=errors,
        args=args,
        next_after=str(rows[-1].id) if more and rows else "",
        first=after is None,
    ), 400 if errors else status
