"""Dossier codes: unit code, local date, gap-free daily sequence in the phone channel's reserved
range; never the same code twice."""

from __future__ import annotations

import datetime as dt
import multiprocessing

import pytest
from sqlalchemy import select

from intake.codes import SequenceExhausted, format_code, spoken_part
from intake.models import Dossier
from tests.factories import create_dossier

WORKERS = 8
PER_WORKER = 12


def test_code_has_agency_local_date_and_sequence(session, runtime, clock):
    # 23:30 UTC on 30/11 is already 01/12 in Quảng Ngãi: the code carries the local date.
    clock.set(dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC))
    first = create_dossier(session, runtime)
    second = create_dossier(session, runtime)
    agency = runtime.settings.centre.agency_id
    assert first.code == f"{agency}-261201-8000"
    assert second.code == f"{agency}-261201-8001"
    assert spoken_part(second.code) == "2612018001"


def test_the_code_begins_with_the_portal_unit_code(runtime):
    """The portal needs a nationally unique MaHoSo that starts with the centre's madonvi."""
    settings = runtime.settings
    assert settings.centre.agency_id == settings.onestop.madonvi == "000.00.53.H48"


def test_the_phone_channel_stays_in_its_reserved_range(session, runtime):
    settings = runtime.settings
    narrow = settings.onestop.model_copy(update={"sequence_first": 9998, "sequence_last": 9999})
    runtime.settings = settings.model_copy(update={"onestop": narrow})
    assert create_dossier(session, runtime).code.endswith("-9998")
    assert create_dossier(session, runtime).code.endswith("-9999")
    with pytest.raises(SequenceExhausted):
        create_dossier(session, runtime)


def test_a_range_moved_up_during_the_day_starts_at_its_first_number(session, runtime):
    create_dossier(session, runtime)
    settings = runtime.settings
    moved = settings.onestop.model_copy(update={"sequence_first": 9000})
    runtime.settings = settings.model_copy(update={"onestop": moved})
    assert create_dossier(session, runtime).code.endswith("-9000")


def test_sequence_restarts_each_local_day(session, runtime, clock):
    create_dossier(session, runtime)
    clock.advance(dt.timedelta(days=1))
    assert create_dossier(session, runtime).code.endswith("-261202-8000")


def test_a_rolled_back_dossier_gives_its_number_back(runtime):
    with runtime.sessions() as session:
        create_dossier(session, runtime)
        session.rollback()
    with runtime.sessions() as session:
        assert create_dossier(session, runtime).code.endswith("-8000")


def test_format_code_matches_the_province_format():
    assert format_code("000.00.53.H48", dt.date(2022, 9, 21), 99) == "000.00.53.H48-220921-0099"


def _worker(url: str, count: int, barrier) -> list[str]:
    from intake.clock import FixedClock
    from intake.runtime import Runtime
    from plumbing.db import make_engine, make_session_factory
    from plumbing.settings import load_settings
    from tests.conftest import DEFAULT_NOW, ROOT

    settings = load_settings(ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "x"})
    settings = settings.model_copy(update={"database_url": url})
    engine = make_engine(url)
    runtime = Runtime(settings, engine, make_session_factory(engine), FixedClock(DEFAULT_NOW))
    runtime.calendar()
    barrier.wait()  # everyone starts hammering at the same moment
    codes = []
    for _ in range(count):
        with runtime.sessions() as session:
            codes.append(create_dossier(session, runtime).code)
            session.commit()
    engine.dispose()
    return codes


def test_concurrent_workers_on_postgresql_get_distinct_gap_free_sequences(pg_only_url):
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(WORKERS)
        with context.Pool(WORKERS) as pool:
            results = pool.starmap(_worker, [(pg_only_url, PER_WORKER, barrier)] * WORKERS)
    codes = [code for worker in results for code in worker]
    assert len(codes) == len(set(codes)) == WORKERS * PER_WORKER
    sequences = sorted(int(code.rsplit("-", 1)[1]) for code in codes)
    first = 8000
    assert sequences == list(range(first, first + WORKERS * PER_WORKER))

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(pg_only_url)
    with Session(engine) as session:
        stored = set(session.scalars(select(Dossier.code)))
    engine.dispose()
    assert stored == set(codes)
