"""Each dossier rule has one definition, and every page, report, rule and keyword obeys it.

The rows are seen from Tuesday 01/12/2026 09:00 local (the clock fixture).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from intake import dossier_queries as queries
from intake.models import Dossier
from intake.models.dossier import APOLOGY_CANDIDATES, REMINDER_CANDIDATES
from intake.statuses import (
    CLOCK_RUNNING_STATUSES,
    IN_WORK_STATUSES,
    OPEN_STATUSES,
    Channel,
    Delivery,
    Timeliness,
)
from intake.statuses import DossierStatus as S
from ivr.call_service import CallService
from reports import statistics
from sms.inbound import InboundSms, handle_inbound

VN = dt.timezone(dt.timedelta(hours=7))
TODAY = dt.date(2026, 12, 1)
SOON = dt.date(2026, 12, 3)
PHONE = "+84912345678"
MIGRATIONS = Path(__file__).resolve().parents[2] / "tongdai" / "migrations" / "versions"
_numbers = itertools.count(1)


def add_dossier(
    session,
    status: S,
    *,
    due: dt.date | None = dt.date(2026, 11, 20),
    new_due: dt.date | None = None,
    ready: dt.datetime | None = None,
    apologies: int = 0,
    code: str | None = None,
    delivery: Delivery = Delivery.POST,
) -> Dossier:
    number = next(_numbers)
    received = dt.datetime(2026, 11, 10, 9, tzinfo=VN)
    row = Dossier(
        code=None if status is S.DRAFT else code or f"T-261110-{number:04d}",
        procedure="fishing_licence",
        variant="new",
        channel=Channel.PHONE,
        status=status,
        delivery=delivery,
        received_at=None if status is S.DRAFT else received,
        due_date=None if status is S.DRAFT else due,
        new_due_date=new_due,
        result_ready_at=ready,
        apology_count=apologies,
        caller_phone=PHONE,
        notify_phone=PHONE,
        created_at=received,
        updated_at=received,
    )
    session.add(row)
    session.flush()
    return row


def queue_statuses(session, **filters) -> set[S]:
    rows = queries.queue_page(
        session,
        queries.QueueFilters(**filters),
        today=TODAY,
        soon=SOON,
        after=None,
        limit=100,
    )
    return {row.status for row in rows}


# ---- the three "open" rules ------------------------------------------------------------------


def test_every_caller_asks_the_same_three_open_rules(runtime, session, clock):
    # One dossier in every status, all past their legal due date, none apologised.
    for status in S:
        add_dossier(session, status)
    session.commit()

    assert queue_statuses(session) == set(OPEN_STATUSES)
    assert queue_statuses(session, due="overdue") == set(IN_WORK_STATUSES)
    board = statistics.dashboard(session, runtime.settings, runtime.calendar(), clock.now())
    assert board.open_by_status == [(s, 1) for s in OPEN_STATUSES]
    assert board.overdue == len(IN_WORK_STATUSES)
    candidates = session.scalars(queries.overdue_candidates(TODAY, 100))
    assert {d.status for d in candidates} == set(CLOCK_RUNNING_STATUSES)


def test_the_three_open_rules_nest_and_differ_where_the_domain_says():
    assert set(IN_WORK_STATUSES) == set(OPEN_STATUSES) - {S.RESULT_READY}
    assert set(CLOCK_RUNNING_STATUSES) == set(IN_WORK_STATUSES) - {S.SUPPLEMENT_REQUESTED}
    assert S.DRAFT not in OPEN_STATUSES and S.RETURNED not in OPEN_STATUSES


# ---- the date last promised: overdue, due today, due soon ------------------------------------


def test_a_new_date_replaces_the_legal_one_on_the_queue_and_the_dashboard(runtime, session, clock):
    late = add_dossier(session, S.IN_PROCESS, due=dt.date(2026, 11, 20))
    add_dossier(session, S.IN_PROCESS, due=dt.date(2026, 11, 20), new_due=SOON, apologies=1)
    broken = add_dossier(
        session, S.ACCEPTED, due=dt.date(2026, 11, 10), new_due=dt.date(2026, 11, 30), apologies=1
    )
    today = add_dossier(session, S.RECEIVED, due=dt.date(2026, 11, 25), new_due=TODAY, apologies=1)
    add_dossier(session, S.RECEIVED, due=TODAY + dt.timedelta(days=30))
    session.commit()

    def ids(**filters):
        rows = queries.queue_page(
            session, queries.QueueFilters(**filters), today=TODAY, soon=SOON, after=None, limit=9
        )
        return {row.id for row in rows}

    assert ids(due="overdue") == {late.id, broken.id}
    assert today.id in ids(due="soon")
    board = statistics.dashboard(session, runtime.settings, runtime.calendar(), clock.now())
    assert (board.due_today, board.overdue) == (1, 2)


def test_the_promised_date_is_the_same_in_python_and_in_sql(session):
    rows = [
        add_dossier(session, S.IN_PROCESS, due=dt.date(2026, 11, 20)),
        add_dossier(session, S.IN_PROCESS, due=dt.date(2026, 11, 20), new_due=SOON),
        add_dossier(session, S.IN_PROCESS, due=None),
        add_dossier(session, S.IN_PROCESS, due=None, new_due=SOON),
    ]
    session.commit()
    in_sql = dict(session.execute(select(Dossier.id, Dossier.effective_due_date)).all())
    assert {row.id: row.effective_due_date for row in rows} == {
        k: dt.date.fromisoformat(v) if isinstance(v, str) else v for k, v in in_sql.items()
    }


# ---- early / on time / late ------------------------------------------------------------------


def test_the_database_classifies_as_the_working_calendar_does(runtime, session):
    """Many due dates and ready times, many of them within minutes of a local midnight."""
    calendar = runtime.calendar()
    chance = random.Random(12)
    expected = {}
    for _ in range(300):
        due = dt.date(2026, 11, 1) + dt.timedelta(days=chance.randrange(40))
        ready_day = due + dt.timedelta(days=chance.randrange(-3, 4))
        minute = chance.choice([0, 1, 59, 60 * 7 - 1, 60 * 7, 60 * 12, 60 * 23 + 59])
        ready = dt.datetime.combine(ready_day, dt.time(0), tzinfo=VN) + dt.timedelta(minutes=minute)
        apologies = chance.choice([0, 0, 0, 1, 2])
        due_or_none = None if chance.random() < 0.05 else due
        row = add_dossier(
            session, S.RESULT_READY, due=due_or_none, ready=ready.astimezone(dt.UTC),
            apologies=apologies,
        )  # fmt: skip
        expected[row.id] = queries.timeliness(calendar, due_or_none, ready, apologies)
    session.commit()
    assert set(expected.values()) == set(Timeliness)

    judged = queries.timeliness_sql(session, runtime.settings.zone)
    in_sql = dict(session.execute(select(Dossier.id, judged)).all())
    assert {k: Timeliness(v) for k, v in in_sql.items()} == expected

    low, high = queries.utc_bounds(
        dt.date(2026, 10, 1), dt.date(2027, 1, 31), runtime.settings.zone
    )
    counts = queries.timeliness_counts(session, runtime.settings.zone, low, high)
    assert counts == {t: list(expected.values()).count(t) for t in Timeliness}


# ---- the scheduler's partial indexes ---------------------------------------------------------


def test_the_migration_built_the_partial_indexes_the_model_derives_from_the_rules():
    migration = (MIGRATIONS / "0009_partial_indexes_for_the_scheduler_rules.py").read_text()
    written = set(re.findall(r'sa\.text\(\s*"([^"]+)"\s*\)', migration))
    assert {APOLOGY_CANDIDATES, REMINDER_CANDIDATES} <= written
    statuses = re.search(r"status IN \(([^)]*)\)", APOLOGY_CANDIDATES)[1]
    assert statuses == ", ".join(f"'{s.value}'" for s in CLOCK_RUNNING_STATUSES)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (queries.overdue_candidates(TODAY, 200), "ix_dossier_apology_candidates"),
        (
            queries.at_risk_candidates(TODAY, TODAY + dt.timedelta(days=3), 200),
            "ix_dossier_apology_candidates",
        ),
        (
            queries.reminder_candidates(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), 200),
            "ix_dossier_reminder_candidates",
        ),
    ],
)
def test_postgresql_can_answer_each_time_rule_from_its_partial_index(pg_only_url, query, index):
    """The planner only uses a partial index when the query's condition implies the index's:
    a rule whose statuses drifted from its index would read the whole table instead."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.dialects import postgresql

    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    engine = create_engine(pg_only_url)
    with engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        connection.execute(text("SET enable_bitmapscan = off"))
        plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {sql}").scalars())
    engine.dispose()
    assert index in plan, plan


# ---- a dossier code as people give it --------------------------------------------------------


def _ivr_finds(runtime, session, digits: str) -> Dossier | None:
    return CallService(runtime)._find(session, SimpleNamespace(caller=None), digits)


def _sms_finds(runtime, session, body: str) -> int | None:
    sid = f"SM{next(_numbers)}"
    message = InboundSms("twilio", sid, PHONE, "+84900000000", body)
    record = handle_inbound(
        session, message, settings=runtime.settings, calendar=runtime.calendar(),
        now=runtime.clock.now(),
    )  # fmt: skip
    return record.dossier_id


def _staff_finds(runtime, session, text: str) -> set[int]:
    search = queries.parse_staff_search(text, runtime.settings)
    rows = queries.queue_page(
        session,
        queries.QueueFilters(status="all", search=search),
        today=TODAY,
        soon=SOON,
        after=None,
        limit=9,
    )
    return {row.id for row in rows}


def test_the_staff_search_the_sms_keyword_and_the_ivr_read_a_code_alike(runtime, session):
    agency = runtime.settings.centre.agency_id
    dossier = add_dossier(session, S.IN_PROCESS, code=f"{agency}-261201-0001")
    session.commit()

    assert _staff_finds(runtime, session, "261201 0001") == {dossier.id}
    assert _staff_finds(runtime, session, f"{agency.lower()}-261201-0001") == {dossier.id}
    assert _sms_finds(runtime, session, "TT 261201 0001") == dossier.id
    assert _sms_finds(runtime, session, f"TRA CUU {agency}-261201-0001") == dossier.id
    assert _ivr_finds(runtime, session, "2612010001").id == dossier.id


def test_ten_digits_beginning_with_0_are_a_phone_number_never_a_code(runtime, session):
    """The staff search always read them as a phone; the SMS keyword and the IVR used to look
    them up as a code dated 200x. Now all three agree: not a code."""
    agency = runtime.settings.centre.agency_id
    dated_200x = add_dossier(session, S.IN_PROCESS, code=f"{agency}-091234-5678")
    session.commit()

    assert queries.spoken_code_digits("0912345678") is None
    assert _staff_finds(runtime, session, "0912345678") == {dated_200x.id}  # by its phone
    assert _sms_finds(runtime, session, "TT 0912345678") is None
    assert _ivr_finds(runtime, session, "0912345678") is None


def test_an_open_dossier_for_the_same_vessel_and_procedure_is_found_and_nothing_else(
    runtime, session
):
    from intake.vessels import vessel_for
    from tests.factories import create_dossier, create_draft

    returned = create_dossier(session, runtime, vessel="90617", status=S.RETURNED)
    safety = create_dossier(session, runtime, vessel="90617", procedure="vessel_safety")
    other_boat = create_dossier(session, runtime, vessel="96169")
    draft = create_draft(session, runtime)
    draft.vessel_id = vessel_for(session, "QNg", "90617").id
    assert queries.open_dossier_like(session, draft) is None  # finished or another procedure
    in_process = create_dossier(session, runtime, vessel="90617", status=S.IN_PROCESS)
    assert queries.open_dossier_like(session, draft) == in_process
    assert queries.open_dossier_like(session, in_process) is None  # not a duplicate of itself
    assert queries.open_dossier_like(session, safety) is None
    assert {returned.id, other_boat.id}.isdisjoint({in_process.id, safety.id})
    draft.vessel_id = None
    assert queries.open_dossier_like(session, draft) is None


def test_the_queue_pages_past_dossiers_with_no_due_date_yet_and_lists_them_last(session):
    """Incomplete dossiers have no due date until complete: they come after the dated ones
    and a keyset cursor walks through both (a `none:<id>` cursor past the dated rows)."""
    dated = [add_dossier(session, S.RECEIVED, due=TODAY + dt.timedelta(days=n)) for n in (3, 1)]
    undated = [add_dossier(session, S.RECEIVED) for _ in range(3)]
    for row in undated:
        row.due_date = None
    session.commit()
    seen, after = [], None
    while True:
        page = queries.queue_page(session, queries.QueueFilters(), today=TODAY, soon=SOON,
                                  after=after, limit=2)  # fmt: skip
        if not page:
            break
        seen += [row.id for row in page]
        last = page[-1]
        after = (last.due_date, last.id)
    assert seen == [dated[1].id, dated[0].id, *[row.id for row in undated]]
