"""The report page (supervisors): a date range, its tables and charts, and the Excel file."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template, request

from admin.auth import now, role_required, runtime
from admin.charts import Series, bar_chart, line_chart
from admin.query import day_problem
from intake.models import Role
from reports import statistics
from reports.xlsx import CONTENT_TYPE, file_name, workbook_bytes

blueprint = Blueprint("reports", __name__, url_prefix="/admin")
MAX_DAYS = 366
# Beyond two months a line per day is noise: the chart (not the tables) shows weeks.
WEEKLY_AFTER_DAYS = 62


def read_range(args) -> tuple[dt.date | None, dt.date | None, dict[str, str], dict[str, str]]:
    """The range asked for (defaults: 1 January of this year to today), the values to show
    back in the form, and a message per field that is wrong."""
    today = runtime().calendar().local(now()).date()
    values = {
        "start": args.get("start", "").strip() or f"01/01/{today.year}",
        "end": args.get("end", "").strip() or today.strftime("%d/%m/%Y"),
    }
    (start, start_problem), (end, end_problem) = (
        day_problem(values["start"]),
        day_problem(values["end"]),
    )
    errors: dict[str, str] = {}
    if start_problem:
        errors["start"] = start_problem
    if end_problem:
        errors["end"] = end_problem
    if start and end:
        if end < start:
            errors["end"] = "Ngày kết thúc phải bằng hoặc sau ngày bắt đầu."
        elif (end - start).days + 1 > MAX_DAYS:
            errors["end"] = f"Mỗi báo cáo tối đa {MAX_DAYS} ngày."
    if start and "start" not in errors:
        values["start"] = start.strftime("%d/%m/%Y")
    if end and "end" not in errors:
        values["end"] = end.strftime("%d/%m/%Y")
    return start, end, values, errors


def _build(start: dt.date, end: dt.date) -> statistics.Report:
    rt = runtime()
    with rt.sessions() as session:
        return statistics.report(session, rt.settings, rt.calendar(), start, end)


def _per_period(report: statistics.Report) -> tuple[str, list[str], list[int], list[int]]:
    """The daily series, or weekly sums (weeks from Monday) when days would be unreadable."""
    if len(report.days) <= WEEKLY_AFTER_DAYS:
        labels = [f"{day:%d/%m}" for day in report.days]
        return "theo ngày", labels, report.received_per_day, report.resolved_per_day
    weeks: dict[dt.date, list[int]] = {}
    for day, received, resolved in zip(
        report.days, report.received_per_day, report.resolved_per_day, strict=True
    ):
        week = weeks.setdefault(day - dt.timedelta(days=day.weekday()), [0, 0])
        week[0] += received
        week[1] += resolved
    labels = [f"{max(monday, report.start):%d/%m}" for monday in weeks]
    received = [v[0] for v in weeks.values()]
    resolved = [v[1] for v in weeks.values()]
    return "theo tuần", labels, received, resolved


def _charts(report: statistics.Report) -> list:
    timeliness = [
        Series("Trước hạn", [b.early for b in report.by_procedure], "#1f9d55"),
        Series("Đúng hạn", [b.on_time for b in report.by_procedure], "#0b5cab"),
        Series("Trễ hạn", [b.late for b in report.by_procedure], "#b3261e"),
    ]
    period, labels, received, resolved = _per_period(report)
    return [
        line_chart(
            f"Hồ sơ tiếp nhận và có kết quả {period}",
            labels,
            [Series("Tiếp nhận", received), Series("Đã có kết quả", resolved)],
            x_label="Ngày" if period == "theo ngày" else "Tuần bắt đầu ngày",
            y_label="Số hồ sơ",
        ),
        bar_chart(
            "Kết quả trước, đúng và trễ hạn theo thủ tục",
            [b.label for b in report.by_procedure],
            timeliness,
            x_label="Thủ tục",
            y_label="Số hồ sơ",
        ),
        bar_chart(
            "Hồ sơ theo kênh tiếp nhận",
            [b.label for b in report.by_channel] or ["Không có hồ sơ"],
            [
                Series("Tiếp nhận", [b.received for b in report.by_channel]),
                Series("Đã có kết quả", [b.resolved for b in report.by_channel]),
            ],
            x_label="Kênh",
            y_label="Số hồ sơ",
        ),
        bar_chart(
            "Đánh giá mức độ hài lòng",
            list(statistics.RATING_LABELS.values()),
            [Series("Số lượt", [report.ratings.get(v, 0) for v in statistics.RATING_LABELS])],
            x_label="Mức đánh giá",
            y_label="Số lượt",
        ),
    ]


@blueprint.get("/reports")
@role_required(Role.SUPERVISOR)
def index():
    start, end, values, errors = read_range(request.args)
    if errors or start is None or end is None:
        return render_template("admin/report.html", values=values, errors=errors, report=None), 400
    report = _build(start, end)
    return render_template(
        "admin/report.html",
        values=values,
        errors=errors,
        report=report,
        tables=[t for t in statistics.report_tables(report) if t.sheet != "Theo ngày"],
        charts=_charts(report),
        cell=statistics.format_cell,
        percent=statistics.format_percent,
        xlsx_args={"start": start.isoformat(), "end": end.isoformat()},
    )


@blueprint.get("/reports.xlsx")
@role_required(Role.SUPERVISOR)
def xlsx():
    start, end, values, errors = read_range(request.args)
    if errors or start is None or end is None:
        return render_template("admin/report.html", values=values, errors=errors, report=None), 400
    report = _build(start, end)
    body = workbook_bytes(report, runtime().settings.centre.name)
    return Response(
        body,
        mimetype=CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{file_name(report)}"'},
    )
