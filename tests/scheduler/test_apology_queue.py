"""Apologising before the due date: the scheduler proposes, a supervisor approves, the automatic
apology stays the fallback, and the processing department's own date needs no approval.

Dates counted by hand on the working-day calendar."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.apologies import (
    approve_proposal,
    department_sets_due_date,
    dismiss_proposal,
    pending_proposals,
)
from intake.errors import OverrideRequired
from intake.lifecycle import Actor
from intake.models import ApologyProposal, ProposalStatus, Role
from intake.statuses import DossierStatus as S
from scheduler.models import StaffAlert
from scheduler.rules import run_rules
from sms.models import Notice
from tests.factories import create_dossier
from tests.scheduler.test_rules import STAFF, SUPERVISOR, Centre, at

CODE = "000.00.53.H48.TD-261201-0001"  # received Tue 01/12/2026 09:00, licence: due Wed 09/12
DEPARTMENT = Actor.system("department:Chi cục Thủy sản")


@pytest.fixture
def centre(runtime, session, clock):
    return Centre(runtime, session, clock)


def _proposals(session) -> list[ApologyProposal]:
    session.expire_all()
    return list(session.scalars(select(ApologyProposal).order_by(ApologyProposal.id)))


def _apologies(session) -> list[str]:
    return [n.text for n in session.scalars(select(Notice).where(Notice.kind == "apology"))]


def test_a_dossier_not_ready_one_working_day_before_its_due_date_is_proposed_once(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 7, 16)  # Mon: the next working day (Tue 08) is not yet the due date
    centre.tick()
    assert _proposals(session) == []
    at(clock, 2026, 12, 8, 7, 30)  # Tue 08/12: one working day before Wed 09/12
    centre.tick()
    centre.tick()
    (proposal,) = _proposals(session)
    # Suggested: due + 3 working days = Thu 10, Fri 11, Mon 14/12.
    assert (proposal.status, proposal.due_date, proposal.new_date, proposal.reason) == (
        ProposalStatus.PENDING,
        dt.date(2026, 12, 9),
        dt.date(2026, 12, 14),
        "cần thêm thời gian thẩm định",
    )
    assert proposal.dossier_id == dossier.id
    assert centre.kinds == ["receipt"]  # nothing goes to the citizen before approval


def test_across_a_weekend_the_working_day_before_is_the_friday(centre, session, clock, runtime):
    at(clock, 2026, 12, 2, 9)  # Wed 02/12, re-issue (3 working days): Thu 3, Fri 4, Mon 7
    create_dossier(session, runtime, variant="reissue", status=S.IN_PROCESS)
    at(clock, 2026, 12, 3, 16)  # Thu: the next working day is Fri 04, before the due Mon 07
    centre.tick()
    assert _proposals(session) == []
    at(clock, 2026, 12, 4, 8)  # Fri 04/12
    centre.tick()
    (proposal,) = _proposals(session)
    assert (proposal.due_date, proposal.new_date) == (dt.date(2026, 12, 7), dt.date(2026, 12, 10))


def test_how_early_a_dossier_is_at_risk_is_configurable(session, clock, runtime):
    create_dossier(session, runtime, status=S.IN_PROCESS)
    session.commit()
    scheduler = runtime.settings.scheduler.model_copy(update={"at_risk_working_days": 2})
    settings = runtime.settings.model_copy(update={"scheduler": scheduler})
    at(clock, 2026, 12, 7, 8)  # Mon 07/12: two working days before Wed 09/12
    report = run_rules(runtime.sessions, settings, runtime.calendar(), clock.now())
    assert report.proposals == 1
    at(clock, 2026, 12, 4, 8)
    assert len(_proposals(session)) == 1


def test_an_approved_proposal_sends_the_apology_the_supervisor_wrote(
    centre, session, clock, runtime
):
    create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)
    centre.tick()
    (proposal,) = _proposals(session)
    with pytest.raises(OverrideRequired):
        approve_proposal(session, proposal.id, reason="x", new_date=dt.date(2026, 12, 15),
                         actor=STAFF, now=clock.now(), calendar=runtime.calendar())  # fmt: skip
    at(clock, 2026, 12, 8, 10)
    approve_proposal(
        session,
        proposal.id,
        reason="Chờ kết quả kiểm tra thực tế tàu",
        new_date=dt.date(2026, 12, 15),
        actor=SUPERVISOR,
        now=clock.now(),
        calendar=runtime.calendar(),
    )
    centre.tick()
    assert _apologies(session) == [
        f"TTHCC Quang Ngai thanh that xin loi ong/ba: ho so {CODE} chua co ket qua dung hen "
        "09/12/2026, ly do: Cho ket qua kiem tra thuc te tau. Trung tam hen tra ket qua ngay "
        "15/12/2026. Cam on ong/ba da thong cam. Hoi dap: 02553822222"
    ]
    (proposal,) = _proposals(session)
    assert (proposal.status, proposal.decided_by) == (ProposalStatus.APPROVED, "staff:hung")
    at(clock, 2026, 12, 10, 8)  # past the legal due date: the new one holds, no fallback
    centre.tick()
    assert centre.kinds == ["receipt", "apology"]
    assert session.scalars(select(StaffAlert)).all() == []


def test_nobody_approving_leaves_the_automatic_apology_and_alerts_the_supervisors(
    centre, session, clock, runtime
):
    scheduler = runtime.settings.scheduler.model_copy(update={"supervisor_phones": ("0987654321",)})
    runtime.settings = runtime.settings.model_copy(update={"scheduler": scheduler})
    create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)
    centre.tick()
    at(clock, 2026, 12, 10, 8)  # Thu: the working day after the due day
    centre.tick()
    (proposal,) = _proposals(session)
    assert proposal.status is ProposalStatus.AUTOMATIC
    assert sorted(centre.kinds) == ["apology", "receipt", "supervisor_alert"]
    assert "14/12/2026" in _apologies(session)[0]  # due + 3 working days
    alert = session.scalars(select(StaffAlert)).one()
    assert alert.message == (
        f"Hồ sơ {CODE} quá hạn (09/12/2026) mà chưa ai duyệt thư xin lỗi; đã gửi tin xin lỗi tự "
        "động, hẹn lại 14/12/2026. Vui lòng kiểm tra."
    )
    with runtime.sessions() as other:
        assert pending_proposals(other, 10) == []


def test_a_dismissed_proposal_leaves_the_fallback_in_place(centre, session, clock, runtime):
    create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)
    centre.tick()
    (proposal,) = _proposals(session)
    dismiss_proposal(session, proposal.id, actor=SUPERVISOR, now=clock.now())
    centre.tick()
    assert _proposals(session)[0].status is ProposalStatus.DISMISSED
    at(clock, 2026, 12, 10, 8)
    centre.tick()
    assert centre.kinds == ["receipt", "apology"]
    assert len(_proposals(session)) == 1  # no second proposal after the dismissal


def test_the_departments_own_date_needs_no_approval_and_closes_the_proposal(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)
    centre.tick()
    at(clock, 2026, 12, 8, 9)
    department_sets_due_date(
        session,
        dossier,
        dt.date(2026, 12, 16),
        reason="Chờ xác minh giấy chứng nhận đăng ký tàu",
        actor=DEPARTMENT,
        now=clock.now(),
        calendar=runtime.calendar(),
    )
    centre.tick()
    (proposal,) = _proposals(session)
    assert (proposal.status, proposal.decided_by) == (
        ProposalStatus.SUPERSEDED,
        "department:Chi cục Thủy sản",
    )
    assert (
        "ly do: Cho xac minh giay chung nhan dang ky tau. Trung tam hen tra ket qua ngay "
        "16/12/2026." in _apologies(session)[0]
    )
    # A second date from the department is its own decision too (staff would need an override).
    department_sets_due_date(
        session,
        dossier,
        dt.date(2026, 12, 18),
        reason="Chờ ý kiến cơ quan đăng kiểm",
        actor=DEPARTMENT,
        now=clock.now(),
        calendar=runtime.calendar(),
    )
    centre.tick()
    texts = _apologies(session)
    assert len(texts) == 2
    assert "chua co ket qua dung hen 16/12/2026" in texts[1] and "ngay 18/12/2026" in texts[1]
    assert centre.kinds == ["receipt", "apology", "apology"]


def test_an_operator_cannot_dismiss_a_proposal(centre, session, clock, runtime):
    create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)
    centre.tick()
    (proposal,) = _proposals(session)
    with pytest.raises(OverrideRequired):
        dismiss_proposal(session, proposal.id, actor=Actor.staff("lan", Role.OPERATOR),
                         now=clock.now())  # fmt: skip


def test_a_result_ready_in_time_closes_the_proposal_and_no_apology_goes(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)
    centre.tick()
    at(clock, 2026, 12, 9, 15)  # ready on the due day itself
    centre.move(dossier, S.RESULT_READY)
    centre.tick()
    (proposal,) = _proposals(session)
    assert (proposal.status, proposal.decided_by) == (ProposalStatus.CLOSED, "scheduler")
    at(clock, 2026, 12, 10, 8)
    centre.tick()
    assert _apologies(session) == []
    with runtime.sessions() as other:
        assert pending_proposals(other, 10) == []


def test_a_supplement_wait_closes_the_proposal_and_the_moved_date_is_proposed_again(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime, status=S.IN_PROCESS)
    at(clock, 2026, 12, 8, 8)  # Tue: Wed 09/12 at risk
    centre.tick()
    at(clock, 2026, 12, 8, 10)
    centre.move(dossier, S.SUPPLEMENT_REQUESTED, reason="Thiếu bản chụp bằng thuyền trưởng")
    centre.tick()
    assert [p.status for p in _proposals(session)] == [ProposalStatus.CLOSED]
    # Papers in on Thu 10/12: waited Wed 9, Thu 10 = 2 working days, so due Fri 11/12, which is
    # the next working day: at risk again, proposed with Fri 11 + 3 = Mon 14, Tue 15, Wed 16.
    at(clock, 2026, 12, 10, 10)
    centre.move(dossier, S.IN_PROCESS)
    centre.tick()
    first, second = _proposals(session)
    assert (second.status, second.due_date, second.new_date) == (
        ProposalStatus.PENDING,
        dt.date(2026, 12, 11),
        dt.date(2026, 12, 16),
    )
    assert first.status is ProposalStatus.CLOSED
