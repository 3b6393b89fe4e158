"""The figures supervisors report on, and the dashboard's counters: pure queries, no Flask.

Definitions (a range is a span of local calendar days, both ends included):

- received: a submitted dossier (not a draft) whose `received_at` falls in the range;
- resolved: a dossier whose result became ready (`result_ready_at`) in the range. A returned
  dossier passed through "result ready" first, so it is counted on the day its result was ready,
  not on the day it was handed over; refused, withdrawn and stopped dossiers are never resolved;
- early / on time / late: `WorkingCalendar.classify` of a resolved dossier (through
  `intake.dossier_queries.timeliness`, and `timeliness_sql` on the dashboard), comparing the local
  day its result was ready with its legal due date (`due_date`, which apologies never move); a
  dossier that needed an apology letter (`apology_count > 0`) is late whatever its new date;
- on-time rate: (early + on time) / resolved;
- SMS sent: a notice that left the outbox in the range, i.e. `sent_at` (the provider accepted
  it) or, for one that failed without ever being accepted, `settled_at` falls in the range;
- delivery rate: delivered / (delivered + undelivered + failed) among those notices; notices
  still waiting for the provider's receipt count in neither part;
- satisfaction rate: ratings 1 (very satisfied) or 2 (satisfied) / all ratings whose first reply
  (`received_at`) falls in the range, each with the citizen's latest answer.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from intake import dossier_queries
from intake.calendar import WorkingCalendar
from intake.dossier_queries import utc_bounds
from intake.statuses import OPEN_STATUSES, Channel, DossierStatus, Timeliness
from ivr import queries as ivr_queries
from plumbing.settings import Settings
from reports.labels import notice_kind
from scheduler import queries as scheduler_queries
from scheduler.models import StaffAlert
from sms import queries as sms_queries
from sms.models import NoticeStatus

CHANNEL_LABELS = {
    Channel.PHONE: "Điện thoại",
    Channel.COUNTER: "Tại quầy",
    Channel.ONLINE: "Trực tuyến",
    Channel.POST: "Bưu chính",
}
RATING_LABELS = {1: "Rất hài lòng", 2: "Hài lòng", 3: "Không hài lòng"}
SETTLED = (NoticeStatus.DELIVERED, NoticeStatus.UNDELIVERED, NoticeStatus.FAILED)
FAILED_WINDOW = dt.timedelta(days=7)
SERIES_DAYS = 14
ON_TIME_DAYS = 30


def rate(part: int, whole: int) -> float | None:
    """A share between 0 and 1, or None when there is nothing to divide (shown as "–")."""
    return part / whole if whole else None


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


# ---- the report ------------------------------------------------------------------------------


@dataclass
class Breakdown:
    """One row of a table: a procedure, a channel, or the total."""

    key: str
    label: str
    received: int = 0
    resolved: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.early + self.on_time, self.resolved)

    def count(self, timeliness: Timeliness) -> None:
        self.resolved += 1
        if timeliness is Timeliness.EARLY:
            self.early += 1
        elif timeliness is Timeliness.ON_TIME:
            self.on_time += 1
        else:
            self.late += 1


@dataclass
class SmsKind:
    kind: str
    label: str
    sent: int = 0  # left the outbox in the range (all statuses below, and "waiting")
    delivered: int = 0
    undelivered: int = 0
    failed: int = 0

    @property
    def waiting(self) -> int:
        """Accepted by the provider, no delivery receipt yet."""
        return self.sent - self.delivered - self.undelivered - self.failed

    @property
    def delivery_rate(self) -> float | None:
        return rate(self.delivered, self.delivered + self.undelivered + self.failed)


@dataclass
class Report:
    start: dt.date
    end: dt.date
    by_procedure: list[Breakdown]
    by_channel: list[Breakdown]
    total: Breakdown
    sms: list[SmsKind]
    sms_total: SmsKind
    ratings: dict[int, int]
    days: list[dt.date]
    received_per_day: list[int]
    resolved_per_day: list[int]

    @property
    def delivery_rate(self) -> float | None:
        return self.sms_total.delivery_rate

    @property
    def ratings_total(self) -> int:
        return sum(self.ratings.values())

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.ratings.get(1, 0) + self.ratings.get(2, 0), self.ratings_total)


def report(
    session: Session,
    settings: Settings,
    calendar: WorkingCalendar,
    start: dt.date,
    end: dt.date,
) -> Report:
    """The figures of the local days `start` to `end`, both included (see the module's doc)."""
    if end < start:
        raise ValueError("the range ends before it starts")
    zone = settings.zone
    low, high = utc_bounds(start, end, zone)
    procedures = {code: Breakdown(code, p.name) for code, p in settings.procedures.items()}
    channels = {c.value: Breakdown(c.value, CHANNEL_LABELS[c]) for c in Channel}
    total = Breakdown("total", "Tổng cộng")

    def row(table: dict[str, Breakdown], key: str) -> Breakdown:
        # A procedure since removed from config.toml still has its dossiers counted.
        return table.setdefault(key, Breakdown(key, key))

    for procedure, channel, count in dossier_queries.received_counts(session, low, high):
        for breakdown in (row(procedures, procedure), row(channels, channel.value), total):
            breakdown.received += count

    ready_days: Counter[dt.date] = Counter()
    for procedure, channel, due, ready_at, apologies in dossier_queries.resolved_rows(
        session, low, high
    ):
        ready_days[calendar.local(ready_at).date()] += 1
        timeliness = dossier_queries.timeliness(calendar, due, ready_at, apologies)
        for breakdown in (row(procedures, procedure), row(channels, channel.value), total):
            breakdown.count(timeliness)

    status_counts = sms_queries.left_counts(session, low, high)
    kinds: dict[str, SmsKind] = {}
    sms_total = SmsKind("total", "Tổng cộng")
    for kind, status, count in status_counts:
        for entry in (kinds.setdefault(kind, SmsKind(kind, notice_kind(kind))), sms_total):
            entry.sent += count
            if status is NoticeStatus.DELIVERED:
                entry.delivered += count
            elif status is NoticeStatus.UNDELIVERED:
                entry.undelivered += count
            elif status is NoticeStatus.FAILED:
                entry.failed += count

    ratings = dict.fromkeys(RATING_LABELS, 0)
    for value, count in sms_queries.rating_counts(session, low, high):
        ratings[value] = ratings.get(value, 0) + count

    days = days_between(start, end)
    return Report(
        start=start,
        end=end,
        by_procedure=list(procedures.values()),
        by_channel=[b for b in channels.values() if b.received or b.resolved],
        total=total,
        sms=sorted(kinds.values(), key=lambda k: (-k.sent, k.kind)),
        sms_total=sms_total,
        ratings=ratings,
        days=days,
        received_per_day=dossier_queries.received_per_day(session, start, end, zone),
        resolved_per_day=[ready_days.get(d, 0) for d in days],
    )


# ---- the dashboard ---------------------------------------------------------------------------


@dataclass
class Calls:
    total: int = 0
    submitted: int = 0
    abandoned: int = 0


@dataclass
class SmsQueue:
    pending_due: int = 0  # waiting for the dispatcher now
    held: int = 0  # waiting for the end of quiet hours
    retrying: int = 0  # a send failed; another attempt is scheduled
    failed_recently: int = 0  # failed for good in the last 7 days


@dataclass
class Dashboard:
    today: dt.date
    calls: Calls
    open_by_status: list[tuple[DossierStatus, int]]
    due_today: int
    overdue: int
    open_callbacks: int
    alerts: list[StaffAlert]
    alerts_total: int
    sms: SmsQueue
    days: list[dt.date]
    received_per_day: list[int]
    resolved_per_day: list[int]
    resolved_30_days: Breakdown = field(default_factory=lambda: Breakdown("30", "30 ngày"))

    @property
    def open_total(self) -> int:
        return sum(count for _, count in self.open_by_status)

    @property
    def on_time_rate(self) -> float | None:
        return self.resolved_30_days.on_time_rate


def dashboard(
    session: Session,
    settings: Settings,
    calendar: WorkingCalendar,
    now: dt.datetime,
    *,
    alert_limit: int = 20,
) -> Dashboard:
    """What is happening today, what is waiting, and the last weeks' trend.

    Due today / overdue count dossiers still being worked (open, result not ready) against the
    date last promised to the citizen: the new date of an apology letter, else the legal one.
    """
    zone = settings.zone
    today = calendar.local(now).date()
    low, high = utc_bounds(today, today, zone)

    total, submitted, abandoned = ivr_queries.call_counts(session, low, high)

    by_status = dossier_queries.open_counts_by_status(session)
    due_today, overdue = dossier_queries.due_today_and_overdue(session, today)

    open_callbacks = ivr_queries.open_callback_count(session)
    alerts = scheduler_queries.unresolved_alerts(session, alert_limit)
    alerts_total = scheduler_queries.unresolved_alert_count(session)
    queue = sms_queries.queue_counts(session, now, FAILED_WINDOW)

    first = today - dt.timedelta(days=SERIES_DAYS - 1)
    received_per_day = dossier_queries.received_per_day(session, first, today, zone)
    resolved_per_day = dossier_queries.resolved_per_day(session, first, today, zone)

    month_low, _ = utc_bounds(today - dt.timedelta(days=ON_TIME_DAYS - 1), today, zone)
    counts = dossier_queries.timeliness_counts(session, zone, month_low, high)
    resolved_30_days = Breakdown(
        "30",
        "30 ngày",
        resolved=sum(counts.values()),
        early=counts[Timeliness.EARLY],
        on_time=counts[Timeliness.ON_TIME],
        late=counts[Timeliness.LATE],
    )

    return Dashboard(
        today=today,
        calls=Calls(total, submitted, abandoned),
        open_by_status=[(s, by_status[s]) for s in OPEN_STATUSES if by_status.get(s)],
        due_today=due_today,
        overdue=overdue,
        open_callbacks=open_callbacks or 0,
        alerts=alerts,
        alerts_total=alerts_total or 0,
        sms=SmsQueue(*queue),
        days=days_between(first, today),
        received_per_day=received_per_day,
        resolved_per_day=resolved_per_day,
        resolved_30_days=resolved_30_days,
    )


# ---- the report as tables (for the Excel file, the command line and the page) ---------------


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "int"  # text, int, percent, date
    width: int = 12  # characters, for the Excel file


@dataclass(frozen=True)
class Table:
    title: str
    sheet: str  # at most 31 characters, no []:*?/\
    columns: Sequence[Column]
    rows: Sequence[Sequence[object]]


def report_tables(r: Report) -> list[Table]:
    def breakdown_rows(rows: list[Breakdown]) -> list[list[object]]:
        return [
            [b.label, b.received, b.resolved, b.early, b.on_time, b.late, b.on_time_rate]
            for b in [*rows, r.total]
        ]

    def breakdown_columns(first: str, width: int) -> list[Column]:
        return [
            Column(first, "text", width),
            Column("Tiếp nhận", width=11),
            Column("Đã có kết quả", width=14),
            Column("Trước hạn", width=11),
            Column("Đúng hạn", width=11),
            Column("Trễ hạn", width=11),
            Column("Tỷ lệ đúng hạn", "percent", 15),
        ]

    summary = [
        ["Hồ sơ tiếp nhận", r.total.received],
        ["Hồ sơ đã có kết quả", r.total.resolved],
        ["Trước hạn", r.total.early],
        ["Đúng hạn", r.total.on_time],
        ["Trễ hạn", r.total.late],
        ["Tỷ lệ trước và đúng hạn", r.total.on_time_rate],
        ["Tin nhắn đã gửi", r.sms_total.sent],
        ["Tỷ lệ tin nhắn đến máy", r.delivery_rate],
        ["Lượt đánh giá", r.ratings_total],
        ["Tỷ lệ hài lòng", r.satisfaction_rate],
    ]
    sms_rows = [
        [k.label, k.sent, k.delivered, k.undelivered, k.failed, k.waiting, k.delivery_rate]
        for k in [*r.sms, r.sms_total]
    ]
    return [
        Table(
            "Tổng hợp",
            "Tổng hợp",
            [Column("Chỉ tiêu", "text", 30), Column("Giá trị", "mixed", 14)],
            summary,
        ),
        Table(
            "Theo thủ tục",
            "Theo thủ tục",
            breakdown_columns("Thủ tục", 44),
            breakdown_rows(r.by_procedure),
        ),
        Table(
            "Theo kênh tiếp nhận",
            "Theo kênh",
            breakdown_columns("Kênh", 16),
            breakdown_rows(r.by_channel),
        ),
        Table(
            "Tin nhắn SMS",
            "Tin nhắn",
            [
                Column("Loại tin", "text", 32),
                Column("Đã gửi", width=10),
                Column("Đã đến máy", width=12),
                Column("Không đến", width=11),
                Column("Lỗi", width=8),
                Column("Chờ báo nhận", width=13),
                Column("Tỷ lệ đến máy", "percent", 14),
            ],
            sms_rows,
        ),
        Table(
            "Đánh giá mức độ hài lòng",
            "Đánh giá",
            [Column("Mức đánh giá", "text", 20), Column("Số lượt", width=10)],
            [[label, r.ratings.get(value, 0)] for value, label in RATING_LABELS.items()]
            + [["Tổng cộng", r.ratings_total]],
        ),
        Table(
            "Theo ngày",
            "Theo ngày",
            [
                Column("Ngày", "date", 12),
                Column("Tiếp nhận", width=11),
                Column("Đã có kết quả", width=14),
            ],
            [list(x) for x in zip(r.days, r.received_per_day, r.resolved_per_day, strict=True)],
        ),
    ]


def format_percent(value: float | None) -> str:
    """0.8571 -> "85,7 %" (the Vietnamese decimal comma); None -> "–"."""
    if value is None:
        return "–"
    return f"{value * 100:.1f}".replace(".", ",") + " %"


def format_cell(value: object, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "percent" or (kind == "mixed" and isinstance(value, float)):
        return format_percent(value)  # type: ignore[arg-type]
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    return str(value)


def text_tables(r: Report) -> str:
    """The report as plain-text tables, for the terminal."""
    lines = [
        f"BÁO CÁO TỪ {r.start:%d/%m/%Y} ĐẾN {r.end:%d/%m/%Y}",
    ]
    for table in report_tables(r):
        if table.sheet == "Theo ngày" and len(table.rows) > 62:
            continue  # a year of days is for the Excel file, not the terminal
        cells = [
            [format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)]
            for row in table.rows
        ]
        headers = [c.header for c in table.columns]
        widths = [
            max(len(h), *(len(row[i]) for row in cells)) if cells else len(h)
            for i, h in enumerate(headers)
        ]

        def line(values: list[str], widths: list[int] = widths, table: Table = table) -> str:
            parts = [
                v.ljust(w) if c.kind in ("text", "date") else v.rjust(w)
                for v, w, c in zip(values, widths, table.columns, strict=True)
            ]
            return "  ".join(parts).rstrip()

        lines += ["", table.title.upper(), line(headers), "  ".join("-" * w for w in widths)]
        lines += [line(row) for row in cells]
    return "\n".join(lines) + "\n"
