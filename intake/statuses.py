"""The vocabularies of a dossier: status (with national codes), channel, delivery."""

from __future__ import annotations

from enum import StrEnum


class DossierStatus(StrEnum):
    DRAFT = "draft"  # a call in progress or abandoned; not yet a dossier
    RECEIVED = "received"
    ACCEPTED = "accepted"
    IN_PROCESS = "in_process"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PAYMENT_REQUESTED = "payment_requested"
    RESULT_READY = "result_ready"
    RETURNED = "returned"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    STOPPED = "stopped"

    @property
    def national_code(self) -> int | None:
        """The code used to synchronise with the national portal (None for a draft)."""
        return NATIONAL_CODES[self]

    @property
    def label(self) -> str:
        return LABELS[self]


NATIONAL_CODES: dict[DossierStatus, int | None] = {
    DossierStatus.DRAFT: None,
    DossierStatus.RECEIVED: 1,
    DossierStatus.ACCEPTED: 2,
    DossierStatus.REFUSED: 3,
    DossierStatus.IN_PROCESS: 4,
    DossierStatus.SUPPLEMENT_REQUESTED: 5,
    DossierStatus.PAYMENT_REQUESTED: 6,
    DossierStatus.WITHDRAWN: 7,
    DossierStatus.STOPPED: 8,
    DossierStatus.RESULT_READY: 9,
    DossierStatus.RETURNED: 10,
}

LABELS: dict[DossierStatus, str] = {
    DossierStatus.DRAFT: "Đang khai báo",
    DossierStatus.RECEIVED: "Mới tiếp nhận",
    DossierStatus.ACCEPTED: "Đã tiếp nhận hợp lệ",
    DossierStatus.IN_PROCESS: "Đang xử lý",
    DossierStatus.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
    DossierStatus.PAYMENT_REQUESTED: "Yêu cầu nghĩa vụ tài chính",
    DossierStatus.RESULT_READY: "Đã có kết quả",
    DossierStatus.RETURNED: "Đã trả kết quả",
    DossierStatus.REFUSED: "Không tiếp nhận",
    DossierStatus.WITHDRAWN: "Công dân rút hồ sơ",
    DossierStatus.STOPPED: "Dừng xử lý",
}

# Statuses after which nothing more happens to a dossier.
FINAL_STATUSES = frozenset(
    {
        DossierStatus.RETURNED,
        DossierStatus.REFUSED,
        DossierStatus.WITHDRAWN,
        DossierStatus.STOPPED,
    }
)


# "Open" is three rules, each for its own question (SQL forms in intake/dossier_queries.py):
# in the staff queue: submitted and not finished (the queue's default list, the dashboard's count);
OPEN_STATUSES = tuple(
    s for s in DossierStatus if s not in FINAL_STATUSES and s is not DossierStatus.DRAFT
)
# still being worked: open and the result not ready, so a promised date can still be missed
# ("overdue" and "due soon" on the queue and the dashboard);
IN_WORK_STATUSES = tuple(s for s in OPEN_STATUSES if s is not DossierStatus.RESULT_READY)
# the legal clock runs: in work but not waiting for the citizen's supplement (that wait stops
# the clock), so a late one is owed an apology (the scheduler's automatic apology).
CLOCK_RUNNING_STATUSES = tuple(
    s for s in IN_WORK_STATUSES if s is not DossierStatus.SUPPLEMENT_REQUESTED
)


class Channel(StrEnum):
    PHONE = "phone"
    COUNTER = "counter"
    ONLINE = "online"
    POST = "post"


class Delivery(StrEnum):
    POST = "post"  # result posted to the applicant's home
    COLLECT = "collect"  # collected at the centre


class Timeliness(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"
