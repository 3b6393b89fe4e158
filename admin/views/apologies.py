"""The supervisors' queue of proposed apologies: dossiers at risk of being late, each with a
reason and a new date the calendar suggests (intake/apologies.py). Approving sends the SMS."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from admin.auth import now, role_required, runtime
from intake.apologies import approve_proposal, dismiss_proposal, pending_proposals
from intake.audit import record
from intake.errors import DomainError, InvalidInput
from intake.lifecycle import Actor
from intake.models import Role

blueprint = Blueprint("apologies", __name__, url_prefix="/admin/apologies")
LIMIT = 200
REASON_MAX = 300


def _actor() -> Actor:
    return Actor.staff(g.user.username, g.user.role)


@blueprint.get("")
@role_required(Role.SUPERVISOR)
def index():
    rt = runtime()
    with rt.sessions() as session:
        rows = pending_proposals(session, LIMIT)
    procedures = rt.settings.procedures
    return render_template(
        "admin/apologies.html", rows=rows, procedures=procedures, reason_max=REASON_MAX
    )


def _decide(proposal_id: int, decide, success: str, action: str):
    try:
        with runtime().sessions() as session, session.begin():
            details = decide(session)
            record(session, actor=_actor().name, action=action, now=now(),
                   target_type="apology_proposal", target_id=str(proposal_id),
                   details=details)  # fmt: skip
        flash(success, "success")
    except DomainError as exc:
        flash(str(exc), "error")
    return redirect(url_for("apologies.index"))


@blueprint.post("/<int:proposal_id>/approve")
@role_required(Role.SUPERVISOR)
def approve(proposal_id: int):
    def decide(session) -> dict:
        reason = request.form.get("reason", "").strip()
        if len(reason) > REASON_MAX:
            raise InvalidInput(f"Lý do tối đa {REASON_MAX} ký tự.")
        try:
            day = dt.date.fromisoformat(request.form.get("date", ""))
        except ValueError as exc:
            raise InvalidInput("Chọn ngày hẹn trả mới.") from exc
        event = approve_proposal(
            session,
            proposal_id,
            reason=reason,
            new_date=day,
            actor=_actor(),
            now=now(),
            calendar=runtime().calendar(),
        )
        return {"dossier": event.dossier_id, "new_due": day.isoformat()}

    return _decide(
        proposal_id, decide, "Đã duyệt; tin nhắn xin lỗi sẽ được gửi.", "apology.approved"
    )


@blueprint.post("/<int:proposal_id>/dismiss")
@role_required(Role.SUPERVISOR)
def dismiss(proposal_id: int):
    def decide(session) -> dict:
        proposal = dismiss_proposal(session, proposal_id, actor=_actor(), now=now())
        return {"dossier": proposal.dossier_id}

    return _decide(proposal_id, decide, "Đã bỏ qua đề xuất; nếu hồ sơ trễ hạn, hệ thống vẫn "
                   "gửi tin xin lỗi tự động.", "apology.dismissed")  # fmt: skip
