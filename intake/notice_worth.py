"""Is a notice still worth saying? One rule for every place that asks it.

A notice is queued when something happens to a dossier; it may be said (by a phone call, when
its SMS could not reach the citizen) hours or days later. By then the dossier may have moved on,
and the notice would be wrong, or pointless:
- "your result is ready" (or "was sent by post") once the result has been collected or
  delivered, or the dossier has ended;
- "papers are missing" once the papers arrived (the dossier left "supplement requested");
- "sorry, the result is late" once the result is out;
- any notice the citizen already received by SMS (its delivery receipt came late).

The notice-call queue asks `reason_to_drop` just before a call is placed and whenever the
dossier changes status or the SMS's receipt comes in (sms/notice_calls.py); the reason is what
staff read on the dossier and outbox pages ("Đã hủy: hồ sơ đã trả kết quả").
"""

from __future__ import annotations

from intake.statuses import FINAL_STATUSES, IN_WORK_STATUSES, DossierStatus

# The notice kinds (the SMS templates' names) whose news holds only while the dossier stands in
# these statuses. A kind not listed holds until the dossier ends.
RESULT_KINDS = frozenset({"result_ready", "result_collect", "result_post", "result_post_untracked"})
HOLDS_WHILE: dict[str, frozenset[DossierStatus]] = {
    **{kind: frozenset({DossierStatus.RESULT_READY}) for kind in RESULT_KINDS},
    "supplement": frozenset({DossierStatus.SUPPLEMENT_REQUESTED}),
    "apology": frozenset(IN_WORK_STATUSES),
}

ALREADY_RECEIVED = "tin nhắn đã đến"
RESULT_OUT = "hồ sơ đã có kết quả"
RESULT_RETURNED = "hồ sơ đã trả kết quả"
PAPERS_ARRIVED = "đã nhận giấy tờ bổ sung"


def reason_to_drop(kind: str, status: DossierStatus | None, *, received: bool) -> str | None:
    """None while the notice of `kind` is still worth saying to the citizen of a dossier now in
    `status` (None: no dossier); else why not, in Vietnamese for staff. `received`: the
    citizen's phone already acknowledged the SMS of this notice."""
    if received:
        return ALREADY_RECEIVED
    if status is None:
        return None
    holds = HOLDS_WHILE.get(kind)
    if holds is None:
        holds = frozenset(s for s in DossierStatus if s not in FINAL_STATUSES)
    if status in holds:
        return None
    if status is DossierStatus.RETURNED:
        return RESULT_RETURNED
    if kind == "apology" and status is DossierStatus.RESULT_READY:
        return RESULT_OUT
    if kind == "supplement" and status in IN_WORK_STATUSES:
        return PAPERS_ARRIVED
    return f"hồ sơ đã chuyển sang «{status.label}»"
