"""The working-day calendar: a year at a glance, and the centre's own corrections to it.

Public holidays come from the `holidays` package; the centre adds extra days off, worked days
(a weekend worked in exchange for a bridge day) and removed holidays. Every process re-reads the
corrections within 30 s; this one forgets its copy at once after an edit.
"""

from __future__ import annotations

import calendar as calendar_module
import datetime as dt
import functools
from dataclasses import dataclass

import holidays
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from admin.auth import now, role_required, runtime
from intake.audit import record
from intake.calendar import WorkingCalendar
from intake.calendar_store import corrections_of_year
from intake.models import CalendarDay, CalendarDayKind, Role

blueprint = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")
MONTHS = [f"Tháng {n}" for n in range(1, 13)]
WEEKDAYS = ["T2", "T3", "T4", "T5", "T6", "T7", "CN"]
KIND_LABELS = {
    CalendarDayKind.HOLIDAY: "Nghỉ thêm",
    CalendarDayKind.WORKING: "Làm bù (làm việc)",
    CalendarDayKind.NOT_HOLIDAY: "Bỏ ngày lễ (làm việc bình thường)",
}
NOTE_MAX = 200


@functools.lru_cache(maxsize=8)
def _vietnamese_names(year: int) -> dict[dt.date, str]:
    return dict(holidays.country_holidays("VN", language="vi", years=year))


def holiday_name(cal: WorkingCalendar, day: dt.date) -> str | None:
    """The public holiday's Vietnamese name (the package's default names are English)."""
    name = cal.public_holiday_name(day)
    if not name:
        return None
    return _vietnamese_names(day.year).get(day) or name


@dataclass(frozen=True)
class Cell:
    day: dt.date
    css: str  # a badge class from admin.css
    label: str  # what the day is, for the tooltip and screen readers


def cell(cal: WorkingCalendar, rows: dict[dt.date, CalendarDay], day: dt.date) -> Cell:
    row = rows.get(day)
    name = holiday_name(cal, day)
    if row is not None:
        note = f": {row.note}" if row.note else ""
        if row.kind is CalendarDayKind.HOLIDAY:
            return Cell(day, "badge warn", f"Nghỉ thêm{note}")
        if row.kind is CalendarDayKind.WORKING:
            return Cell(day, "badge ok", f"Làm bù{note}")
        return Cell(day, "badge", f"Bỏ ngày lễ {name or ''}{note}".replace("  ", " "))
    working = cal.is_working_day(day)
    if name and not working:
        return Cell(day, "badge bad", name)
    if day.weekday() >= 5:
        return (
            Cell(day, "badge ok", "Làm bù theo quy định")
            if working
            else Cell(day, "muted", "Cuối tuần")
        )
    return Cell(day, "", "")


def _year_view(cal: WorkingCalendar, rows: dict[dt.date, CalendarDay], year: int):
    months = []
    grid = calendar_module.Calendar(firstweekday=0)  # Monday first, as Vietnamese calendars
    for month in range(1, 13):
        weeks = [
            [cell(cal, rows, day) if day.month == month else None for day in week]
            for week in grid.monthdatescalendar(year, month)
        ]
        months.append((MONTHS[month - 1], weeks))
    return months


def _page(year: int, errors: dict[str, str] | None = None, form: dict[str, str] | None = None):
    rt = runtime()
    cal = rt.calendar()
    today = cal.local(now()).date()
    with rt.sessions() as session:
        rows = corrections_of_year(session, year)
    public = [
        (day, name, cal.is_working_day(day))
        for day, name in sorted(_vietnamese_names(year).items())
        if cal.public_holiday_name(day)
    ]
    return render_template(
        "admin/calendar.html",
        year=year,
        today=today,
        months=_year_view(cal, rows, year),
        weekdays=WEEKDAYS,
        rows=sorted(rows.values(), key=lambda row: row.day),
        public=public,
        kinds=KIND_LABELS,
        errors=errors or {},
        form=form or {"date": "", "kind": CalendarDayKind.HOLIDAY.value, "note": ""},
        note_max=NOTE_MAX,
    ), 400 if errors else 200


@blueprint.get("")
@role_required(Role.ADMIN)
def index():
    year = request.args.get("year", type=int)
    if year is None or not 2000 <= year <= 2100:
        year = runtime().calendar().local(now()).year
    return _page(year)


def _validate(form: dict[str, str]) -> tuple[dt.date | None, CalendarDayKind | None, dict]:
    errors: dict[str, str] = {}
    day = kind = None
    try:
        day = dt.datetime.strptime(form["date"], "%d/%m/%Y").date()
    except ValueError:
        errors["date"] = "Ngày viết theo dạng ngày/tháng/năm, ví dụ 02/01/2027."
    try:
        kind = CalendarDayKind(form["kind"])
    except ValueError:
        errors["kind"] = "Chọn loại điều chỉnh."
    if len(form["note"]) > NOTE_MAX:
        errors["note"] = f"Ghi chú tối đa {NOTE_MAX} ký tự."
    if day is None or kind is None:
        return day, kind, errors
    rt = runtime()
    with rt.sessions() as session:
        existing = session.get(CalendarDay, day)
    if existing is not None:
        errors["date"] = (
            f"Ngày {day:%d/%m/%Y} đã có điều chỉnh «{KIND_LABELS[existing.kind]}». "
            "Xoá điều chỉnh đó trước nếu muốn thay."
        )
        return day, kind, errors
    # A fresh copy: another process may have edited the calendar within the cache time.
    rt.forget_calendar()
    cal = rt.calendar()
    working = cal.is_working_day(day)
    if kind is CalendarDayKind.HOLIDAY and not working:
        errors["date"] = f"Ngày {day:%d/%m/%Y} vốn đã là ngày nghỉ."
    elif kind is CalendarDayKind.WORKING and working:
        errors["date"] = f"Ngày {day:%d/%m/%Y} vốn đã là ngày làm việc."
    elif kind is CalendarDayKind.NOT_HOLIDAY and (
        not cal.public_holiday_name(day) or day.weekday() >= 5 or working
    ):
        errors["date"] = (
            f"Ngày {day:%d/%m/%Y} không phải ngày lễ rơi vào ngày thường; "
            "để làm việc vào cuối tuần, chọn «Làm bù»."
        )
    return day, kind, errors


@blueprint.post("")
@role_required(Role.ADMIN)
def add():
    form = {
        "date": request.form.get("date", "").strip(),
        "kind": request.form.get("kind", ""),
        "note": " ".join(request.form.get("note", "").split()),
    }
    day, kind, errors = _validate(form)
    year = day.year if day else request.args.get("year", type=int) or now().year
    if errors:
        return _page(year, errors, form)
    rt = runtime()
    current = now()
    try:
        with rt.sessions() as session, session.begin():
            session.add(
                CalendarDay(
                    day=day,
                    kind=kind,
                    note=form["note"],
                    source=g.user.username,
                    updated_at=current,
                )
            )
            record(
                session,
                actor=f"staff:{g.user.username}",
                action="calendar.day_added",
                now=current,
                target_type="calendar_day",
                target_id=day.isoformat(),
                details={"kind": kind.value, "note": form["note"]},
            )
    except IntegrityError:
        errors = {"date": f"Ngày {day:%d/%m/%Y} vừa được người khác điều chỉnh."}
        return _page(year, errors, form)
    rt.forget_calendar()
    flash(f"Đã thêm {KIND_LABELS[kind].lower()} ngày {day:%d/%m/%Y}.", "success")
    return redirect(url_for("calendar_admin.index", year=day.year))


@blueprint.post("/<day>/remove")
@role_required(Role.ADMIN)
def remove(day: str):
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        abort(404)
    rt = runtime()
    current = now()
    with rt.sessions() as session, session.begin():
        row = session.get(CalendarDay, date)
        if row is None:
            flash(f"Ngày {date:%d/%m/%Y} không có điều chỉnh nào.", "error")
            return redirect(url_for("calendar_admin.index", year=date.year))
        kind, source = row.kind, row.source
        session.delete(row)
        record(
            session,
            actor=f"staff:{g.user.username}",
            action="calendar.day_removed",
            now=current,
            target_type="calendar_day",
            target_id=date.isoformat(),
            details={"kind": kind.value, "note": row.note, "source": source},
        )
    rt.forget_calendar()
    message = f"Đã xoá điều chỉnh «{KIND_LABELS[kind]}» ngày {date:%d/%m/%Y}."
    if source == "config":
        message += (
            " Ngày này có trong config.toml: hãy xoá ở đó, nếu không nó sẽ được thêm lại"
            " khi khởi động."
        )
    flash(message, "success")
    return redirect(url_for("calendar_admin.index", year=date.year))
