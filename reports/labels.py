"""Vietnamese names for the codes staff see (notice kinds and statuses, how calls ended)."""

from __future__ import annotations

import datetime as dt

# One name per notice kind and status on every page: the queue, the outbox and its filters,
# the dashboard and the report.
NOTICE_KINDS = {
    "receipt": "Tiếp nhận hồ sơ",
    "result_collect": "Có kết quả sớm (nhận tại Trung tâm)",
    "result_ready": "Có kết quả (nhận tại Trung tâm)",
    "result_post": "Đã gửi kết quả qua bưu điện",
    "result_post_untracked": "Đã gửi kết quả qua bưu điện (chưa có mã bưu gửi)",
    "supplement": "Yêu cầu bổ sung",
    "supplement_received": "Đã nhận bổ sung, hẹn trả mới",
    "inspection": "Hẹn kiểm tra tàu",
    "inspection_confirmed": "Xác nhận lịch kiểm tra tàu",
    "inspection_change": "Ghi nhận xin đổi lịch kiểm tra",
    "apology": "Xin lỗi, hẹn lại ngày trả",
    "reminder": "Nhắc nhận kết quả",
    "refused": "Không tiếp nhận",
    "withdrawn": "Rút hồ sơ",
    "stopped": "Dừng xử lý",
    "survey": "Khảo sát hài lòng",
    "status_reply": "Trả lời tra cứu",
    "not_found": "Không tìm thấy hồ sơ",
    "help": "Hướng dẫn",
    "opted_out": "Ngừng nhận tin",
    "opted_in": "Nhận tin trở lại",
    "rating_thanks": "Cảm ơn đánh giá",
    "supervisor_alert": "Cảnh báo lãnh đạo",
    "manual": "Gửi thủ công",
}
NOTICE_STATUSES = {
    "pending": "Chờ gửi",
    "sending": "Đang gửi",
    "sent": "Đã gửi đi",
    "delivered": "Đã đến máy",
    "undelivered": "Không đến máy",
    "failed": "Gửi lỗi",
    "unknown": "Chưa rõ",
}
CALL_ENDINGS = {
    "completed": "kết thúc bình thường",
    "hangup": "người gọi gác máy",
    "busy": "máy bận",
    "failed": "lỗi kết nối",
    "no-answer": "không trả lời",
    "canceled": "đã huỷ",
    "agi_error": "lỗi tổng đài",
    "server_error": "lỗi máy chủ",
}
CALL_ORDER_STATUSES = {
    "pending": "Đang chờ",
    "dialing": "Đang gọi",
    "done": "Đã gọi",
    "failed": "Không gọi được",
    "unknown": "Không rõ đã gọi được chưa",
}
OUTCOMES = {
    "submitted": "Nộp hồ sơ",
    "status": "Tra cứu",
    "operator": "Gặp tổng đài viên",
    "callback": "Hẹn gọi lại",
    "abandoned": "Bỏ dở",
    "hangup": "Gác máy",
}


def notice_kind(code: str) -> str:
    return NOTICE_KINDS.get(code, code)


def notice_status(code: str) -> str:
    return NOTICE_STATUSES.get(getattr(code, "value", code), code)


def call_ending(code: str | None) -> str:
    return CALL_ENDINGS.get(code or "", code or "")


def outcome(code: str | None) -> str:
    return OUTCOMES.get(code or "", code or "")


def call_order_state(order) -> str:
    """How a queued call-back stands, as staff read it: "Không gọi được: <lý do>"."""
    status = getattr(order.status, "value", order.status)
    label = CALL_ORDER_STATUSES.get(status, status)
    if status in ("failed", "unknown") and order.result:
        return f"{label}: {order.result}"
    if status == "pending" and order.attempts:
        return f"{label} (thử lại lần {order.attempts + 1}; lần trước: {order.result})"
    return label


NOTICE_CALL_STATUSES = {
    "held": "Chờ xem tin nhắn có đến không",
    "pending": "Chờ gọi",
    "dialing": "Đang quay số",
    "calling": "Đang gọi",
    "done": "Đã gọi được",
    "gave_up": "Không gọi được, đã chuyển cán bộ gọi lại",
    "not_needed": "Không cần gọi",
    "cancelled": "Đã hủy",
    "unknown": "Không rõ",
}
NOTICE_CALL_OUTCOMES = {
    "confirmed": "nghe và xác nhận",
    "answered": "nghe máy, chưa xác nhận",
    "busy": "máy bận",
    "no_answer": "không nghe máy",
    "failed": "không gọi được",
}


def notice_call_state(call) -> str:
    """How a notice call stands, as staff read it: "Chờ gọi (lần 2; lần trước: máy bận)"."""
    status = getattr(call.status, "value", call.status)
    label = NOTICE_CALL_STATUSES.get(status, status)
    outcome = getattr(call.outcome, "value", call.outcome)
    last = NOTICE_CALL_OUTCOMES.get(outcome or "", "")
    if status == "pending" and call.attempts:
        return f"{label} (lần {call.attempts + 1}; lần trước: {last})"
    if status in ("done", "gave_up") and last:
        return f"{label}: {last}, {call.attempts} lần gọi"
    if status in ("held", "pending", "not_needed", "cancelled") and call.result:
        return f"{label}: {call.result}"
    return label


def notice_call_history(call, zone) -> str:
    """Every attempt in local time: "01/12 09:00 không nghe máy; 02/12 09:00 máy bận"."""
    parts = []
    for entry in call.history or []:
        at = dt.datetime.fromisoformat(entry["at"]).astimezone(zone)
        parts.append(f"{at:%d/%m %H:%M} {NOTICE_CALL_OUTCOMES.get(entry['outcome'], '')}")
    return "; ".join(parts)
