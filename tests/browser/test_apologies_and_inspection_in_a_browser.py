"""The supervisors' apology queue and the vessel inspection appointment, in a real browser
(Chromium) against the real web server: the forms post what the page holds, <details> open,
the date and time inputs give what staff picked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from intake.apologies import propose_apology
from intake.models import ApologyProposal, ProposalStatus
from intake.statuses import DossierStatus as S
from sms.inbound import InboundSms, handle_inbound
from sms.models import Notice
from tests.browser.conftest import OPERATOR, SUPERVISOR, Site, log_in, screenshot
from tests.factories import create_dossier

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails in CI, saying so
    expect = None

PHONE = "+84935000111"


def _today(site: Site) -> dt.date:
    return site.runtime.calendar().local(site.runtime.clock.now()).date()


def test_a_supervisor_approves_a_proposed_apology_with_a_reason_of_their_own(site: Site, new_tab):
    rt = site.runtime
    calendar = rt.calendar()
    suggested = calendar.add_working_days(_today(site), 4)
    with rt.sessions() as session, session.begin():
        dossier = create_dossier(session, rt, phone=PHONE, status=S.IN_PROCESS)
        proposal = propose_apology(session, dossier, reason="cần thêm thời gian thẩm định",
                                   new_date=suggested, now=rt.clock.now())  # fmt: skip
        code, proposal_id = dossier.code, proposal.id

    operator = new_tab().page
    log_in(operator, OPERATOR)
    expect(operator.get_by_role("link", name="Xin lỗi chờ duyệt")).to_have_count(0)

    page = new_tab().page
    log_in(page, SUPERVISOR)
    page.get_by_role("link", name="Xin lỗi chờ duyệt").click()
    row = page.locator(f"#proposal-{proposal_id}")
    expect(row).to_contain_text(code)
    expect(row.get_by_label("Hẹn trả mới (lịch đề xuất)")).to_have_value(suggested.isoformat())
    screenshot(page, "apology-queue")
    row.get_by_label("Lý do chậm").fill("Chờ kết quả kiểm tra thực tế tàu")
    row.get_by_role("button", name="Duyệt và gửi tin xin lỗi").click()
    expect(page.locator("p.flash")).to_have_text("Đã duyệt; tin nhắn xin lỗi sẽ được gửi.")
    expect(page.locator(f"#proposal-{proposal_id}")).to_have_count(0)

    site.run_notice_rules()
    with rt.sessions() as session:
        assert session.get(ApologyProposal, proposal_id).status is ProposalStatus.APPROVED
        text = session.scalars(
            select(Notice.text).where(Notice.kind == "apology", Notice.phone == PHONE)
        ).one()
    assert f"ho so {code} chua co ket qua dung hen" in text
    assert (
        "ly do: Cho ket qua kiem tra thuc te tau. Trung tam hen tra ket qua ngay "
        f"{suggested:%d/%m/%Y}." in text
    )


def test_an_operator_sets_the_inspection_and_sees_the_citizens_answer(site: Site, new_tab):
    rt = site.runtime
    day = rt.calendar().add_working_days(_today(site), 2)
    with rt.sessions() as session, session.begin():
        dossier = create_dossier(session, rt, phone=PHONE, procedure="vessel_safety",
                                 status=S.ACCEPTED)  # fmt: skip
        dossier_id, code = dossier.id, dossier.code

    page = new_tab().page
    log_in(page, OPERATOR)
    page.goto(f"/admin/dossiers/{dossier_id}")
    page.get_by_role("button", name="Nhận xử lý").click()
    page.locator("summary", has_text="Hẹn lịch kiểm tra tàu").click()
    page.get_by_label("Nơi kiểm tra (tàu phải ở bến)").fill("Cảng cá Sa Huỳnh")
    page.get_by_label("Ngày", exact=True).fill(day.isoformat())
    page.get_by_label("Giờ", exact=True).fill("08:30")
    page.get_by_role("button", name="Hẹn và nhắn tin cho công dân").click()
    expect(page.locator("p.flash")).to_have_text(
        "Đã hẹn lịch kiểm tra tàu; tin nhắn sẽ được gửi cho công dân."
    )
    block = page.locator("#inspection")
    expect(block).to_contain_text(f"{day:%d/%m/%Y} 08:30 tại Cảng cá Sa Huỳnh")
    expect(block).to_contain_text("Đã nhắn, chờ công dân xác nhận")

    site.run_notice_rules()
    with rt.sessions() as session, session.begin():
        text = session.scalars(
            select(Notice.text).where(Notice.kind == "inspection", Notice.dossier_id == dossier_id)
        ).one()
        assert f"luc 08:30 ngay {day:%d/%m/%Y} tai Cang ca Sa Huynh" in text
        assert code.rsplit("-", 2)[1] in text
        reply = InboundSms("smpp", f"xn-{dossier_id}", PHONE, "8079", "XN")
        handle_inbound(session, reply, settings=rt.settings, calendar=rt.calendar(),
                       now=rt.clock.now())  # fmt: skip
    page.reload()
    expect(page.locator("#inspection")).to_contain_text("Công dân đã xác nhận")
    screenshot(page, "inspection-appointment")
