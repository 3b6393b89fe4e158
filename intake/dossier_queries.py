"""The questions asked of the dossier table, each answered here once.

The staff queue, the dashboard and the report (admin), the scheduler's time rules, the IVR's
status look-up and the SMS keywords all call these functions instead of writing their own
`select(Dossier)`, so a rule cannot mean one thing on one page and another in a report:

- "open" is three rules (the sets in intake/statuses.py): IS_OPEN (in the staff queue),
  IS_IN_WORK (open, result not ready: "overdue" and "due soon" apply), IS_CLOCK_RUNNING (in
  work and not waiting for a supplement: a late one is owed an apology). The scheduler's partial
  indexes are written from the same sets (intake/models/dossier.py);
- "overdue" and "due soon" judge the date last promised to the citizen,
  `Dossier.effective_due_date` (the apology's new date, else the legal due date);
- early / on time / late is `WorkingCalendar.classify`; `timeliness_sql` is the same rule for the
  database to count, and tests/intake/test_dossier_queries.py runs both over the same rows;
- a dossier code as people give it: the full code, or the 10 digits read on the phone
  (`yyMMddNNNN`, see intake/codes.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from intake.calendar import WorkingCalendar
from intake.digits import ascii_digits, is_digits
from intake.errors import InvalidInput
from intake.models import ApologyProposal, Applicant, Dossier, DossierEvent, Vessel
from intake.phone import parse_phone
from intake.statuses import (
    CLOCK_RUNNING_STATUSES,
    IN_WORK_STATUSES,
    OPEN_STATUSES,
    Channel,
    Delivery,
    DossierStatus,
    Timeliness,
)
from intake.vessel_number import parse_vessel_number
from plumbing.db import count_where
from plumbing.settings import Settings

S = DossierStatus
ONE_DAY = dt.timedelta(days=1)

# ---- the three "open" rules, and the date last promised ------------------------------------

IS_OPEN = Dossier.status.in_(OPEN_STATUSES)
IS_IN_WORK = Dossier.status.in_(IN_WORK_STATUSES)
IS_CLOCK_RUNNING = Dossier.status.in_(CLOCK_RUNNING_STATUSES)
SUBMITTED = Dossier.status != S.DRAFT
# Received and not complete yet: no due date, staff must complete it (intake/completeness.py).
# A dossier whose papers were requested as a supplement waits for the citizen instead.
IS_INCOMPLETE = (Dossier.status == S.RECEIVED) & Dossier.completed_at.is_(None)


def overdue(today: dt.date) -> ColumnElement[bool]:
    """Still being worked and the date last promised is past."""
    return IS_IN_WORK & (Dossier.effective_due_date < today)


def due_between(first: dt.date, last: dt.date) -> ColumnElement[bool]:
    """Still being worked and the date last promised falls in [first, last]."""
    return IS_IN_WORK & Dossier.effective_due_date.between(first, last)


# ---- local days and timeliness -------------------------------------------------------------


def utc_bounds(start: dt.date, end: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) local, as aware UTC times."""
    low = dt.datetime.combine(start, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    high = dt.datetime.combine(end + ONE_DAY, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
    return low, high


def local_day(session: Session, column: InstrumentedAttribute, zone: ZoneInfo) -> ColumnElement:
    """The local calendar day of a UTC timestamp column, computed by the database."""
    # Inline literals, not bound parameters: PostgreSQL only accepts the GROUP BY expression
    # when it is textually the selected one, and two parameters would differ.
    if session.get_bind().dialect.name == "postgresql":
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", zone.key):
            raise ValueError(f"unexpected time zone name {zone.key!r}")
        return cast(func.timezone(literal_column(f"'{zone.key}'"), column), Date)
    # SQLite stores naive UTC text and knows no zones: shift by the zone's offset, which is fixed
    # for Asia/Ho_Chi_Minh (no daylight saving since 1975).
    offset = dt.datetime.now(zone).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return func.date(column, literal_column(f"'{minutes:+d} minutes'"))


def timeliness(
    calendar: WorkingCalendar, due: dt.date | None, ready_at: dt.datetime, apologies: int
) -> Timeliness:
    """`WorkingCalendar.classify` of a resolved dossier (against the legal due date; an apology
    makes it late whatever its new date)."""
    if due is None:  # never happens to a submitted dossier; do not let it look early
        return Timeliness.LATE if apologies else Timeliness.ON_TIME
    return calendar.classify(due, ready_at, apologised=apologies > 0)


def timeliness_sql(session: Session, zone: ZoneInfo) -> ColumnElement[str]:
    """`timeliness` as a SQL CASE giving the Timeliness value, for the database to count."""
    ready_day = local_day(session, Dossier.result_ready_at, zone)
    return case(
        (Dossier.apology_count > 0, literal(Timeliness.LATE.value)),
        (Dossier.due_date.is_(None), literal(Timeliness.ON_TIME.value)),
        (ready_day < Dossier.due_date, literal(Timeliness.EARLY.value)),
        (ready_day == Dossier.due_date, literal(Timeliness.ON_TIME.value)),
        else_=literal(Timeliness.LATE.value),
    )


# ---- dossier codes as people give them ------------------------------------------------------

SPOKEN_CODE_LENGTH = 10


def spoken_code_digits(text: str) -> str | None:
    """The 10 digits read back on the phone (`yyMMddNNNN`), separators ignored; None otherwise.
    They never begin with 0 (no dossier is dated 2000-2009): ten digits that do are a phone
    number (0912345678), on the staff search and everywhere else."""
    digits = ascii_digits(text)
    if len(digits) != SPOKEN_CODE_LENGTH or digits[0] == "0":
        return None
    return digits


def with_spoken_code(digits: str) -> ColumnElement[bool]:
    return Dossier.code.like(f"%-{digits[:6]}-{digits[6:]}")


def code_condition(text: str) -> ColumnElement[bool] | None:
    """A code as a citizen texts or keys it: the full code (`000.00.53.H48-261201-0001`, any
    case, spaces ignored) or the 10 spoken digits; None when the text is neither."""
    candidate = re.sub(r"\s", "", text).upper()
    if "-" in candidate and not is_digits(candidate.replace("-", "")):
        return Dossier.code == candidate
    digits = spoken_code_digits(text)
    return with_spoken_code(digits) if digits else None


def find_dossier_by_code(session: Session, text: str) -> Dossier | None:
    """The dossier a code names (see `code_condition`); None without a query when it names none."""
    condition = code_condition(text)
    if condition is None:
        return None
    return session.scalar(select(Dossier).where(condition).limit(1))


def latest_dossier_of_phone(session: Session, phone: str) -> Dossier | None:
    """The newest submitted dossier that called from or is notified at `phone` (E.164)."""
    return session.scalar(
        select(Dossier)
        .where(SUBMITTED, (Dossier.caller_phone == phone) | (Dossier.notify_phone == phone))
        .order_by(Dossier.received_at.desc(), Dossier.id.desc())
        .limit(1)
    )


def latest_dossier_of_vessel_digits(session: Session, digits: str) -> Dossier | None:
    """The newest submitted dossier for a vessel with these registration digits."""
    return session.scalar(
        select(Dossier)
        .join(Vessel, Dossier.vessel_id == Vessel.id)
        .where(SUBMITTED, Vessel.digits == digits)
        .order_by(Dossier.received_at.desc(), Dossier.id.desc())
        .limit(1)
    )


def open_dossier_like(session: Session, dossier: Dossier) -> Dossier | None:
    """Another open dossier for the same vessel and procedure (the newest), if there is one: a
    second one filed by phone would be a duplicate. None for a dossier without a vessel."""
    if dossier.vessel_id is None:
        return None
    return session.scalar(
        select(Dossier)
        .where(
            IS_OPEN,
            Dossier.vessel_id == dossier.vessel_id,
            Dossier.procedure == dossier.procedure,
            Dossier.id != dossier.id,
        )
        .order_by(Dossier.received_at.desc(), Dossier.id.desc())
        .limit(1)
    )


# ---- the staff queue ------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffSearch:
    """What staff typed in the queue's search box, read as one kind of key."""

    kind: str  # code, spoken_code, phone, vessel, exact_code
    value: str
    province: str | None = None  # a vessel's province, when it was typed


def parse_staff_search(text: str, settings: Settings) -> StaffSearch:
    """A code (full, or the 10 digits read on the phone), a phone number, or a vessel number.
    A dash alone does not make a code here (vessel numbers have dashes): a full code is one that
    begins like this centre's agency id, and is also looked for among the province codes."""
    compact = re.sub(r"\s", "", text)
    if "-" in compact and compact.upper().startswith(settings.centre.agency_id.split(".")[0]):
        return StaffSearch("code", compact)
    if digits := spoken_code_digits(text):
        return StaffSearch("spoken_code", digits)
    try:
        return StaffSearch("phone", parse_phone(text).e164)
    except InvalidInput:
        pass
    try:
        vessel = parse_vessel_number(text, settings.provinces, settings.centre.home_province)
    except InvalidInput:
        return StaffSearch("exact_code", compact.upper())
    typed_province = bool(re.search(r"[A-Za-zĐđ]", text))  # the province was typed: respect it
    return StaffSearch("vessel", vessel.digits, vessel.province if typed_province else None)


def search_condition(search: StaffSearch) -> ColumnElement[bool]:
    if search.kind == "code":
        return or_(Dossier.code == search.value.upper(), Dossier.external_code == search.value)
    if search.kind == "spoken_code":
        return with_spoken_code(search.value)
    if search.kind == "phone":
        return or_(Dossier.notify_phone == search.value, Dossier.caller_phone == search.value)
    if search.kind == "vessel":
        vessels = select(Vessel.id).where(Vessel.digits == search.value)
        if search.province is not None:
            vessels = vessels.where(Vessel.province_code == search.province)
        return Dossier.vessel_id.in_(vessels)
    return Dossier.code == search.value


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters, already read from the page's address."""

    status: str = ""  # "" (the open ones), "all", "draft" or a DossierStatus value
    procedure: str | None = None
    channel: Channel | None = None
    due: str = ""  # "", "overdue" or "soon"
    assigned_to: str | None = None
    search: StaffSearch | None = None

    @property
    def drafts(self) -> bool:
        """Drafts have no due date: they page by id, newest first."""
        return self.status == "draft"


def queue_query(filters: QueueFilters, today: dt.date, soon: dt.date) -> Select[tuple[Dossier]]:
    """The queue's rows, unordered (see `queue_page`); "soon" is up to and including `soon`."""
    query = select(Dossier)
    if filters.drafts:
        query = query.where(Dossier.status == S.DRAFT, Dossier.discarded_at.is_(None))
    elif filters.status in {s.value for s in S}:
        query = query.where(Dossier.status == S(filters.status))
    elif filters.status == "all":
        query = query.where(SUBMITTED)
    else:
        query = query.where(IS_OPEN)
    if filters.procedure is not None:
        query = query.where(Dossier.procedure == filters.procedure)
    if filters.channel is not None:
        query = query.where(Dossier.channel == filters.channel)
    if filters.due == "overdue":
        query = query.where(overdue(today))
    elif filters.due == "soon":
        query = query.where(due_between(today, soon))
    if filters.assigned_to is not None:
        query = query.where(Dossier.assigned_to == filters.assigned_to)
    if filters.search is not None:
        query = query.where(search_condition(filters.search))
    return query


def queue_page(
    session: Session,
    filters: QueueFilters,
    *,
    today: dt.date,
    soon: dt.date,
    after: int | tuple[dt.date | None, int] | None,
    limit: int,
) -> list[Dossier]:
    """One page of the queue after a keyset cursor (an id for drafts, else (due date, id)),
    never by OFFSET, so the last page of a million rows costs what the first does."""
    query = queue_query(filters, today, soon)
    if filters.drafts:
        order = (Dossier.id.desc(),)
        if isinstance(after, int):
            query = query.where(Dossier.id < after)
    else:
        # Dossiers with no due date yet (incomplete) come after the dated ones: PostgreSQL's
        # own order for an ascending index, so it still reads the (due_date, id) index in order.
        order = (Dossier.due_date.asc().nulls_last(), Dossier.id)
        if isinstance(after, tuple) and after[0] is not None:
            # A row comparison, so the database seeks into the (due_date, id) index instead of
            # filtering every row before the cursor (the OR form reads them all).
            query = query.where(
                (tuple_(Dossier.due_date, Dossier.id) > tuple_(*after)) | Dossier.due_date.is_(None)
            )
        elif isinstance(after, tuple):
            query = query.where(Dossier.due_date.is_(None), Dossier.id > after[1])
    return list(session.scalars(query.order_by(*order).limit(limit)))


def incomplete_work_list(session: Session, limit: int) -> list[Dossier]:
    """The work list: received dossiers still incomplete, the nearest completeness deadline
    first (then the oldest)."""
    return list(
        session.scalars(
            select(Dossier)
            .where(IS_INCOMPLETE)
            .order_by(Dossier.completeness_due, Dossier.id)
            .limit(limit)
        )
    )


def vessels_of(session: Session, rows: list[Dossier]) -> dict[int, Vessel]:
    """The vessels of a page of dossiers, by id, in one query."""
    ids = {d.vessel_id for d in rows if d.vessel_id}
    if not ids:
        return {}
    return {v.id: v for v in session.scalars(select(Vessel).where(Vessel.id.in_(ids)))}


def dossiers_by_id(session: Session, ids: Iterable[int]) -> dict[int, Dossier]:
    """The dossiers with these ids, by id, in one query (none asked, none read)."""
    ids = set(ids)
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Dossier).where(Dossier.id.in_(ids)))}


def events_of(session: Session, dossier_id: int) -> list[DossierEvent]:
    """Every status change and note of a dossier, in no particular order."""
    return list(session.scalars(select(DossierEvent).where(DossierEvent.dossier_id == dossier_id)))


def latest_supplement_request(session: Session, dossier_id: int) -> DossierEvent | None:
    """The supplement request the printable slip and the dossier page show (the latest one)."""
    return session.scalar(
        select(DossierEvent)
        .where(
            DossierEvent.dossier_id == dossier_id, DossierEvent.to_status == S.SUPPLEMENT_REQUESTED
        )
        .order_by(DossierEvent.id.desc())
        .limit(1)
    )


# ---- what the processing systems read (the API) --------------------------------------------


def submitted_by_code(session: Session, code: str, *, for_update: bool = False) -> Dossier | None:
    """The submitted dossier with exactly this code of ours; locked for the caller's
    transaction when `for_update` (PostgreSQL), so two changes of one dossier queue up."""
    query = select(Dossier).where(Dossier.code == code, SUBMITTED)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def submitted_by_external_code(session: Session, external_code: str) -> list[Dossier]:
    """The submitted dossiers the province's one-stop system knows by `external_code`."""
    return list(
        session.scalars(
            select(Dossier)
            .where(Dossier.external_code == external_code, SUBMITTED)
            .order_by(Dossier.id)
        )
    )


def applicants_of(session: Session, rows: list[Dossier]) -> dict[int, Applicant]:
    """The applicants of a page of dossiers, by id, in one query."""
    ids = {d.applicant_id for d in rows if d.applicant_id}
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Applicant).where(Applicant.id.in_(ids)))}


def events_of_dossiers(session: Session, ids: Iterable[int]) -> dict[int, list[DossierEvent]]:
    """The events of several dossiers, oldest first, by dossier id, in one query."""
    events: dict[int, list[DossierEvent]] = {}
    ids = set(ids)
    if not ids:
        return events
    for event in session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id.in_(ids)).order_by(DossierEvent.id)
    ):
        events.setdefault(event.dossier_id, []).append(event)
    return events


def changed_page(
    session: Session,
    *,
    since: dt.datetime | None,
    after: tuple[dt.datetime, int] | None,
    limit: int,
) -> list[Dossier]:
    """Submitted dossiers in the order they last changed, by keyset on (updated_at, id): a
    system that polls keeps the last pair and asks for what changed after it."""
    query = select(Dossier).where(SUBMITTED)
    if since is not None:
        query = query.where(Dossier.updated_at >= since)
    if after is not None:
        query = query.where(tuple_(Dossier.updated_at, Dossier.id) > tuple_(*after))
    return list(session.scalars(query.order_by(Dossier.updated_at, Dossier.id).limit(limit)))


# ---- the dashboard's and the report's counts -------------------------------------------------


def open_counts_by_status(session: Session) -> dict[DossierStatus, int]:
    return dict(
        session.execute(
            select(Dossier.status, func.count()).where(IS_OPEN).group_by(Dossier.status)
        ).all()
    )


def due_today_and_overdue(session: Session, today: dt.date) -> tuple[int, int]:
    """Dossiers still being worked whose date last promised is today / is past."""
    due_today, late = session.execute(
        select(count_where(due_between(today, today)), count_where(overdue(today))).where(
            IS_IN_WORK
        )
    ).one()
    return due_today, late


def timeliness_counts(
    session: Session, zone: ZoneInfo, low: dt.datetime, high: dt.datetime
) -> dict[Timeliness, int]:
    """Dossiers whose result became ready in [low, high), per Timeliness, counted by the
    database (the dashboard is opened all day long; classifying tens of thousands of rows in
    Python cost ~100 ms at a million dossiers)."""
    judged = timeliness_sql(session, zone)
    total, early, on_time = session.execute(
        select(
            func.count(),
            count_where(judged == Timeliness.EARLY.value),
            count_where(judged == Timeliness.ON_TIME.value),
        ).where(Dossier.result_ready_at >= low, Dossier.result_ready_at < high)
    ).one()
    # The CASE gives late for whatever is neither: no third pass over the rows.
    return {
        Timeliness.EARLY: early,
        Timeliness.ON_TIME: on_time,
        Timeliness.LATE: total - early - on_time,
    }


def received_counts(
    session: Session, low: dt.datetime, high: dt.datetime
) -> list[tuple[str, Channel, int]]:
    """(procedure, channel, count) of the dossiers submitted in [low, high)."""
    return [
        tuple(r)
        for r in session.execute(
            select(Dossier.procedure, Dossier.channel, func.count())
            .where(Dossier.received_at >= low, Dossier.received_at < high, SUBMITTED)
            .group_by(Dossier.procedure, Dossier.channel)
        )
    ]


def resolved_rows(
    session: Session, low: dt.datetime, high: dt.datetime
) -> Iterable[tuple[str, Channel, dt.date | None, dt.datetime, int]]:
    """(procedure, channel, due date, result ready at, apology count) per dossier whose result
    became ready in [low, high): bounded by the range, four small columns each."""
    return session.execute(
        select(
            Dossier.procedure,
            Dossier.channel,
            Dossier.due_date,
            Dossier.result_ready_at,
            Dossier.apology_count,
        ).where(Dossier.result_ready_at >= low, Dossier.result_ready_at < high)
    )


def _days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _count_per_day(
    session: Session,
    column: InstrumentedAttribute,
    start: dt.date,
    end: dt.date,
    zone: ZoneInfo,
    *where: ColumnElement[bool],
) -> list[int]:
    """Rows per local day from `start` to `end` (zeros included), one GROUP BY query."""
    low, high = utc_bounds(start, end, zone)
    day = local_day(session, column, zone)
    query = select(day, func.count()).where(column >= low, column < high, *where).group_by(day)
    counts = {_as_date(d): n for d, n in session.execute(query)}
    return [counts.get(d, 0) for d in _days_between(start, end)]


def received_per_day(session: Session, start: dt.date, end: dt.date, zone: ZoneInfo) -> list[int]:
    """Submitted dossiers per local day of receipt, `start` to `end`."""
    return _count_per_day(session, Dossier.received_at, start, end, zone, SUBMITTED)


def resolved_per_day(session: Session, start: dt.date, end: dt.date, zone: ZoneInfo) -> list[int]:
    """Dossiers per local day their result became ready, `start` to `end`."""
    return _count_per_day(session, Dossier.result_ready_at, start, end, zone)


# ---- the scheduler's time rules ---------------------------------------------------------------


def overdue_candidates(today: dt.date, limit: int) -> Select[tuple[Dossier]]:
    """Late dossiers with the clock running and no new date yet, oldest first
    (ix_dossier_apology_candidates); rows another scanner holds are skipped
    (bench/rule_scan.py explains this query)."""
    return (
        select(Dossier)
        .where(IS_CLOCK_RUNNING, Dossier.apology_count == 0, Dossier.due_date < today)
        .order_by(Dossier.due_date, Dossier.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def incomplete_past_deadline(today: dt.date, limit: int) -> Select[tuple[Dossier]]:
    """Incomplete received dossiers whose completeness deadline ended before `today` and whose
    supervisors were not alerted yet, oldest deadline first (ix_dossier_completeness_due_id)."""
    return (
        select(Dossier)
        .where(
            IS_INCOMPLETE,
            Dossier.completeness_due < today,
            Dossier.completeness_alerted_at.is_(None),
        )
        .order_by(Dossier.completeness_due, Dossier.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def at_risk_candidates(today: dt.date, last_due: dt.date, limit: int) -> Select[tuple[Dossier]]:
    """Dossiers with the clock running, no new date yet and no apology proposed, due between
    `today` and `last_due`: at risk of being late (ix_dossier_apology_candidates). Rows another
    scanner holds are skipped."""
    proposed = (
        select(ApologyProposal.id)
        .where(
            ApologyProposal.dossier_id == Dossier.id, ApologyProposal.due_date == Dossier.due_date
        )
        .exists()
    )
    return (
        select(Dossier)
        .where(
            IS_CLOCK_RUNNING,
            Dossier.apology_count == 0,
            Dossier.due_date.between(today, last_due),
            ~proposed,
        )
        .order_by(Dossier.due_date, Dossier.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def reminder_candidates(ready_before: dt.datetime, limit: int) -> Select[tuple[Dossier]]:
    """Results waiting at the centre since before `ready_before`, not reminded yet
    (ix_dossier_reminder_candidates)."""
    return (
        select(Dossier)
        .where(
            Dossier.status == S.RESULT_READY,
            Dossier.reminder_sent_at.is_(None),
            Dossier.result_ready_at <= ready_before,
            Dossier.delivery == Delivery.COLLECT,
        )
        .order_by(Dossier.result_ready_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
