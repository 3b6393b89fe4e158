"""Is a notice still worth saying: the one rule the notice-call queue asks before every call and
whenever the dossier changes."""

from __future__ import annotations

import pytest

from intake.notice_worth import reason_to_drop
from intake.statuses import DossierStatus as S


@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [
        ("result_ready", S.RESULT_READY, None),
        ("result_ready", S.RETURNED, "hồ sơ đã trả kết quả"),
        ("result_collect", S.RETURNED, "hồ sơ đã trả kết quả"),
        ("result_post", S.RESULT_READY, None),  # posted, not yet delivered
        ("result_post_untracked", S.RETURNED, "hồ sơ đã trả kết quả"),
        ("supplement", S.SUPPLEMENT_REQUESTED, None),
        ("supplement", S.IN_PROCESS, "đã nhận giấy tờ bổ sung"),
        ("supplement", S.ACCEPTED, "đã nhận giấy tờ bổ sung"),
        ("supplement", S.WITHDRAWN, "hồ sơ đã chuyển sang «Công dân rút hồ sơ»"),
        ("apology", S.IN_PROCESS, None),
        ("apology", S.SUPPLEMENT_REQUESTED, None),
        ("apology", S.RESULT_READY, "hồ sơ đã có kết quả"),
        ("apology", S.RETURNED, "hồ sơ đã trả kết quả"),
        ("apology", S.STOPPED, "hồ sơ đã chuyển sang «Dừng xử lý»"),
        # A kind the rule has no table for holds until the dossier ends.
        ("inspection", S.IN_PROCESS, None),
        ("inspection", S.REFUSED, "hồ sơ đã chuyển sang «Không tiếp nhận»"),
        ("result_ready", None, None),  # no dossier to move on
    ],
)
def test_a_notice_holds_only_while_its_dossier_stands_where_the_news_left_it(kind, status, reason):
    assert reason_to_drop(kind, status, received=False) == reason


def test_a_notice_the_citizen_received_by_sms_is_not_said_again():
    assert reason_to_drop("result_ready", S.RESULT_READY, received=True) == "tin nhắn đã đến"
