"""The audit log for supervisors: who viewed or changed what, newest first.

Filters: the actor (a username is enough for staff), the action (an exact code, or a family
such as "recording" for every recording.*), and a range of local days. Pages by keyset on the
id (`before`), never by OFFSET.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from admin.auth import role_required, runtime
from admin.query import QueryReader, day_problem
from intake.audit import AuditFilters, audit_page
from intake.models import Role
from reports.statistics import utc_bounds

blueprint = Blueprint("audit", __name__, url_prefix="/admin")
PAGE = 50
ACTION_LABELS = {
    "login": "Đăng nhập",
    "login.locked": "Khoá tài khoản do nhập sai mật khẩu",
    "dossier.changed": "Thay đổi hồ sơ",
    "citizen_id.viewed": "Xem số căn cước",
    "recording.viewed": "Nghe bản ghi âm",
    "recording.deleted": "Xoá bản ghi âm",
    "draft.deleted": "Xoá hồ sơ khai dở",
    "callback.closed": "Đóng yêu cầu gọi lại",
    "sms.retried": "Gửi lại tin nhắn",
    "sms.manual_queued": "Gửi tin nhắn thủ công",
    "staff_user.created": "Tạo người dùng",
    "staff_user.enabled": "Mở khoá người dùng",
    "staff_user.disabled": "Khoá người dùng",
    "staff_user.password_reset": "Đặt lại mật khẩu",
    "staff_user.role_changed": "Đổi vai trò",
    "calendar.day_added": "Thêm ngày vào lịch làm việc",
    "calendar.day_removed": "Bỏ ngày khỏi lịch làm việc",
}
ACTOR_LABELS = {"scheduler": "Bộ lập lịch", "ivr": "Tổng đài tự động", "sms": "Tin nhắn đến"}
TARGET_LABELS = {
    "dossier": "Hồ sơ",
    "recording": "Bản ghi âm",
    "staff_user": "Người dùng",
    "notice": "Tin nhắn",
    "callback_request": "Yêu cầu gọi lại",
    "calendar_day": "Ngày trong lịch",
    "spool_file": "Tệp ghi âm tạm",
}


def actor_label(actor: str) -> str:
    if actor.startswith("staff:"):
        return actor.removeprefix("staff:")
    return ACTOR_LABELS.get(actor, actor)


def details_text(details: dict) -> str:
    return "; ".join(f"{key}: {value}" for key, value in (details or {}).items())


@blueprint.get("/audit")
@role_required(Role.SUPERVISOR)
def index():
    args = request.args
    reader = QueryReader(args)
    values = {
        "actor": reader.text("actor", "Người thực hiện"),
        "action": reader.text("action", "Hành động"),
        "start": args.get("start", "").strip(),
        "end": args.get("end", "").strip(),
    }
    before = reader.id_cursor("before")
    errors: dict[str, str] = {}
    days = {}
    for name in ("start", "end"):
        if values[name]:
            days[name], problem = day_problem(values[name])
            if problem:
                errors[name] = problem
    if days.get("start") and days.get("end") and days["end"] < days["start"]:
        errors["end"] = "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu."
    zone = runtime().settings.zone
    since = until = None
    if not errors:
        if days.get("start"):
            since = utc_bounds(days["start"], days["start"], zone)[0]
        if days.get("end"):
            until = utc_bounds(days["end"], days["end"], zone)[1]
    filters = {k: v for k, v in values.items() if v}
    status = reader.flash_problems()
    if errors:
        return render_template(
            "admin/audit.html",
            rows=[],
            values=values,
            errors=errors,
            filters=filters,
            next_before="",
            first=True,
            actions=ACTION_LABELS,
        ), 400
    wanted = AuditFilters(actor=values["actor"], action=values["action"], since=since, until=until)
    with runtime().sessions() as session:
        rows = audit_page(session, wanted, before=before, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render_template(
        "admin/audit.html",
        rows=rows,
        values=values,
        errors=errors,
        filters=filters,
        next_before=str(rows[-1].id) if more and rows else "",
        first=before is None,
        actions=ACTION_LABELS,
        action_label=lambda code: ACTION_LABELS.get(code, code),
        actor_label=actor_label,
        target_label=lambda kind: TARGET_LABELS.get(kind, kind),
        details_text=details_text,
    ), status
