"""The report's and the dashboard's figures, against data sets counted by hand.

Times are written in local time (UTC+7); several rows sit within hours of a range edge, where
the UTC date and the local date differ, so a query that grouped or filtered by UTC day would
get a different answer.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from intake.models import Dossier
from intake.statuses import Channel, DossierStatus
from ivr.models import CallbackRequest, IvrCall
from reports import statistics
from reports.xlsx import workbook_bytes
from scheduler.models import StaffAlert
from sms.models import Notice, NoticeStatus, SurveyRating

VN = dt.timezone(dt.timedelta(hours=7))
S = DossierStatus
LICENCE, SAFETY = "fishing_licence", "vessel_safety"
START, END = dt.date(2026, 11, 2), dt.date(2026, 11, 27)
_codes = itertools.count(1)


def local(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=VN)


def dossier(
    session,
    procedure: str,
    channel: Channel,
    status: DossierStatus,
    *,
    received: dt.datetime | None,
    due: dt.date | None = None,
    ready: dt.datetime | None = None,
    apologies: int = 0,
    new_due: dt.date | None = None,
) -> Dossier:
    number = next(_codes)
    row = Dossier(
        code=None if status is S.DRAFT else f"T-261101-{number:04d}",
        procedure=procedure,
        variant="new",
        channel=channel,
        status=status,
        received_at=received,
        due_date=due,
        new_due_date=new_due,
        result_ready_at=ready,
        apology_count=apologies,
        caller_phone="+84912345678",
        notify_phone="+84912345678",
        created_at=received or local(11, 10),
        updated_at=received or local(11, 10),
    )
    session.add(row)
    session.flush()
    return row


def notice(
    session,
    kind: str,
    status: NoticeStatus,
    *,
    sent: dt.datetime | None = None,
    settled: dt.datetime | None = None,
    next_attempt: dt.datetime | None = None,
    attempts: int = 0,
    created: dt.datetime | None = None,
) -> None:
    created = created or sent or settled or next_attempt
    session.add(
        Notice(
            kind=kind,
            phone="+84912345678",
            text="x",
            encoding="gsm7",
            segments=1,
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt or created,
            sent_at=sent,
            settled_at=settled,
            created_at=created,
            updated_at=settled or sent or created,
        )
    )


def rating(session, row: Dossier, value: int, at: dt.datetime) -> None:
    session.add(SurveyRating(dossier_id=row.id, phone="+84912345678", rating=value, received_at=at))


def day(month: int, number: int) -> dt.date:
    return dt.date(2026, month, number)


PHONE, COUNTER, ONLINE = Channel.PHONE, Channel.COUNTER, Channel.ONLINE
# name: procedure, channel, status, received (local), due date, result ready (local), apologies
REPORT_DOSSIERS = {
    # Received in the range.
    # A: the range's first minutes; ready 09/11, due 10/11: early.
    "A": (LICENCE, PHONE, S.RETURNED, local(11, 2, 0, 10), day(11, 10), local(11, 9, 10), 0),
    # B: ready on its due day: on time.
    "B": (LICENCE, PHONE, S.RESULT_READY, local(11, 3), day(11, 11), local(11, 11, 16), 0),
    # C: ready 16/11, before the new date (17/11) its apology promised: late all the same.
    "C": (SAFETY, COUNTER, S.RETURNED, local(11, 4), day(11, 12), local(11, 16, 10), 1),
    # D: ready 14/11 01:00 local, which is still 13/11 (its due day) in UTC: late.
    "D": (SAFETY, PHONE, S.RETURNED, local(11, 5), day(11, 13), local(11, 14, 1), 0),
    # E: received in the range's last minutes; still open.
    "E": (LICENCE, COUNTER, S.IN_PROCESS, local(11, 27, 23, 50), day(12, 7), None, 0),
    # H: ready five minutes after the range: not resolved in it.
    "H": (LICENCE, PHONE, S.RESULT_READY, local(11, 25), day(12, 3), local(11, 28, 0, 5), 0),
    # J: refused, but received all the same.
    "J": (LICENCE, ONLINE, S.REFUSED, local(11, 20), day(11, 30), None, 0),
    # Received outside the range.
    # F: received in October, ready 02/11 08:00 (in the range), due 28/10: late.
    "F": (LICENCE, PHONE, S.RETURNED, local(10, 20), day(10, 28), local(11, 2, 8), 0),
    # G: one minute before the range.
    "G": (SAFETY, PHONE, S.ACCEPTED, local(11, 1, 23, 59), day(11, 10), None, 0),
    # I: five minutes after the range.
    "I": (LICENCE, PHONE, S.RECEIVED, local(11, 28, 0, 5), day(12, 8), None, 0),
    # A call still filling its application in: never a received dossier.
    "draft": (LICENCE, PHONE, S.DRAFT, None, None, None, 0),
}


def add_dossiers(session, table: dict[str, tuple]) -> dict[str, Dossier]:
    rows = {}
    for name, row in table.items():
        procedure, channel, status, received, due, ready, apologies = row
        # An apology promises a new date; the tests below only need one to exist.
        new_due = due + dt.timedelta(days=5) if apologies else None
        rows[name] = dossier(session, procedure, channel, status, received=received, due=due,
                             ready=ready, apologies=apologies, new_due=new_due)  # fmt: skip
    return rows


@pytest.fixture
def seeded(session):
    """The report's data set. Range: 02/11/2026 to 27/11/2026, both included."""
    rows = add_dossiers(session, REPORT_DOSSIERS)
    a, b, c, d, f, h = (rows[name] for name in "ABCDFH")

    notice(session, "receipt", NoticeStatus.DELIVERED, sent=local(11, 2, 10))
    notice(session, "receipt", NoticeStatus.DELIVERED, sent=local(11, 3, 10))
    notice(session, "receipt", NoticeStatus.UNDELIVERED, sent=local(11, 4, 10))
    notice(session, "result_collect", NoticeStatus.FAILED, settled=local(11, 9, 11))  # refused
    notice(session, "result_collect", NoticeStatus.SENT, sent=local(11, 10, 11))  # no receipt yet
    notice(session, "apology", NoticeStatus.DELIVERED, sent=local(11, 16, 8))
    notice(
        session, "reminder", NoticeStatus.FAILED, sent=local(11, 20, 8), settled=local(11, 21, 8)
    )  # accepted, then failed per the receipt
    notice(session, "receipt", NoticeStatus.DELIVERED, sent=local(11, 1, 23))  # before
    notice(session, "receipt", NoticeStatus.DELIVERED, sent=local(11, 28, 0, 30))  # after
    notice(session, "survey", NoticeStatus.PENDING, next_attempt=local(11, 27, 21))  # not sent
    notice(session, "survey", NoticeStatus.UNKNOWN, created=local(11, 26))  # not known yet

    rating(session, a, 1, local(11, 10))
    rating(session, b, 2, local(11, 12))
    rating(session, c, 3, local(11, 17))
    rating(session, d, 1, local(11, 27, 23, 59))
    rating(session, f, 3, local(11, 1, 20))  # before
    rating(session, h, 1, local(11, 28, 9))  # after
    session.commit()


def by_key(rows: list[statistics.Breakdown]) -> dict[str, tuple[int, ...]]:
    return {r.key: (r.received, r.resolved, r.early, r.on_time, r.late) for r in rows}


def test_report_figures(runtime, session, seeded):
    r = statistics.report(session, runtime.settings, runtime.calendar(), START, END)

    # Received in range: A, B (licence, phone), C (safety, counter), D (safety, phone),
    # E (licence, counter, 27/11 23:50), H (licence, phone), J (licence, online, refused) = 7.
    # Not: F (20/10), G (01/11 23:59), I (28/11 00:05), the draft.
    # Resolved (result ready in range): A early, B on time, C late (apology), D late (14/11
    # local), F late (ready 02/11, due 28/10) = 5; H was ready 28/11 00:05, outside.
    assert (r.total.received, r.total.resolved) == (7, 5)
    assert (r.total.early, r.total.on_time, r.total.late) == (1, 1, 3)
    assert r.total.on_time_rate == pytest.approx(2 / 5)
    # Licence: received A, B, E, H, J = 5; resolved A early, B on time, F late = 3.
    # Safety: received C, D = 2; resolved C late, D late = 2.
    assert by_key(r.by_procedure) == {LICENCE: (5, 3, 1, 1, 1), SAFETY: (2, 2, 0, 0, 2)}
    # Phone: received A, B, D, H = 4; resolved A early, B on time, D late, F late = 4.
    # Counter: received C, E = 2; resolved C late = 1. Online: received J = 1, none resolved.
    # Post: nothing, so no row.
    assert by_key(r.by_channel) == {
        "phone": (4, 4, 1, 1, 2),
        "counter": (2, 1, 0, 0, 1),
        "online": (1, 0, 0, 0, 0),
    }

    # Left the outbox in range: 3 receipts (2 delivered, 1 undelivered), 2 result_collect
    # (1 failed without being accepted, 1 awaiting its receipt), 1 apology delivered, 1 reminder
    # failed after acceptance = 7. Delivery rate: 3 delivered / (3 + 1 undelivered + 2 failed).
    sms = {k.kind: (k.sent, k.delivered, k.undelivered, k.failed, k.waiting) for k in r.sms}
    assert sms == {
        "receipt": (3, 2, 1, 0, 0),
        "result_collect": (2, 0, 0, 1, 1),
        "apology": (1, 1, 0, 0, 0),
        "reminder": (1, 0, 0, 1, 0),
    }
    assert r.sms_total.sent == 7
    assert r.delivery_rate == pytest.approx(3 / 6)

    # Ratings in range: A 1, B 2, C 3, D 1 (27/11 23:59) = 4, of which 3 are 1 or 2.
    assert r.ratings == {1: 2, 2: 1, 3: 1}
    assert r.satisfaction_rate == pytest.approx(3 / 4)

    # 26 days; received on 2, 3, 4, 5, 20, 25, 27/11; resolved on 2 (F), 9, 11, 14 (D), 16/11.
    assert len(r.days) == 26 and r.days[0] == START and r.days[-1] == END
    received = {d.day: n for d, n in zip(r.days, r.received_per_day, strict=True) if n}
    resolved = {d.day: n for d, n in zip(r.days, r.resolved_per_day, strict=True) if n}
    assert received == {2: 1, 3: 1, 4: 1, 5: 1, 20: 1, 25: 1, 27: 1}
    assert resolved == {2: 1, 9: 1, 11: 1, 14: 1, 16: 1}


def test_an_empty_range_has_no_rates(runtime, session, seeded):
    r = statistics.report(
        session, runtime.settings, runtime.calendar(), dt.date(2025, 1, 1), dt.date(2025, 1, 31)
    )
    assert (r.total.received, r.total.resolved, r.sms_total.sent, r.ratings_total) == (0, 0, 0, 0)
    assert r.total.on_time_rate is None and r.delivery_rate is None
    assert r.satisfaction_rate is None
    assert statistics.format_percent(r.satisfaction_rate) == "–"
    assert sum(r.received_per_day) == 0 and len(r.days) == 31


def test_a_range_ending_before_it_starts_is_refused(runtime, session):
    with pytest.raises(ValueError):
        statistics.report(session, runtime.settings, runtime.calendar(), END, START)


def test_text_and_excel_carry_the_same_figures(runtime, session, seeded):
    from io import BytesIO

    from openpyxl import load_workbook

    r = statistics.report(session, runtime.settings, runtime.calendar(), START, END)
    text = statistics.text_tables(r)
    assert "BÁO CÁO TỪ 02/11/2026 ĐẾN 27/11/2026" in text
    assert "Tỷ lệ hài lòng" in text and "75,0 %" in text and "40,0 %" in text
    book = load_workbook(BytesIO(workbook_bytes(r)))
    assert book.sheetnames == [
        "Tổng hợp", "Theo thủ tục", "Theo kênh", "Tin nhắn", "Đánh giá", "Theo ngày"
    ]  # fmt: skip
    procedures = book["Theo thủ tục"]
    assert [c.value for c in procedures[4]][:3] == ["Thủ tục", "Tiếp nhận", "Đã có kết quả"]
    assert procedures["A4"].font.bold
    totals = [c.value for c in procedures[procedures.max_row]]
    assert totals[:6] == ["Tổng cộng", 7, 5, 1, 1, 3]
    assert totals[6] == pytest.approx(0.4)


# Seen from Tuesday 01/12/2026 09:00 (the clock fixture).
DASHBOARD_DOSSIERS = {
    # Open: received ×2 (one due today).
    "due today": (LICENCE, PHONE, S.RECEIVED, local(11, 23), day(12, 1), None, 0),
    "new": (LICENCE, PHONE, S.RECEIVED, local(11, 30), day(12, 8), None, 0),
    # Open: in process ×2, one overdue, one apologised with its new date (30/11 + 5 days) ahead.
    "overdue": (SAFETY, PHONE, S.IN_PROCESS, local(11, 18), day(11, 26), None, 0),
    "apologised": (SAFETY, PHONE, S.IN_PROCESS, local(11, 17), day(11, 30), None, 1),
    # Open: result ready (ready early on 17/11, due 18/11); past its due date but not overdue.
    "ready": (LICENCE, PHONE, S.RESULT_READY, local(11, 10), day(11, 18), local(11, 17, 10), 0),
    # Closed: returned late (ready yesterday, due 20/11); refused (never open).
    "late": (LICENCE, PHONE, S.RETURNED, local(11, 12), day(11, 20), local(11, 30, 15), 0),
    "refused": (LICENCE, PHONE, S.REFUSED, local(11, 30, 10), day(12, 8), None, 0),
    # Resolved 31/10: outside the on-time window (30 days: 02/11 to 01/12).
    "old": (LICENCE, PHONE, S.RETURNED, local(10, 20), day(11, 2), local(10, 31, 10), 0),
}


def test_dashboard_figures(runtime, session, clock):
    now = clock.now()  # Tuesday 01/12/2026 09:00
    today = dt.date(2026, 12, 1)
    assert runtime.calendar().local(now).date() == today
    # Calls: three today (submitted, abandoned, status enquiry), one last night (not today).
    for outcome, started in [
        ("submitted", local(12, 1, 8)),
        ("abandoned", local(12, 1, 0, 5)),
        ("status", local(12, 1, 8, 30)),
        ("submitted", local(11, 30, 23, 55)),
    ]:
        session.add(IvrCall(provider="console", provider_call_id=f"c{started:%d%H%M}",
                            started_at=started, outcome=outcome))  # fmt: skip
    add_dossiers(session, DASHBOARD_DOSSIERS)
    session.add_all([
        CallbackRequest(reason="operator_busy", phone="+84912345678"),
        CallbackRequest(reason="failures", phone="+84912345679"),
        CallbackRequest(reason="failures", phone="+84912345670", closed_at=local(11, 30)),
        StaffAlert(kind="auto_apology", message="Hồ sơ A quá hạn", created_at=local(11, 30)),
        StaffAlert(kind="auto_apology", message="Hồ sơ B quá hạn", created_at=local(12, 1, 7)),
        StaffAlert(kind="auto_apology", message="cũ", created_at=local(11, 1),
                   resolved_at=local(11, 2)),
    ])  # fmt: skip
    hour = dt.timedelta(hours=1)
    notice(session, "receipt", NoticeStatus.PENDING, next_attempt=now - hour)  # due now
    notice(session, "reminder", NoticeStatus.PENDING, next_attempt=now + hour)  # quiet hours
    notice(session, "survey", NoticeStatus.PENDING, next_attempt=now + 2 * hour)  # quiet hours
    notice(session, "apology", NoticeStatus.PENDING, next_attempt=now + hour, attempts=2)  # retry
    notice(session, "receipt", NoticeStatus.FAILED, settled=now - dt.timedelta(days=2))
    notice(session, "receipt", NoticeStatus.FAILED, settled=now - dt.timedelta(days=10))
    notice(session, "receipt", NoticeStatus.DELIVERED, sent=now - hour)
    session.commit()

    board = statistics.dashboard(session, runtime.settings, runtime.calendar(), now)

    assert (board.calls.total, board.calls.submitted, board.calls.abandoned) == (3, 1, 1)
    assert board.open_by_status == [(S.RECEIVED, 2), (S.IN_PROCESS, 2), (S.RESULT_READY, 1)]
    assert board.open_total == 5
    assert (board.due_today, board.overdue) == (1, 1)
    assert board.open_callbacks == 2
    assert board.alerts_total == 2
    assert [a.message for a in board.alerts] == ["Hồ sơ B quá hạn", "Hồ sơ A quá hạn"]
    sms = board.sms
    assert (sms.pending_due, sms.held, sms.retrying, sms.failed_recently) == (1, 2, 1, 1)
    # Last 30 days: ready 17/11 early, ready 30/11 late (31/10 is outside) -> 1 of 2.
    assert board.resolved_30_days.resolved == 2
    assert board.on_time_rate == pytest.approx(0.5)
    # Last 14 days: 18/11 to 01/12. Received: 18/11, 23/11, 30/11 ×2 (09:00 and 10:00,
    # the refused one too); 17/11 and before are outside. Resolved: 30/11 (17/11 is outside).
    assert board.days[0] == dt.date(2026, 11, 18) and board.days[-1] == today
    received = {d: n for d, n in zip(board.days, board.received_per_day, strict=True) if n}
    resolved = {d: n for d, n in zip(board.days, board.resolved_per_day, strict=True) if n}
    assert received == {dt.date(2026, 11, 18): 1, dt.date(2026, 11, 23): 1,
                        dt.date(2026, 11, 30): 2}  # fmt: skip
    assert resolved == {dt.date(2026, 11, 30): 1}
