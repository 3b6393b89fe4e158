"""Every reason the IVR records on a callback request reads as a sentence on the staff page."""

from __future__ import annotations

import pytest

from admin.views.callbacks import reason_text


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ("operator_closed", "Gọi ngoài giờ làm việc, để lại lời nhắn"),
        ("operator_busy", "Tổng đài viên bận máy, để lại lời nhắn"),
        ("operator_no_answer", "Tổng đài viên không nghe máy, để lại lời nhắn"),
        ("duplicate", "Tàu đã có hồ sơ cùng thủ tục đang giải quyết"),
        ("failures:summary_edit", "Không thao tác được ở bước «chọn thông tin cần sửa»"),
    ],
)
def test_each_ivr_reason_is_told_to_staff_in_words(reason, text):
    assert reason_text(reason).startswith(text)
