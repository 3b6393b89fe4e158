"""Working days, receipt days and due dates (intake/calendar.py).

Every expected date below is written by hand from a printed calendar and the holiday notices, never
computed with the `holidays` package the code uses. Convention (docs/domain.md "Working days and due
dates"): receipt before 15:00 local on a working day counts that day, otherwise the next working
day; the due date is the N-th working day after the receipt day. Days off used here:

2026 (Bộ luật Lao động 2019 điều 112 + the government's notices):
- New Year Thu 1/1 plus Fri 2/1 swapped with Sat 10/1 worked: văn bản 12729/VPCP-KGVX, 25/12/2025.
- Tết Bính Ngọ off Sat 14/2 - Sun 22/2 (weekdays Mon 16 - Fri 20/2); National Day off
  Sat 29/8 - Wed 2/9 (Tue 1/9, Wed 2/9) with Mon 31/8 swapped for Sat 22/8 worked: Văn phòng
  Chính phủ conveying the Prime Minister's decision on the Bộ Nội vụ proposal (reported
  13/10/2025; the document number could not be confirmed).
- Hùng Kings 10/3 lunar = Sun 26/4, observed Mon 27/4; 30/4 Thu, 1/5 Fri (điều 112 khoản 1, 3).
- Vietnam Culture Day Tue 24/11 (Nghị quyết 80-NQ/TW; Nghị quyết 30/NQ-CP tasks amending điều 112
  khoản 1; the amending law's number could not be confirmed; docs/domain.md counts it from 2026).
2027 (Bộ luật Lao động 2019 điều 112 + thông báo của Bộ Nội vụ; the 2027 notice number could not
be confirmed): New Year Fri 1/1; Tết 6/2 off Thu 4/2 - Wed 10/2; Hùng Kings Fri 16/4; 30/4 Fri,
1/5 Sat observed Mon 3/5; National Day Thu 2/9 + Fri 3/9; Culture Day Wed 24/11.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from intake.calendar import WorkingCalendar
from intake.calendar_store import calendar_from_settings
from intake.statuses import Timeliness

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = dt.UTC
D = dt.date


def calendar(**corrections) -> WorkingCalendar:
    return WorkingCalendar(zone=VN, cutoff=dt.time(15, 0), **corrections)


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=VN)


# (received at, working days, receipt day, due date)
DUE_CASES = [
    # docs/domain.md: Tue 1/12 before cut-off = receipt; Wed 2=1, Thu 3=2, Fri 4=3, Mon 7=4,
    # Tue 8=5, Wed 9=6.
    pytest.param(
        local(2026, 12, 1, 9),
        6,
        D(2026, 12, 1),
        D(2026, 12, 9),
        id="domain example: Tuesday morning, 6 days, due the next Wednesday",
    ),
    # docs/domain.md: Fri 27/11 16:00 -> Mon 30/11; Tue 1/12=1, Wed 2=2, Thu 3=3, Fri 4=4, Mon 7=5,
    # Tue 8=6.
    pytest.param(
        local(2026, 11, 27, 16),
        6,
        D(2026, 11, 30),
        D(2026, 12, 8),
        id="domain example: Friday after 15:00 counts as Monday, due Tuesday week",
    ),
    # Fri 4/12 15:00 is after the cut-off -> Mon 7/12; Tue 8=1, Wed 9=2, Thu 10=3.
    pytest.param(
        local(2026, 12, 4, 15, 0),
        3,
        D(2026, 12, 7),
        D(2026, 12, 10),
        id="Friday at exactly 15:00 counts as the next Monday",
    ),
    # Fri 4/12 14:59 is before the cut-off -> Fri 4/12; Mon 7=1, Tue 8=2, Wed 9=3.
    pytest.param(
        local(2026, 12, 4, 14, 59),
        3,
        D(2026, 12, 4),
        D(2026, 12, 9),
        id="Friday at 14:59 counts that Friday",
    ),
    # 08:00 UTC = 15:00 local on Fri 4/12 -> Mon 7/12; Tue 8=1.
    pytest.param(
        dt.datetime(2026, 12, 4, 8, 0, tzinfo=UTC),
        1,
        D(2026, 12, 7),
        D(2026, 12, 8),
        id="a UTC time is judged at local time: 08:00 UTC is 15:00 in Vietnam",
    ),
    # 20:00 UTC Mon 30/11 = 03:00 local Tue 1/12 -> Tue 1/12; Wed 2=1.
    pytest.param(
        dt.datetime(2026, 11, 30, 20, 0, tzinfo=UTC),
        1,
        D(2026, 12, 1),
        D(2026, 12, 2),
        id="a UTC evening is already the next local morning",
    ),
    # Sun 6/12 -> Mon 7/12; Tue 8=1, Wed 9=2.
    pytest.param(
        local(2026, 12, 6, 10),
        2,
        D(2026, 12, 7),
        D(2026, 12, 9),
        id="a Sunday receipt counts as Monday",
    ),
    # Tết 2026. Thu 12/2 10:00 = receipt; Fri 13=1; Mon 16-Fri 20 Tết off; Mon 23=2, Tue 24=3,
    # Wed 25=4, Thu 26=5, Fri 27=6.
    pytest.param(
        local(2026, 2, 12, 10),
        6,
        D(2026, 2, 12),
        D(2026, 2, 27),
        id="received just before Tet 2026, the five Tet weekdays are skipped",
    ),
    # Fri 13/2 16:00 -> Mon 16-Fri 20 off -> Mon 23/2; Tue 24=1.
    pytest.param(
        local(2026, 2, 13, 16),
        1,
        D(2026, 2, 23),
        D(2026, 2, 24),
        id="Friday after 15:00 before Tet 2026 counts as the Monday after Tet",
    ),
    # Tue 17/2 (Tết day 1) -> Mon 23/2; Tue 24=1, Wed 25=2, Thu 26=3.
    pytest.param(
        local(2026, 2, 17, 9),
        3,
        D(2026, 2, 23),
        D(2026, 2, 26),
        id="received on Tet 2026 itself counts as the first day back",
    ),
    # Hùng Kings observed Mon 27/4/2026. Fri 24/4 = receipt; Mon 27 off; Tue 28=1, Wed 29=2.
    pytest.param(
        local(2026, 4, 24, 10),
        2,
        D(2026, 4, 24),
        D(2026, 4, 29),
        id="across Hung Kings day 2026 observed on Monday 27/4",
    ),
    # Tue 28/4 = receipt; Wed 29=1; Thu 30/4, Fri 1/5 off; Mon 4/5=2, Tue 5/5=3.
    pytest.param(
        local(2026, 4, 28, 9), 3, D(2026, 4, 28), D(2026, 5, 5), id="across 30/4 and 1/5 2026"
    ),
    # Wed 29/4 15:30 -> Thu 30, Fri 1 off -> Mon 4/5; Tue 5=1.
    pytest.param(
        local(2026, 4, 29, 15, 30),
        1,
        D(2026, 5, 4),
        D(2026, 5, 5),
        id="the afternoon before 30/4 2026 counts as Monday 4/5",
    ),
    # Swapped Saturday. Sat 22/8/2026 is worked: receipt that day; Mon 24=1, Tue 25=2.
    pytest.param(
        local(2026, 8, 22, 9),
        2,
        D(2026, 8, 22),
        D(2026, 8, 25),
        id="the worked Saturday 22/8/2026 receives dossiers that day",
    ),
    # Fri 21/8 16:00 -> Sat 22/8 (worked); Mon 24=1.
    pytest.param(
        local(2026, 8, 21, 16),
        1,
        D(2026, 8, 22),
        D(2026, 8, 24),
        id="Friday after 15:00 before the worked Saturday counts as that Saturday",
    ),
    # Sat 22/8 16:00 -> Sun 23 off -> Mon 24/8; Tue 25=1.
    pytest.param(
        local(2026, 8, 22, 16),
        1,
        D(2026, 8, 24),
        D(2026, 8, 25),
        id="the cut-off applies on the worked Saturday too",
    ),
    # Thu 27/8 = receipt; Fri 28=1; Mon 31/8 (swapped) off, Tue 1/9, Wed 2/9 off; Thu 3=2, Fri 4=3.
    pytest.param(
        local(2026, 8, 27, 10),
        3,
        D(2026, 8, 27),
        D(2026, 9, 4),
        id="across 2/9/2026 with the swapped Monday 31/8 off",
    ),
    # Mon 31/8 (swapped day off) -> Tue 1, Wed 2 off -> Thu 3/9; Fri 4=1.
    pytest.param(
        local(2026, 8, 31, 9),
        1,
        D(2026, 9, 3),
        D(2026, 9, 4),
        id="received on the swapped Monday 31/8/2026 counts as Thursday 3/9",
    ),
    # Tue 24/11 (Culture Day) -> Wed 25/11; Thu 26=1, Fri 27=2.
    pytest.param(
        local(2026, 11, 24, 9),
        2,
        D(2026, 11, 25),
        D(2026, 11, 27),
        id="received on Vietnam Culture Day 24/11/2026 counts as the next day",
    ),
    # Mon 23/11 = receipt; Tue 24 off; Wed 25=1.
    pytest.param(
        local(2026, 11, 23, 10),
        1,
        D(2026, 11, 23),
        D(2026, 11, 25),
        id="across Vietnam Culture Day 2026",
    ),
    # Year end. Wed 30/12 = receipt; Thu 31=1; Fri 1/1/2027 off; Mon 4=2, Tue 5=3.
    pytest.param(
        local(2026, 12, 30, 10), 3, D(2026, 12, 30), D(2027, 1, 5), id="across New Year 2027"
    ),
    # Tết 2027. Wed 3/2 16:00 -> Thu 4-Wed 10 off -> Thu 11/2; Fri 12=1, Mon 15=2, Tue 16=3.
    pytest.param(
        local(2027, 2, 3, 16),
        3,
        D(2027, 2, 11),
        D(2027, 2, 16),
        id="Wednesday after 15:00 before Tet 2027 counts as the first day back",
    ),
    # Wed 3/2 10:00 = receipt; Thu 4-Wed 10 off; Thu 11=1, Fri 12=2, Mon 15=3.
    pytest.param(
        local(2027, 2, 3, 10),
        3,
        D(2027, 2, 3),
        D(2027, 2, 15),
        id="Wednesday morning before Tet 2027 skips the whole Tet week",
    ),
    # Thu 15/4/2027 = receipt; Fri 16 Hùng Kings off; Mon 19=1.
    pytest.param(
        local(2027, 4, 15, 9),
        1,
        D(2027, 4, 15),
        D(2027, 4, 19),
        id="across Hung Kings day 2027 on Friday 16/4",
    ),
    # Thu 29/4/2027 = receipt; Fri 30 off; Mon 3/5 off (1/5 Sat observed); Tue 4=1, Wed 5=2.
    pytest.param(
        local(2027, 4, 29, 9),
        2,
        D(2027, 4, 29),
        D(2027, 5, 5),
        id="across 30/4 2027 and 1/5 observed on Monday 3/5",
    ),
    # Wed 1/9/2027 = receipt; Thu 2, Fri 3 off; Mon 6=1, Tue 7=2.
    pytest.param(
        local(2027, 9, 1, 9), 2, D(2027, 9, 1), D(2027, 9, 7), id="across 2/9 and 3/9 2027"
    ),
]


@pytest.mark.parametrize(("received_at", "days", "receipt", "due"), DUE_CASES)
def test_receipt_day_and_due_date(received_at, days, receipt, due):
    cal = calendar()
    assert cal.receipt_day(received_at) == receipt
    assert cal.due_date(received_at, days) == due


WORKING_DAY_CASES = [
    pytest.param(D(2026, 12, 1), True, id="an ordinary Tuesday is worked"),
    pytest.param(D(2026, 12, 5), False, id="an ordinary Saturday is off"),
    pytest.param(D(2026, 12, 6), False, id="an ordinary Sunday is off"),
    pytest.param(D(2026, 1, 1), False, id="New Year 2026 is off"),
    pytest.param(D(2026, 2, 13), True, id="Friday before Tet 2026 is worked"),
    pytest.param(D(2026, 2, 16), False, id="Monday 16/2/2026 is a Tet day off"),
    pytest.param(D(2026, 2, 17), False, id="Tet 2026 itself is off"),
    pytest.param(D(2026, 2, 20), False, id="Friday 20/2/2026 is the last Tet day off"),
    pytest.param(D(2026, 2, 23), True, id="Monday 23/2/2026 is the first day back"),
    pytest.param(D(2026, 4, 27), False, id="Hung Kings 2026 is observed on Monday 27/4"),
    pytest.param(D(2026, 4, 30), False, id="30/4/2026 is off"),
    pytest.param(D(2026, 5, 1), False, id="1/5/2026 is off"),
    pytest.param(D(2026, 8, 22), True, id="Saturday 22/8/2026 is worked"),
    pytest.param(D(2026, 8, 31), False, id="Monday 31/8/2026 is swapped off"),
    pytest.param(D(2026, 9, 1), False, id="1/9/2026 is the day next to National Day"),
    pytest.param(D(2026, 9, 2), False, id="National Day 2026 is off"),
    pytest.param(D(2026, 9, 3), True, id="Thursday 3/9/2026 is worked"),
    pytest.param(D(2026, 11, 24), False, id="Vietnam Culture Day 2026 is off"),
    pytest.param(D(2027, 1, 1), False, id="New Year 2027 is off"),
    pytest.param(D(2027, 2, 3), True, id="Wednesday 3/2/2027 is worked"),
    pytest.param(D(2027, 2, 4), False, id="Thursday 4/2/2027 is the first Tet day off"),
    pytest.param(D(2027, 2, 10), False, id="Wednesday 10/2/2027 is the last Tet day off"),
    pytest.param(D(2027, 2, 11), True, id="Thursday 11/2/2027 is the first day back"),
    pytest.param(D(2027, 4, 16), False, id="Hung Kings 2027 on Friday 16/4 is off"),
    pytest.param(D(2027, 5, 3), False, id="1/5/2027 on a Saturday is observed Monday 3/5"),
    pytest.param(D(2027, 9, 3), False, id="Friday 3/9/2027 is the day next to National Day"),
    pytest.param(D(2027, 11, 24), False, id="Vietnam Culture Day 2027 is off"),
]


@pytest.mark.parametrize(("day", "worked"), WORKING_DAY_CASES)
def test_is_working_day(day, worked):
    assert calendar().is_working_day(day) is worked


# 12729/VPCP-KGVX (25/12/2025): Fri 2/1/2026 off, worked on Sat 10/1/2026. The `holidays`
# package (0.109) does not have this swap and config.toml does not correct it: known discrepancy.
@pytest.mark.parametrize(
    ("day", "worked"),
    [
        pytest.param(D(2026, 1, 2), False, id="Friday 2/1/2026 is swapped off"),
        pytest.param(D(2026, 1, 10), True, id="Saturday 10/1/2026 is worked instead"),
    ],
)
def test_the_shipped_config_carries_the_new_year_2026_swap(base_settings, day, worked):
    # holidays 0.109 lacks this swap of 12729/VPCP-KGVX; config.toml supplies it, which is exactly
    # what the corrections are for. The service's calendar is the one built from the settings.
    assert calendar_from_settings(base_settings).is_working_day(day) is worked


def test_config_corrections_give_the_new_year_2026_swap():
    fixed = calendar(extra_holidays=[D(2026, 1, 2)], worked_days=[D(2026, 1, 10)])
    assert not fixed.is_working_day(D(2026, 1, 2))
    assert fixed.is_working_day(D(2026, 1, 10))
    # Wed 31/12/2025 16:00 -> Thu 1/1, Fri 2/1 off, weekend -> Mon 5/1; Tue 6=1, Wed 7=2, Thu 8=3,
    # Fri 9=4, Sat 10 (worked)=5.
    assert fixed.receipt_day(local(2025, 12, 31, 16)) == D(2026, 1, 5)
    assert fixed.due_date(local(2025, 12, 31, 16), 5) == D(2026, 1, 10)


# --- Corrections from config / the database -------------------------------------------------


def test_an_extra_holiday_from_config_moves_the_due_date():
    received = local(2026, 12, 30, 10)
    # Without: Thu 31/12=1, (Fri 1/1 off), Mon 4=2, Tue 5=3.
    assert calendar().due_date(received, 3) == D(2027, 1, 5)
    # With 31/12 off: Mon 4=1, Tue 5=2, Wed 6=3.
    extra = calendar(extra_holidays=[D(2026, 12, 31)])
    assert not extra.is_working_day(D(2026, 12, 31))
    assert extra.due_date(received, 3) == D(2027, 1, 6)


def test_a_receipt_on_an_extra_holiday_counts_as_the_next_working_day():
    # Thu 31/12 off, Fri 1/1 off, weekend -> Mon 4/1/2027; Tue 5=1.
    extra = calendar(extra_holidays=[D(2026, 12, 31)])
    assert extra.receipt_day(local(2026, 12, 31, 9)) == D(2027, 1, 4)
    assert extra.due_date(local(2026, 12, 31, 9), 1) == D(2027, 1, 5)


def test_a_worked_saturday_from_config_moves_the_due_date():
    received = local(2026, 12, 11, 10)  # Fri 11/12
    # Without: Mon 14=1, Tue 15=2.
    assert calendar().due_date(received, 2) == D(2026, 12, 15)
    # With Sat 12/12 worked: Sat 12=1, Mon 14=2.
    worked = calendar(worked_days=[D(2026, 12, 12)])
    assert worked.is_working_day(D(2026, 12, 12))
    assert worked.due_date(received, 2) == D(2026, 12, 14)
    # Fri 11/12 16:00 -> Sat 12/12 (worked); Mon 14=1.
    assert worked.receipt_day(local(2026, 12, 11, 16)) == D(2026, 12, 12)
    assert worked.due_date(local(2026, 12, 11, 16), 1) == D(2026, 12, 14)


def test_a_removed_holiday_becomes_a_working_day():
    received = local(2026, 4, 24, 10)  # Fri 24/4
    # Without: Mon 27/4 (Hùng Kings observed) off; Tue 28=1.
    assert calendar().due_date(received, 1) == D(2026, 4, 28)
    # With 27/4 removed: Mon 27=1.
    removed = calendar(removed_holidays=[D(2026, 4, 27)])
    assert removed.is_working_day(D(2026, 4, 27))
    assert removed.due_date(received, 1) == D(2026, 4, 27)


def test_removing_culture_day_makes_24_11_2026_a_working_day():
    # In case the Labour Code amendment is not in force: Mon 23/11 = receipt; Tue 24=1.
    removed = calendar(removed_holidays=[D(2026, 11, 24)])
    assert removed.due_date(local(2026, 11, 23, 10), 1) == D(2026, 11, 24)


def test_removing_a_holiday_does_not_make_a_weekend_worked():
    # Sun 26/4/2026 is Hùng Kings day itself but a Sunday: removing it leaves a Sunday.
    assert not calendar(removed_holidays=[D(2026, 4, 26)]).is_working_day(D(2026, 4, 26))


def test_a_later_cut_off_from_config_keeps_a_16_00_receipt_that_day():
    late = WorkingCalendar(zone=VN, cutoff=dt.time(16, 30))
    # Fri 27/11 16:00 < 16:30 -> Fri 27/11; Mon 30=1.
    assert late.receipt_day(local(2026, 11, 27, 16)) == D(2026, 11, 27)
    assert late.due_date(local(2026, 11, 27, 16), 1) == D(2026, 11, 30)


# --- working_days_between, add_working_days ---------------------------------------------------

BETWEEN_CASES = [
    # Fri 13/2 < d <= Fri 27/2/2026: Mon 16-Fri 20 off; Mon 23, Tue 24, Wed 25, Thu 26, Fri 27 = 5.
    pytest.param(
        D(2026, 2, 13), D(2026, 2, 27), 5, id="across Tet 2026 only the week after counts"
    ),
    # Thu 12/2 < d <= Mon 23/2/2026: Fri 13, Mon 23 = 2.
    pytest.param(D(2026, 2, 12), D(2026, 2, 23), 2, id="the Tet 2026 fortnight holds two days"),
    # Wed 3/2 < d <= Fri 12/2/2027: Thu 4-Wed 10 off; Thu 11, Fri 12 = 2.
    pytest.param(D(2027, 2, 3), D(2027, 2, 12), 2, id="across Tet 2027 only two days count"),
    # Fri 21/8 < d <= Fri 4/9/2026: Sat 22 (worked), Mon 24-Fri 28 (5), Thu 3, Fri 4 = 8.
    pytest.param(D(2026, 8, 21), D(2026, 9, 4), 8, id="around 2/9/2026 the worked Saturday counts"),
    # after excluded, until included: Tue 1/12 < d <= Wed 2/12 = 1.
    pytest.param(D(2026, 12, 1), D(2026, 12, 2), 1, id="the end day counts and the start does not"),
    pytest.param(D(2026, 12, 2), D(2026, 12, 2), 0, id="the same day counts nothing"),
    pytest.param(D(2026, 12, 9), D(2026, 12, 1), 0, id="an end before the start counts nothing"),
]


@pytest.mark.parametrize(("after", "until", "count"), BETWEEN_CASES)
def test_working_days_between(after, until, count):
    assert calendar().working_days_between(after, until) == count


def test_add_working_days_skips_tet_2026():
    # Fri 13/2 + 1: Mon 16-Fri 20 off -> Mon 23/2.
    assert calendar().add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 23)
    assert calendar().next_working_day(D(2026, 2, 13)) == D(2026, 2, 23)


@pytest.mark.parametrize("count", [0, -1])
def test_add_working_days_needs_at_least_one_day(count):
    with pytest.raises(ValueError):
        calendar().add_working_days(D(2026, 12, 1), count)


def test_naive_datetimes_are_refused():
    naive = dt.datetime(2026, 12, 1, 9, 0)
    cal = calendar()
    with pytest.raises(ValueError):
        cal.receipt_day(naive)
    with pytest.raises(ValueError):
        cal.due_date(naive, 6)
    with pytest.raises(ValueError):
        cal.classify(D(2026, 12, 9), naive)


# --- classify ----------------------------------------------------------------------------------

DUE = D(2026, 12, 9)  # Wed 9/12/2026, the docs/domain.md example's due date

CLASSIFY_CASES = [
    pytest.param(
        local(2026, 12, 8, 10), False, Timeliness.EARLY, id="ready the day before is early"
    ),
    pytest.param(
        local(2026, 12, 9, 8), False, Timeliness.ON_TIME, id="ready on the due day is on time"
    ),
    # 16:59 UTC Wed 9/12 = 23:59 local Wed 9/12.
    pytest.param(
        dt.datetime(2026, 12, 9, 16, 59, tzinfo=UTC),
        False,
        Timeliness.ON_TIME,
        id="ready at 23:59 local on the due day is on time",
    ),
    # 17:00 UTC Wed 9/12 = 00:00 local Thu 10/12.
    pytest.param(
        dt.datetime(2026, 12, 9, 17, 0, tzinfo=UTC),
        False,
        Timeliness.LATE,
        id="ready at midnight local after the due day is late",
    ),
    # 18:00 UTC Tue 8/12 = 01:00 local Wed 9/12: the UTC date would say early.
    pytest.param(
        dt.datetime(2026, 12, 8, 18, 0, tzinfo=UTC),
        False,
        Timeliness.ON_TIME,
        id="the local day decides, not the UTC day",
    ),
    pytest.param(local(2026, 12, 10, 9), False, Timeliness.LATE, id="ready the day after is late"),
    pytest.param(
        local(2026, 12, 8, 10),
        True,
        Timeliness.LATE,
        id="an apologised dossier is late even when ready early",
    ),
    pytest.param(
        local(2026, 12, 9, 8),
        True,
        Timeliness.LATE,
        id="an apologised dossier is late even when ready on the due day",
    ),
]


@pytest.mark.parametrize(("ready_at", "apologised", "expected"), CLASSIFY_CASES)
def test_classify(ready_at, apologised, expected):
    assert calendar().classify(DUE, ready_at, apologised=apologised) is expected
