"""Vietnamese names for the codes staff see (notice kinds and statuses, how calls ended)."""

from __future__ import annotations

NOTICE_KINDS = {
    "receipt": "Tiếp nhận",
    "result_collect": "Có kết quả sớm (mời nhận)",
    "result_post": "Đã gửi bưu điện",
    "supplement": "Yêu cầu bổ sung",
    "apology": "Xin lỗi, hẹn lại",
    "reminder": "Nhắc nhận kết quả",
    "refused": "Không tiếp nhận",
    "withdrawn": "Rút hồ sơ",
    "stopped": "Dừng xử lý",
    "survey": "Khảo sát",
    "status_reply": "Trả lời tra cứu",
    "not_found": "Không tìm thấy",
    "help": "Hướng dẫn",
    "opted_out": "Từ chối tin",
    "opted_in": "Đăng ký lại",
    "rating_thanks": "Cảm ơn đánh giá",
    "supervisor_alert": "Cảnh báo lãnh đạo",
    "manual": "Tin nhắn tay",
}
NOTICE_STATUSES = {
    "pending": "Chờ gửi",
    "sending": "Đang gửi",
    "sent": "Đã gửi",
    "delivered": "Đã nhận",
    "undelivered": "Không đến máy",
    "failed": "Lỗi",
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
