"""Staff work a phone-in dossier in a real browser (Chromium) against the real web server.

What only a browser shows: the forms post what the page really holds (every field, the CSRF
token, the version), <details> open, the recording plays through the range-serving endpoint,
the stylesheet applies under the Content-Security-Policy, and the Excel file downloads.
"""

from __future__ import annotations

import re

from openpyxl import load_workbook
from sqlalchemy import select

from intake.models import Applicant, AuditEvent, Dossier
from intake.statuses import DossierStatus as S
from sms.models import Notice
from tests.browser.conftest import (
    OPERATOR,
    SCREENSHOTS,
    SUPERVISOR,
    VESSEL,
    Site,
    log_in,
    screenshot,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips, or fails in CI, saying so
    expect = None

OWNER = "Nguyễn Văn An"
DOCUMENTS = [
    "Bản chụp giấy chứng nhận đăng ký tàu cá",
    "Bản chụp giấy chứng nhận an toàn kỹ thuật tàu cá (tàu phải đăng kiểm)",
]
# Resolves once the browser knows the recording's length; rejects on a media error. The bound
# only keeps a broken page from hanging the run: nothing is timed.
PLAY_AND_WAIT_FOR_METADATA = """audio => new Promise((resolve, reject) => {
  const done = () => resolve({readyState: audio.readyState, duration: audio.duration});
  audio.addEventListener("loadedmetadata", done, {once: true});
  audio.addEventListener("error", () => reject(new Error("media error " + audio.error.code)));
  setTimeout(() => reject(new Error("no loadedmetadata event")), 20000);
  audio.play().catch(error => reject(error));
})"""


def _flash(page):
    return page.locator("p.flash")


def _dossier(site: Site, code: str) -> Dossier:
    with site.runtime.sessions() as session:
        return session.scalars(select(Dossier).where(Dossier.code == code)).one()


def test_an_operator_works_a_phone_in_dossier_and_a_supervisor_downloads_the_report(
    site: Site, new_tab, tmp_path
):
    page = new_tab().page

    # 1. The operator logs in through the form.
    log_in(page, OPERATOR)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("^Tổng quan"))

    # 2. The queue, searched by the vessel number the caller keyed in, finds that dossier only.
    page.get_by_role("navigation", name="Chức năng").get_by_role("link", name="Hồ sơ").click()
    page.get_by_label("Tìm", exact=True).fill(VESSEL)
    page.get_by_role("button", name="Lọc").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"QNg-{VESSEL}-TS")
    expect(page.get_by_role("link", name=site.other_code)).to_have_count(0)
    page.get_by_role("link", name=site.code).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(site.code)
    expect(page.get_by_text("••••••••8901")).to_be_visible()

    # 3. The caller's recorded name plays next to the field it fills; the playback is audited.
    audio = page.locator("label[for=f-owner_name] + .recording audio")
    expect(audio).to_have_count(1)
    loaded = audio.evaluate(PLAY_AND_WAIT_FOR_METADATA)
    assert loaded["readyState"] >= 1
    assert 1 < loaded["duration"] < 3  # the 2-second tone, as the browser decoded it
    with site.runtime.sessions() as session:
        viewed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recording.viewed")
        ).all()
    assert (f"staff:{OPERATOR}", str(site.recording_id)) in {(e.actor, e.target_id) for e in viewed}

    # 4. Claim it, type the name heard, save: the page shows it saved, the applicant has it.
    page.get_by_role("button", name="Nhận xử lý").click()
    expect(_flash(page)).to_have_text("Bạn đang xử lý hồ sơ này.")
    page.get_by_label("Họ tên chủ tàu").fill(OWNER)
    page.get_by_role("button", name="Lưu thông tin").click()
    expect(_flash(page)).to_have_text("Đã lưu thông tin hồ sơ.")
    page.reload()
    expect(page.get_by_label("Họ tên chủ tàu")).to_have_value(OWNER)
    dossier = _dossier(site, site.code)
    with site.runtime.sessions() as session:
        applicant = session.get(Applicant, dossier.applicant_id)
    assert (dossier.assigned_to, dossier.form["owner_name"], applicant.name) == (
        OPERATOR,
        OWNER,
        OWNER,
    )

    # 5. Ask for two documents; once the notice rules have run, the SMS is in the outbox.
    page.locator("summary", has_text="Yêu cầu bổ sung").click()
    for document in DOCUMENTS:
        page.get_by_label(document, exact=True).check()
    page.get_by_label("Lý do, hướng dẫn").fill("Bản chụp bị mờ")
    page.get_by_role("button", name="Gửi yêu cầu bổ sung").click()
    expect(_flash(page)).to_have_text("Đã chuyển hồ sơ sang «Yêu cầu bổ sung».")
    assert site.run_notice_rules().notices >= 1
    with site.runtime.sessions() as session:
        notice = session.scalars(
            select(Notice).where(Notice.dossier_id == site.dossier_id, Notice.kind == "supplement")
        ).one()
    assert "can bo sung: Ban chup giay chung nhan dang ky tau ca, Ban chup" in notice.text
    assert "Ly do: Ban chup bi mo." in notice.text
    assert (notice.encoding, notice.segments) == ("GSM-7", 2)
    page.get_by_role("link", name="Tin nhắn").click()
    row = page.locator("table tbody tr", has_text="Yêu cầu bổ sung")
    expect(row).to_have_count(1)
    expect(row.locator(".sms-preview")).to_have_text(notice.text)
    expect(row).to_contain_text(f"GSM-7 · {len(notice.text)} ký tự · 2 phần")
    expect(row).to_contain_text(site.code)

    # 6. Back to work, then a second request: an operator is told it needs a supervisor.
    row.get_by_role("link", name=site.code).click()
    page.get_by_role("button", name="Chuyển xử lý").click()
    expect(_flash(page)).to_have_text("Đã chuyển hồ sơ sang «Đang xử lý».")
    page.locator("summary", has_text="Yêu cầu bổ sung (lần 2)").click()
    expect(page.get_by_text("lần thứ hai cần lãnh đạo phê duyệt")).to_be_visible()
    page.get_by_label("Giấy tờ khác").fill("Ảnh chụp tàu")
    page.get_by_label("Lý do, hướng dẫn").fill("Thiếu ảnh tàu")
    page.get_by_role("button", name="Gửi yêu cầu bổ sung").click()
    expect(page.locator("p.flash.error")).to_have_text(
        "Hồ sơ đã được yêu cầu bổ sung một lần; lần thứ hai cần lãnh đạo phê duyệt."
    )
    dossier = _dossier(site, site.code)
    assert (dossier.status, dossier.supplement_count) == (S.IN_PROCESS, 1)

    # 7. The supervisor downloads the report's Excel file; it counts what the page shows.
    page.get_by_role("button", name="Đăng xuất").click()
    expect(_flash(page)).to_have_text("Đã đăng xuất.")
    log_in(page, SUPERVISOR)
    page.get_by_role("link", name="Báo cáo").click()
    received = page.locator(".figure", has_text="Hồ sơ tiếp nhận").locator(".stat")
    expect(received).to_have_text("2")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Tải tệp Excel").click()
    download = download_info.value
    assert re.fullmatch(r"bao-cao-\d{8}-\d{8}\.xlsx", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = load_workbook(saved, read_only=True)
    summary = {row[0]: row[1] for row in book["Tổng hợp"].iter_rows(values_only=True) if row}
    assert (summary["Hồ sơ tiếp nhận"], summary["Hồ sơ đã có kết quả"]) == (2, 0)


# (name, path, its heading) of the pages a supervisor sees; {id} is the seeded dossier.
PAGES = [
    ("dashboard", "/admin/", "Tổng quan"),
    ("queue", "/admin/dossiers", "Hồ sơ"),
    ("dossier", "/admin/dossiers/{id}", "{code}"),
    ("outbox", "/admin/outbox", "Tin nhắn"),
    ("report", "/admin/reports", "Báo cáo"),
    ("calls", "/admin/calls", "Cuộc gọi"),
    ("callbacks", "/admin/callbacks", "Gọi lại cho công dân"),
    ("health", "/admin/health", "Tình trạng hệ thống"),
    ("users", "/admin/users", "Người dùng"),
    ("slip-receipt", "/admin/dossiers/{id}/slip/receipt", "Giấy tiếp nhận hồ sơ"),
]
# admin.css paints the top bar; an unstyled page (stylesheet blocked or missing) would not.
TOP_BAR = "rgb(18, 38, 63)"


def test_every_main_page_renders_styled_and_is_kept_as_a_screenshot(site: Site, new_tab):
    tab = new_tab()
    page = tab.page
    page.goto("/admin/login")
    expect(page.locator("main .card")).to_have_css("background-color", "rgb(255, 255, 255)")
    screenshot(page, "login")
    log_in(page, SUPERVISOR)
    refused: dict[str, list[str]] = {}
    for name, path, heading in PAGES:
        before = len(tab.console_errors)
        response = page.goto(path.format(id=site.dossier_id))
        assert response is not None and response.status == 200, name
        expect(page.get_by_role("heading", level=1).first).to_contain_text(
            heading.format(code=site.code)
        )
        expect(page.locator("header.top")).to_have_css("background-color", TOP_BAR)
        # Nothing wider than the window: no table or form pushing the layout sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
        screenshot(page, name)
        refused[name] = tab.console_errors[before:]
    (SCREENSHOTS / "console.txt").write_text("\n".join(tab.console_errors) + "\n")
    # Nothing the page asks for is refused by the CSP (inline style= or onclick= would be).
    assert refused == {name: [] for name in refused}
    page.goto("/admin/reports")
    expect(page.locator(".figures .figure")).to_have_count(5)
    expect(page.locator(".charts svg")).to_have_count(4)


def test_saving_the_form_keeps_the_citizen_id_that_was_shown_masked(site: Site, new_tab):
    page = new_tab().page
    log_in(page, OPERATOR)
    page.goto("/admin/dossiers")
    page.get_by_label("Tìm", exact=True).fill("0987 654 321")
    page.get_by_role("button", name="Lọc").click()
    page.get_by_role("link", name=site.other_code).click()
    page.get_by_role("button", name="Nhận xử lý").click()
    expect(page.get_by_text("••••••••0000")).to_be_visible()
    expect(page.get_by_label("Số căn cước công dân")).to_have_value("")
    page.get_by_label("Địa chỉ").fill("Tịnh Kỳ, Quảng Ngãi")
    page.get_by_role("button", name="Lưu thông tin").click()
    expect(_flash(page)).to_have_text("Đã lưu thông tin hồ sơ.")
    assert _dossier(site, site.other_code).form.get("citizen_id") == "000000000000"


def test_the_dossier_page_and_its_slip_need_nothing_the_csp_refuses(site: Site, new_tab):
    tab = new_tab()
    log_in(tab.page, OPERATOR)
    tab.page.goto(f"/admin/dossiers/{site.dossier_id}")
    tab.page.goto(f"/admin/dossiers/{site.dossier_id}/slip/receipt")
    assert tab.console_errors == []


def test_the_print_button_of_a_slip_opens_the_print_dialog(site: Site, new_tab):
    page = new_tab().page
    page.add_init_script("window.print = () => { window.printAsked = true; };")
    log_in(page, OPERATOR)
    page.goto(f"/admin/dossiers/{site.dossier_id}/slip/receipt")
    page.get_by_role("button", name="In").click()
    assert page.evaluate("window.printAsked === true")
