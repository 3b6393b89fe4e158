"""Every error of the API in one shape: RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

import json

from flask import Response, request

from api.schemas import FieldError, Problem, ProblemType

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://tongdai.invalid/problems/"  # names, not pages: RFC 9457 allows either

TITLES = {
    ProblemType.INVALID: "Yêu cầu không hợp lệ",
    ProblemType.UNSIGNED: "Chưa xác thực",
    ProblemType.FORBIDDEN: "Không có quyền",
    ProblemType.NOT_FOUND: "Không tìm thấy",
    ProblemType.TRANSITION: "Không thể chuyển trạng thái",
    ProblemType.OVERRIDE: "Cần lãnh đạo phê duyệt trên trang quản trị",
    ProblemType.CONFLICT: "Xung đột cập nhật",
    ProblemType.TOO_LARGE: "Nội dung quá lớn",
    ProblemType.EVENT_ID_REUSED: "Mã sự kiện đã dùng cho nội dung khác",
    ProblemType.RATE_LIMITED: "Gửi quá nhiều yêu cầu",
    ProblemType.METHOD: "Phương thức không được hỗ trợ",
}


class ApiProblem(Exception):
    """Raised anywhere in a request of the API; answered as a problem document."""

    def __init__(
        self,
        status: int,
        kind: ProblemType,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        current_status: str | None = None,
        allowed: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.problem = Problem(
            type=TYPE_BASE + kind.value,
            title=TITLES[kind],
            status=status,
            detail=detail,
            instance=request.path if request else None,
            errors=errors,
            current_status=current_status,
            allowed=allowed,
        )
        self.headers = headers or {}

    def response(self) -> Response:
        body = self.problem.model_dump(mode="json", exclude_none=True)
        response = Response(json.dumps(body, ensure_ascii=False), self.status, mimetype=MEDIA_TYPE)
        response.headers.update(self.headers)
        return response
