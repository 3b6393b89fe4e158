"""The first page after log-in: today's calls, the work waiting, alerts, the last two weeks."""

from __future__ import annotations

from flask import Blueprint, render_template

from admin.auth import login_required, now, runtime
from admin.charts import Series, bar_chart
from reports import statistics

blueprint = Blueprint("dashboard", __name__, url_prefix="/admin")


@blueprint.get("/")
@login_required
def index():
    rt = runtime()
    with rt.sessions() as session:
        board = statistics.dashboard(session, rt.settings, rt.calendar(), now())
    chart = bar_chart(
        f"Hồ sơ {statistics.SERIES_DAYS} ngày gần nhất",
        [f"{day:%d/%m}" for day in board.days],
        [
            Series("Tiếp nhận", board.received_per_day),
            Series("Đã có kết quả", board.resolved_per_day),
        ],
        x_label="Ngày",
        y_label="Số hồ sơ",
        width=640,
        height=300,
    )
    return render_template(
        "admin/dashboard.html",
        board=board,
        chart=chart,
        percent=statistics.format_percent,
        alert_kinds=ALERT_KINDS,
    )


ALERT_KINDS = {
    "auto_apology": "Tự động xin lỗi trễ hạn",
    "notice_failed": "Tin nhắn không gửi được",
    "supervisor_alert": "Cảnh báo",
    "notices_failing": "Tin nhắn lỗi nhiều",
    "sms_backlog": "Tin nhắn tồn đọng",
    "notice_calls_failed": "Gọi báo tin không được",
    "scheduler_no_leader": "Bộ lập lịch dừng",
}
