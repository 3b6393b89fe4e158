"""The work list of phone dossiers still incomplete, in a real browser: ordered by the day each
must be completed by, with what is missing; completing one starts its clock and sends the date.

A module of its own: its site (database and web server) is not the one whose report counts the
seeded dossiers."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from intake.models import Dossier
from sms.models import Notice
from tests.browser.conftest import OPERATOR, Site, log_in, screenshot
from tests.factories import create_dossier

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails in CI, saying so
    expect = None


def _incomplete(site: Site, received: dt.datetime, vessel: str, phone: str) -> tuple[int, str]:
    """A licence as a call leaves it: name, citizen id, address and vessel given; the date of
    birth, the certificate number and the gear still to complete."""
    rt = site.runtime
    with rt.sessions() as session, session.begin():
        dossier = create_dossier(session, rt, now=received, phone=phone, complete=False,
                                 owner_name="Nguyễn Văn Ba", citizen_id="012345678901",
                                 address="Thôn An Vĩnh, xã Lý Sơn", vessel=vessel)  # fmt: skip
        return dossier.id, dossier.code


def test_the_work_list_orders_by_completeness_deadline_and_completing_one_sends_its_due_date(
    site: Site, new_tab
):
    now = site.runtime.clock.now()
    # Received three weeks ago: its completeness deadline has passed. Received now: later.
    old_id, old_code = _incomplete(site, now - dt.timedelta(days=21), "55501", "+84905111222")
    _, new_code = _incomplete(site, now, "55502", "+84905333444")
    page = new_tab().page
    log_in(page, OPERATOR)

    page.get_by_role("navigation", name="Chức năng").get_by_role(
        "link", name="Chờ hoàn thiện"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hồ sơ chưa đủ thông tin")
    rows = page.locator("#incomplete-list tbody tr")
    expect(rows).to_have_count(2)  # the two seeded dossiers are complete: not listed
    expect(rows.nth(0)).to_contain_text(old_code)
    expect(rows.nth(0)).to_contain_text("quá hạn kiểm tra")
    expect(rows.nth(0)).to_contain_text(
        "Ngày sinh; Số giấy chứng nhận an toàn kỹ thuật; Nghề khai thác chính"
    )
    expect(rows.nth(1)).to_contain_text(new_code)
    screenshot(page, "incomplete-work-list")

    # Staff call the owner back and complete the oldest: the clock starts now.
    rows.nth(0).get_by_role("link", name=old_code).click()
    expect(page.locator("#due-date")).to_have_text("chưa tính")
    expect(page.locator("#incomplete")).to_contain_text("Nghề khai thác chính")
    page.get_by_role("button", name="Nhận xử lý").click()
    page.get_by_label("Ngày sinh").fill("05/09/1975")
    page.get_by_label("Số giấy chứng nhận an toàn kỹ thuật").fill("123/2026/QNg-ĐKTC")
    page.get_by_label("Nghề khai thác chính", exact=False).first.fill("Lưới vây")
    page.get_by_role("button", name="Lưu thông tin").click()
    expect(page.locator("p.flash", has_text="Hồ sơ đã đủ thông tin")).to_have_count(1)

    with site.runtime.sessions() as session:
        dossier = session.get(Dossier, old_id)
    calendar = site.runtime.calendar()
    # Completed now: six working days counted from today (or the next working day after the
    # cut-off), the same rule as a reception.
    assert dossier.due_date == calendar.due_date(dossier.completed_at, 6)
    expect(page.locator("#due-date")).to_have_text(f"{dossier.due_date:%d/%m/%Y}")
    expect(page.locator("#due-reason")).to_contain_text("đủ thông tin lúc")
    expect(page.locator("#incomplete")).to_have_count(0)

    page.get_by_role("link", name="Chờ hoàn thiện").click()
    expect(page.locator("#incomplete-list tbody tr")).to_have_count(1)
    expect(page.locator("#incomplete-list tbody tr").first).to_contain_text(new_code)

    site.run_notice_rules()
    with site.runtime.sessions() as session:
        kinds = session.scalars(
            select(Notice.kind).where(Notice.dossier_id == old_id).order_by(Notice.id)
        ).all()
        complete = session.scalars(
            select(Notice).where(Notice.dossier_id == old_id, Notice.kind == "complete")
        ).one()
    assert kinds == ["receipt_incomplete", "complete"]
    assert re.search(rf"da du thong tin\. Hen tra KQ {dossier.due_date:%d/%m/%Y}\.", complete.text)
