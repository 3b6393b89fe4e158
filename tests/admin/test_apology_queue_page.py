"""The supervisors' queue of proposed apologies on the staff page."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from intake.apologies import propose_apology
from intake.models import ApologyProposal, AuditEvent, Dossier, ProposalStatus, Role
from intake.statuses import DossierStatus as S
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier


def _proposal(runtime) -> int:
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, status=S.IN_PROCESS)
        reason, day = "cần thêm thời gian thẩm định", dt.date(2026, 12, 14)
        proposal = propose_apology(session, dossier, reason=reason, new_date=day,
                                   now=runtime.clock.now())  # fmt: skip
        return proposal.id


def test_an_operator_does_not_see_the_queue(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    assert client.get("/admin/apologies").status_code == 403
    assert "Xin lỗi chờ duyệt" not in client.get("/admin/").get_data(as_text=True)


def test_a_supervisor_approves_with_an_edited_date_and_it_is_audited(client, runtime, clock):
    proposal_id = _proposal(runtime)
    make_user(runtime, "hung", Role.SUPERVISOR)
    log_in(client, "hung")
    page = client.get("/admin/apologies").get_data(as_text=True)
    assert "000.00.53.H48.TD-261201-0001" in page
    assert 'value="2026-12-14"' in page and 'value="cần thêm thời gian thẩm định"' in page
    response = client.post(
        f"/admin/apologies/{proposal_id}/approve",
        data={"csrf_token": token(client, "/admin/apologies"), "reason": "Chờ kiểm tra tàu",
              "date": "2026-12-15"},
        follow_redirects=True,
    )  # fmt: skip
    assert "Đã duyệt; tin nhắn xin lỗi sẽ được gửi." in response.get_data(as_text=True)
    with runtime.sessions() as session:
        proposal = session.get(ApologyProposal, proposal_id)
        dossier = session.get(Dossier, proposal.dossier_id)
        assert proposal.status is ProposalStatus.APPROVED
        assert (dossier.new_due_date, dossier.apology_reason) == (
            dt.date(2026, 12, 15),
            "Chờ kiểm tra tàu",
        )
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "apology.approved" in actions
    assert "Không có thư xin lỗi nào chờ duyệt." in client.get("/admin/apologies").get_data(
        as_text=True
    )


def test_a_date_that_is_not_a_working_day_is_refused_with_a_message(client, runtime):
    proposal_id = _proposal(runtime)
    make_user(runtime, "hung", Role.SUPERVISOR)
    log_in(client, "hung")
    response = client.post(
        f"/admin/apologies/{proposal_id}/approve",
        data={"csrf_token": token(client, "/admin/apologies"), "reason": "Chờ kiểm tra tàu",
              "date": "2026-12-13"},
        follow_redirects=True,
    )  # fmt: skip  # Sunday 13/12/2026
    assert "Ngày hẹn mới phải là một ngày làm việc sau hôm nay." in response.get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.get(ApologyProposal, proposal_id).status is ProposalStatus.PENDING


def test_staff_set_the_inspection_on_the_dossier_page_and_see_the_answer(client, runtime):
    from intake.inspections import answer_by_sms

    with runtime.sessions() as session, session.begin():
        dossier_id = create_dossier(
            session, runtime, procedure="vessel_safety", status=S.ACCEPTED
        ).id
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    page = f"/admin/dossiers/{dossier_id}"
    assert "Hẹn lịch kiểm tra tàu" in client.get(page).get_data(as_text=True)
    client.post(f"{page}/claim", data={"csrf_token": token(client, page)})
    version = re.search(r'name="version" value="(\d+)"', client.get(page).get_data(as_text=True))
    response = client.post(
        f"{page}/inspection",
        data={"csrf_token": token(client, page), "version": version[1], "place": "Cảng cá Sa Huỳnh",
              "date": "2026-12-03", "time": "08:30"},
        follow_redirects=True,
    )  # fmt: skip
    body = response.get_data(as_text=True)
    assert "Đã hẹn lịch kiểm tra tàu; tin nhắn sẽ được gửi cho công dân." in body
    assert "03/12/2026 08:30 tại Cảng cá Sa Huỳnh" in body
    assert "Đã nhắn, chờ công dân xác nhận" in body
    with runtime.sessions() as session, session.begin():
        answer_by_sms(session, "+84912345678", confirm=False, now=runtime.clock.now())
    body = client.get(page).get_data(as_text=True)
    assert "Công dân xin đổi ngày: cần hẹn lại" in body
    assert "Hẹn lại lịch kiểm tra tàu" in body


def test_a_licence_dossier_has_no_inspection_form(client, runtime):
    with runtime.sessions() as session, session.begin():
        dossier_id = create_dossier(session, runtime, status=S.ACCEPTED).id
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    assert "lịch kiểm tra tàu" not in client.get(f"/admin/dossiers/{dossier_id}").get_data(
        as_text=True
    )
