"""Vessels are created once, even when two callers name a new one at the same moment."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from intake.models import Vessel
from intake.vessels import vessel_for


def test_the_same_number_gives_the_same_vessel(session):
    first = vessel_for(session, "QNg", "90617")
    assert vessel_for(session, "QNg", "90617").id == first.id
    assert vessel_for(session, "BĐ", "90617").id != first.id


def test_an_unknown_province_is_never_shared(session):
    assert vessel_for(session, None, "90617").id != vessel_for(session, None, "90617").id


def test_two_sessions_racing_on_a_new_number_both_succeed(pg_only_url):
    from plumbing.db import make_engine, make_session_factory

    engine = make_engine(pg_only_url)
    sessions = make_session_factory(engine)
    barrier = threading.Barrier(8)
    ids, errors = [], []

    def create() -> None:
        with sessions() as session:
            barrier.wait()
            try:
                ids.append(vessel_for(session, "QNg", "12345").id)
                session.commit()
            except Exception as exc:  # the race must not surface as an error
                errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with sessions() as session:
        count = session.scalar(select(func.count()).select_from(Vessel))
    engine.dispose()
    assert errors == [] and len(set(ids)) == 1 and count == 1
