"""The same event sent twice at the same moment (a processing system's two workers, or its
retry racing the original) is applied once, on PostgreSQL with real parallel transactions."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, select

from api.models import ApiEvent
from intake.models import AuditEvent, DossierEvent
from intake.statuses import DossierStatus as S
from tests.api.signed import make_system, status_event
from tests.factories import create_dossier


def _slow_commits(runtime, seconds: float):
    """Every transaction that applies an event waits a little before it commits, so the other
    request arrives while the first still holds its locks."""

    def wait(session, flush_context) -> None:
        if any(isinstance(row, ApiEvent) for row in session.new):
            time.sleep(seconds)

    event.listen(runtime.sessions, "after_flush", wait)
    return lambda: event.remove(runtime.sessions, "after_flush", wait)


def _at_once(app, requests) -> list:
    start = threading.Barrier(len(requests))
    replies: list = [None] * len(requests)

    def run(index: int) -> None:
        start.wait()
        replies[index] = requests[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return replies


def _moves(runtime, dossier_id: int) -> int:
    with runtime.sessions() as session:
        return len(
            session.scalars(
                select(DossierEvent).where(
                    DossierEvent.dossier_id == dossier_id, DossierEvent.to_status == S.IN_PROCESS
                )
            ).all()
        )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_copies_of_one_event_at_once_are_applied_once_and_answered_alike(app, runtime):
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, status=S.ACCEPTED)
        dossier_id, code = dossier.id, dossier.code
    workers = [make_system(app.test_client(), runtime)]
    workers.append(type(workers[0])(app.test_client(), runtime, workers[0].public_id,
                                    workers[0].secret))  # fmt: skip
    payload = status_event("ev-race", "in_process")
    stop = _slow_commits(runtime, 0.3)
    try:
        replies = _at_once(app, [lambda w=w: w.event(code, payload) for w in workers])
    finally:
        stop()

    assert [r.status_code for r in replies] == [200, 200]
    assert replies[0].json == replies[1].json
    assert _moves(runtime, dossier_id) == 1
    with runtime.sessions() as session:
        assert len(session.scalars(select(ApiEvent)).all()) == 1
        calls = session.scalars(select(AuditEvent).where(AuditEvent.action == "api.post_event"))
        assert len(calls.all()) == 2


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_systems_making_the_same_change_at_once_make_it_once(app, runtime):
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, status=S.ACCEPTED)
        dossier_id, code = dossier.id, dossier.code
    systems = [make_system(app.test_client(), runtime, name) for name in ("motcua", "thuysan")]
    stop = _slow_commits(runtime, 0.3)
    try:
        replies = _at_once(
            app, [lambda s=s: s.event(code, status_event("ev-1", "in_process")) for s in systems]
        )
    finally:
        stop()

    assert sorted(r.status_code for r in replies) == [200, 409]
    assert _moves(runtime, dossier_id) == 1
