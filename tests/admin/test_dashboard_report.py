"""The dashboard, report, health and audit pages, the Excel download and `tongdai report`."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from admin.charts import Series, bar_chart, line_chart
from intake.audit import record
from intake.models import Role
from plumbing.heartbeat import beat
from tests.admin.staff import log_in, make_user
from tests.conftest import ROOT
from tests.reports.test_statistics import REPORT_DOSSIERS, add_dossiers

RANGE = {"start": "02/11/2026", "end": "27/11/2026"}


@pytest.fixture
def seeded(runtime):
    with runtime.sessions() as session:
        add_dossiers(session, REPORT_DOSSIERS)
        session.commit()


@pytest.fixture
def supervisor(client, runtime):
    make_user(runtime, "hung", Role.SUPERVISOR)
    assert log_in(client, "hung").status_code == 302
    return client


@pytest.fixture
def operator(client, runtime):
    make_user(runtime, "binh", Role.OPERATOR)
    assert log_in(client, "binh").status_code == 302
    return client


def page(client, path: str, status: int = 200, **args) -> str:
    response = client.get(path, query_string=args or None)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    html = response.get_data(as_text=True)
    # The CSP allows no inline style or script: nothing may rely on them.
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    return html


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_page_renders_for_a_supervisor(supervisor, seeded):
    dashboard = page(supervisor, "/admin/")
    assert "Cuộc gọi hôm nay" in dashboard and "Hàng đợi tin nhắn" in dashboard
    assert "<svg" in dashboard and "Hồ sơ 14 ngày gần nhất" in dashboard
    report = page(supervisor, "/admin/reports", **RANGE)
    assert "Từ ngày 02/11/2026 đến ngày 27/11/2026" in report
    assert report.count("<svg") == 4
    assert "/admin/reports.xlsx?start=2026-11-02&amp;end=2026-11-27" in report
    # The totals row of "Theo thủ tục": 7 received, 5 resolved, 1 early, 1 on time, 3 late, 40 %.
    assert "Tổng cộng 7 5 1 1 3 40,0 %" in text_of(report)
    health = text_of(page(supervisor, "/admin/health"))
    assert "Cơ sở dữ liệu Bình thường" in health
    assert "Dung lượng đĩa (thư mục dữ liệu)" in health
    assert "Bộ lập lịch Lỗi Chưa có tiến trình lập lịch nào báo hoạt động." in health
    assert "Nhật ký truy cập và thay đổi" in page(supervisor, "/admin/audit")


def test_the_report_defaults_to_the_year_so_far(supervisor):
    html = page(supervisor, "/admin/reports")  # the clock: 01/12/2026
    assert 'value="01/01/2026"' in html and 'value="01/12/2026"' in html
    assert "Từ ngày 01/01/2026 đến ngày 01/12/2026" in html


@pytest.mark.parametrize("path", ["/admin/reports", "/admin/reports.xlsx", "/admin/audit"])
def test_an_operator_may_not_see_reports_or_the_audit_log(operator, path):
    assert operator.get(path).status_code == 403


def test_an_operator_sees_the_dashboard_and_the_health_page(operator):
    html = page(operator, "/admin/")
    assert "Báo cáo" not in html  # no link to a page they may not open
    page(operator, "/admin/health")


def test_a_malformed_date_is_reported_next_to_its_field(supervisor):
    html = page(supervisor, "/admin/reports", 400, start="31/02/2026", end="<b>x</b>")
    start = re.search(r'<input id="start".*?</div>', html, re.S).group(0)
    end = re.search(r'<input id="end".*?</div>', html, re.S).group(0)
    assert 'aria-invalid="true"' in start and "Ngày không hợp lệ" in start
    assert 'value="31/02/2026"' in start  # what was typed stays, to be corrected
    assert 'aria-invalid="true"' in end and "&lt;b&gt;x&lt;/b&gt;" in end
    assert "<b>x</b>" not in html
    html = page(supervisor, "/admin/reports", 400, start="10/11/2026", end="01/11/2026")
    end = re.search(r'<input id="end".*?</div>', html, re.S).group(0)
    assert "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu." in end
    assert supervisor.get("/admin/reports.xlsx?start=2026-13-01&end=x").status_code == 400


def test_the_excel_download_is_a_workbook_with_the_figures(supervisor, seeded):
    response = supervisor.get("/admin/reports.xlsx?start=2026-11-02&end=2026-11-27")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "bao-cao-20261102-20261127.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    sheet = book["Theo kênh"]
    assert [c.value for c in sheet[4]][:2] == ["Kênh", "Tiếp nhận"]
    assert sheet["A4"].font.bold and sheet.column_dimensions["A"].width == 16
    rows = {row[0]: row[1:6] for row in sheet.iter_rows(min_row=5, values_only=True)}
    # Phone: received A, B, D, H; resolved A early, B on time, D and F late.
    assert rows["Điện thoại"] == (4, 4, 1, 1, 2)
    days = book["Theo ngày"]
    assert days["A5"].value.date() == dt.date(2026, 11, 2) and days["B5"].value == 1
    assert days["A5"].number_format == "dd/mm/yyyy"


def test_the_audit_log_filters_and_pages_by_id(supervisor, runtime, clock):
    with runtime.sessions() as session, session.begin():
        for n in range(60):
            record(
                session,
                actor="staff:lan",
                action="recording.viewed",
                target_type="recording",
                target_id=n,
                now=clock.now() - dt.timedelta(days=2),
            )
        record(
            session,
            actor="scheduler",
            action="draft.deleted",
            target_type="dossier",
            target_id=7,
            now=clock.now() - dt.timedelta(days=40),
        )
    first = page(supervisor, "/admin/audit", actor="lan")
    assert first.count("<td>Nghe bản ghi âm</td>") == 50
    assert "#59<" in first and "#10<" in first and "#9<" not in first  # newest first
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+[^"]*)"', first).group(1)
    second = page(supervisor, older.replace("&amp;", "&"))
    assert second.count("<td>Nghe bản ghi âm</td>") == 10 and "Cũ hơn" not in second
    assert "<td>Đăng nhập</td>" not in second  # hung's log-in is not lan's
    family = page(supervisor, "/admin/audit", action="draft")
    assert "<td>Xoá hồ sơ khai dở</td>" in family and "<td>Nghe bản ghi âm" not in family
    dated = page(supervisor, "/admin/audit", start="20/10/2026", end="23/10/2026")
    assert "Bộ lập lịch" in dated and "<td>Nghe bản ghi âm" not in dated
    bad = page(supervisor, "/admin/audit", 400, start="hôm qua")
    assert "Ngày không hợp lệ" in bad


def test_the_health_page_shows_a_live_scheduler(supervisor, runtime, clock):
    with runtime.sessions() as session, session.begin():
        beat(session, "scheduler-leader", "may-chu:42", {}, clock.now() - dt.timedelta(seconds=5))
    health = text_of(page(supervisor, "/admin/health"))
    assert "Bộ lập lịch Bình thường Đang chạy trên may-chu:42" in health
    assert "Tổng đài Asterisk (AMI) Không dùng" in health


def test_charts_escape_their_text_and_have_axes_and_a_legend():
    svg = bar_chart(
        "Số <b>hồ sơ</b>",
        ["<script>", "Tại quầy"],
        [Series("Tiếp nhận & trả", [3, 12])],
        x_label="Kênh",
        y_label="Số hồ sơ",
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "Số &lt;b&gt;hồ sơ&lt;/b&gt;" in svg and "Tiếp nhận &amp; trả" in svg
    assert ">Kênh<" in svg and ">Số hồ sơ<" in svg and ">15<" in svg  # top tick above 12
    line = line_chart(
        "Theo ngày",
        [f"{d:02d}/11" for d in range(1, 31)],
        [Series("A", list(range(30))), Series("B", [1] * 30)],
    )
    assert line.count("<polyline") == 2 and ">30/11<" in line and ">A<" in line


def tongdai(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tongdai", *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_the_report_command_prints_the_figures_and_writes_the_workbook(runtime, seeded, tmp_path):
    env = {
        "TONGDAI_DATA_DIR": str(tmp_path),
        "TONGDAI_CONFIG": str(ROOT / "config.toml"),
        "DATABASE_URL": runtime.settings.database_url,
    }
    target = tmp_path / "bao-cao.xlsx"
    result = tongdai(
        "report", "--from", "2026-11-02", "--to", "2026-11-27", "--xlsx", str(target), env=env
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "BÁO CÁO TỪ 02/11/2026 ĐẾN 27/11/2026" in out and "THEO THỦ TỤC" in out
    assert re.search(r"Hồ sơ tiếp nhận\s+7\n", out)
    assert re.search(r"Tổng cộng\s+7\s+5\s+1\s+1\s+3\s+40,0 %", out)
    assert load_workbook(target)["Tổng hợp"]["B5"].value == 7

    bad = tongdai("report", "--from", "02/11/2026", "--to", "2026-11-27", env=env)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "--from" in bad.stderr
    backwards = tongdai("report", "--from", "2026-11-27", "--to", "2026-11-02", env=env)
    assert backwards.returncode != 0 and "--to" in backwards.stderr
