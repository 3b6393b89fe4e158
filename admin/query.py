"""Reading the staff pages' addresses: paging cursors, dates, ids and filter text.

Whatever is in the address bar (a mangled link, a hand-edited cursor, `%00`), the page answers:
a value it cannot use is dropped, the page says so in Vietnamese and answers 400, and the rest
of the page still works. Ids in paths beyond the database's integer range are a 404, through the
`int` URL converter installed by `install_id_converter`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from flask import Flask, abort, flash, render_template, request
from werkzeug.routing import IntegerConverter

from plumbing.db import INTEGER_MAX

DB_INT_MAX = INTEGER_MAX
# Dates staff can mean: no dossier, call or audit event lies outside these, and the UTC
# conversion of a local day at either end of Python's date range overflows.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)
BAD_CURSOR = "Liên kết trang không hợp lệ; đang hiển thị trang đầu."
BAD_TEXT = "Ô «{label}» có ký tự không dùng được hoặc quá dài; bộ lọc này đã được bỏ qua."
BAD_DATE = "Ngày không hợp lệ. Nhập theo dạng dd/mm/yyyy, ví dụ 05/01/2026."
OUT_OF_RANGE_DATE = "Ngày phải trong khoảng 01/01/1900 đến 31/12/2100."
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ID = re.compile(r"[0-9]{1,10}")
# `YYYY-MM-DD:id`, or `none:id` past the dated rows (dossiers with no due date yet come last).
_DUE_CURSOR = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}|none):([0-9]{1,10})")


def database_id(raw: str) -> int | None:
    """An id as the database can hold it (ASCII digits, 1..2^31-1), else None."""
    if not _ID.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= DB_INT_MAX else None


def parse_day(text: str) -> dt.date | None:
    """dd/mm/yyyy as staff type it (d/m, `.` or `-` also), or YYYY-MM-DD as links carry it;
    None when it is not a date. Use `day_problem` for the message, which also checks range."""
    text = text.strip()
    try:
        if match := re.fullmatch(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})", text):
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return dt.date.fromisoformat(text)
    except ValueError:
        return None
    return None


def day_problem(text: str) -> tuple[dt.date | None, str | None]:
    """(the day, None), or (None, the message to show next to the field)."""
    day = parse_day(text)
    if day is None:
        return None, BAD_DATE
    if not FIRST_DAY <= day <= LAST_DAY:
        return None, OUT_OF_RANGE_DATE
    return day, None


class QueryReader:
    """Reads one request's query string; collects a message for every value it had to drop."""

    def __init__(self, args: Mapping[str, str]) -> None:
        self.args = args
        self.problems: list[str] = []

    def _drop(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def text(self, name: str, label: str, *, max_length: int = 100) -> str:
        """A filter's text, stripped; "" (and a message) when it has control characters
        (a NUL cannot even be sent to PostgreSQL) or is longer than any value it could match."""
        raw = self.args.get(name, "").strip()
        if len(raw) > max_length or _CONTROL.search(raw):
            self._drop(BAD_TEXT.format(label=label))
            return ""
        return raw

    def id_cursor(self, name: str = "after") -> int | None:
        """An `id` paging cursor; None (first page) when absent or unusable."""
        raw = self.args.get(name, "")
        if not raw:
            return None
        value = database_id(raw)
        if value is None:
            self._drop(BAD_CURSOR)
        return value

    def due_cursor(self, name: str = "after") -> tuple[dt.date | None, int] | None:
        """A `YYYY-MM-DD:id` (or `none:id`) paging cursor; None (first page) when absent or
        unusable."""
        raw = self.args.get(name, "")
        if not raw:
            return None
        match = _DUE_CURSOR.fullmatch(raw)
        undated = bool(match) and match[1] == "none"
        try:
            day = dt.date.fromisoformat(match[1]) if match and not undated else None
        except ValueError:
            day = None
        last = database_id(match[2]) if match else None
        if (day is None and not undated) or last is None:
            self._drop(BAD_CURSOR)
            return None
        return day, last

    def flash_problems(self) -> int:
        """Show every message on the page; the status the page answers with."""
        for message in self.problems:
            flash(message, "error")
        return 400 if self.problems else 200


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` that matches only ids the database can hold: a larger number is a 404 (a
    page that does not exist), not a query PostgreSQL refuses with a 500."""

    regex = r"[0-9]+"  # werkzeug's \d+ also matches "²", which int() refuses

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def install_id_converter(app: Flask) -> None:
    """Before any blueprint with `<int:...>` routes is registered."""
    app.url_map.converters["int"] = DatabaseIdConverter


def refuse_nul_in_forms() -> None:
    """A NUL in a staff form cannot come from a person typing or pasting, and PostgreSQL cannot
    store one: 400 before any view runs, rather than a 500 from deep inside one. (Other control
    characters can be pasted; the fields that care refuse them with a message.)"""
    for key, value in request.form.items(multi=True):
        if "\x00" in key or "\x00" in value:
            abort(400)


def bad_request_page(error):
    """The staff pages' 400: in Vietnamese, inside the page frame."""
    if not request.path.startswith("/admin"):
        return error
    return render_template(
        "admin/error.html",
        code=400,
        title="Yêu cầu không hợp lệ",
        message=(
            "Yêu cầu có dữ liệu không dùng được (ví dụ ký tự điều khiển). "
            "Vui lòng quay lại, kiểm tra rồi gửi lại."
        ),
    ), 400
