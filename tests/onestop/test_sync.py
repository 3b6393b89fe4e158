"""The sync queue against the portal's in-memory twin: in order, once, and visibly."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.dossier_commands import apply_answers
from intake.lifecycle import Actor, change_status
from intake.models import Dossier, Role
from intake.statuses import DossierStatus as S
from onestop import sync
from onestop.models import ProcedureEntry, SyncItem, SyncKind, SyncStatus
from onestop.portal import PortalInDoubt, PortalUnavailable
from onestop.queries import latest_reconciliation
from onestop.reconcile import reconcile
from tests.factories import create_dossier
from tests.onestop.fake_portal import FakePortal
from tests.onestop.portal_book import REFUSE_MARK

STAFF = Actor.staff("lan", Role.OPERATOR)


@pytest.fixture
def enabled(runtime):
    """The sync switched on for this test: settings and the event follower."""
    onestop = runtime.settings.onestop.model_copy(update={"enabled": True, "batch_size": 20})
    runtime.settings = runtime.settings.model_copy(update={"onestop": onestop})
    sync.install(runtime.settings)
    yield runtime
    sync.install(runtime.settings.model_copy(update={"onestop": onestop.model_copy(
        update={"enabled": False})}))  # fmt: skip


@pytest.fixture
def portal():
    return FakePortal()


def _dossier(runtime, status=S.RECEIVED, **kwargs) -> int:
    with runtime.sessions() as session, session.begin():
        return create_dossier(session, runtime, status=status, **kwargs).id


def _move(runtime, dossier_id, to, **kwargs):
    with runtime.sessions() as session, session.begin():
        dossier = session.get(Dossier, dossier_id)
        change_status(session, dossier, to, actor=STAFF, now=runtime.clock.now(),
                      calendar=runtime.calendar(), **kwargs)  # fmt: skip
        return dossier.code


def _run(runtime, portal, **kwargs) -> sync.SyncReport:
    return sync.sync_due(runtime.sessions, portal, runtime.settings, runtime.clock, **kwargs)


def _items(runtime, dossier_id=None):
    with runtime.sessions() as session:
        query = select(SyncItem).order_by(SyncItem.id)
        if dossier_id is not None:
            query = query.where(SyncItem.dossier_id == dossier_id)
        return [(i.kind, i.status, i.error) for i in session.scalars(query)]


def _drain(runtime, portal, rounds=10):
    for _ in range(rounds):
        if not _run(runtime, portal).claimed:
            return


def test_nothing_is_queued_while_the_sync_is_off(runtime):
    _dossier(runtime, S.IN_PROCESS)
    assert _items(runtime) == []


def test_each_event_queues_one_snapshot_and_its_progress_in_order(enabled, portal):
    dossier_id = _dossier(enabled, S.ACCEPTED)
    # Two events before any sync: one snapshot waits (built when sent), two progress records.
    assert [kind for kind, _, _ in _items(enabled)] == [
        SyncKind.SNAPSHOT, SyncKind.PROGRESS, SyncKind.PROGRESS,
    ]  # fmt: skip
    _drain(enabled, portal)
    code = _move(enabled, dossier_id, S.IN_PROCESS)
    _drain(enabled, portal)

    state = portal.book.snapshot()
    assert state["creates"] == {code: 1} and state["updates"] == {code: 1}
    assert state["records"][code]["TrangThaiHoSo"] == "4"
    assert [p["TrangThai"] for p in state["progress"][code]] == ["1", "2", "4"]
    assert {status for _, status, _ in _items(enabled)} == {SyncStatus.SENT}


def test_progress_never_overtakes_the_create_it_needs(enabled, portal):
    dossier_id = _dossier(enabled)
    portal.fail_next(PortalUnavailable("HTTP 503 from the portal"))
    report = _run(enabled, portal)
    # The snapshot waits to be retried; its progress record was not even claimed.
    assert report.retrying and not report.sent
    assert _items(enabled, dossier_id) == [
        (SyncKind.SNAPSHOT, SyncStatus.PENDING, "HTTP 503 from the portal"),
        (SyncKind.PROGRESS, SyncStatus.PENDING, None),
    ]
    assert portal.book.snapshot()["progress"] == {}


def test_a_create_the_portal_already_has_becomes_an_update(enabled, portal):
    dossier_id = _dossier(enabled)
    with enabled.sessions() as session:
        code = session.get(Dossier, dossier_id).code
    portal.book.records[code] = {"MaHoSo": code}  # the province system pushed it first
    _drain(enabled, portal)
    state = portal.book.snapshot()
    assert (state["creates"], state["updates"]) == ({}, {code: 1})
    assert state["records"][code]["TrangThaiHoSo"] == "1"


def test_an_answer_lost_on_the_way_back_is_settled_by_a_look_up_not_sent_twice(
    enabled, portal, clock
):
    dossier_id = _dossier(enabled)
    _run(enabled, portal, limit=1)  # the create
    portal.fail_next(PortalInDoubt("no answer within 6 s"), act=True, service="CapNhatTienDoHoSoMC")
    report = _run(enabled, portal)
    # It stays `sending` while the portal may still be working on it: nothing is resent.
    assert report.unknown and _items(enabled, dossier_id)[1][1] is SyncStatus.SENDING
    _drain(enabled, portal)
    assert _items(enabled, dossier_id)[1][1] is SyncStatus.SENDING
    clock.advance(sync.unknown_window(enabled.settings) + dt.timedelta(seconds=1))
    _drain(enabled, portal)
    code = portal.book.snapshot()["records"].popitem()[0]
    assert len(portal.book.snapshot()["progress"][code]) == 1
    assert _items(enabled, dossier_id)[1][1] is SyncStatus.SENT


def test_an_unanswered_create_is_looked_up_then_updated_not_created_again(enabled, portal, clock):
    _dossier(enabled)
    portal.fail_next(PortalInDoubt("no answer within 6 s"), act=True)
    _run(enabled, portal)
    clock.advance(sync.unknown_window(enabled.settings) + dt.timedelta(seconds=1))
    _drain(enabled, portal)
    state = portal.book.snapshot()
    (code,) = state["records"]
    assert state["creates"] == {code: 1} and state["updates"] == {code: 1}
    assert any(r["service"] == "TraCuuHoSo" for r in portal.requests)


def test_a_refused_record_stops_its_dossier_only_and_shows_the_portal_message(enabled, portal):
    refused = _dossier(enabled, owner_name=f"Trần Văn A {REFUSE_MARK}")
    fine = _dossier(enabled)
    _drain(enabled, portal)
    _move(enabled, refused, S.ACCEPTED)
    _drain(enabled, portal)

    items = _items(enabled, refused)
    assert items[0][:2] == (SyncKind.SNAPSHOT, SyncStatus.REFUSED)
    assert "thông tin chủ hồ sơ không hợp lệ" in items[0][2]
    assert {status for _, status, _ in items[1:]} == {SyncStatus.PENDING}
    assert {status for _, status, _ in _items(enabled, fine)} == {SyncStatus.SENT}


def test_records_go_in_batches_of_the_configured_size(enabled, portal):
    onestop = enabled.settings.onestop.model_copy(update={"batch_size": 3})
    enabled.settings = enabled.settings.model_copy(update={"onestop": onestop})
    for _ in range(7):
        _dossier(enabled)
    _drain(enabled, portal)
    creates = [
        len(r["data"]) for r in portal.requests
        if r["service"] == "DongBoHoSoMC" and r["isUpdating"] == "False"
    ]  # fmt: skip
    progress = [len(r["data"]) for r in portal.requests if r["service"] == "CapNhatTienDoHoSoMC"]
    assert creates == [3, 3, 1] and progress == [3, 3, 1]


def test_retries_stop_at_the_horizon_and_staff_can_sync_again(enabled, portal, clock):
    dossier_id = _dossier(enabled)
    for _ in range(40):
        portal.fail_next(PortalUnavailable("HTTP 503 from the portal"))
        _run(enabled, portal)
        clock.advance(dt.timedelta(hours=2))
        if _items(enabled, dossier_id)[0][1] is SyncStatus.FAILED:
            break
    status, error = _items(enabled, dossier_id)[0][1:]
    assert status is SyncStatus.FAILED and error.startswith("đã thử")
    assert clock.now() - dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC) >= dt.timedelta(hours=72)

    portal.clear_faults()
    with enabled.sessions() as session, session.begin():
        assert sync.sync_again(session, session.get(Dossier, dossier_id), clock.now()) == 1
    _drain(enabled, portal)
    assert {status for _, status, _ in _items(enabled, dossier_id)} == {SyncStatus.SENT}


def test_after_registration_the_province_system_alone_pushes_when_so_configured(enabled, portal):
    onestop = enabled.settings.onestop.model_copy(update={"after_registration": "province"})
    enabled.settings = enabled.settings.model_copy(update={"onestop": onestop})
    sync.install(enabled.settings)
    dossier_id = _dossier(enabled)
    with enabled.sessions() as session, session.begin():
        session.get(Dossier, dossier_id).external_code = "000.00.53.H48-261201-0042"
    _drain(enabled, portal)
    _move(enabled, dossier_id, S.ACCEPTED)
    assert portal.book.snapshot()["records"] == {}
    assert {status for _, status, _ in _items(enabled)} == {SyncStatus.SKIPPED}


def test_the_catalogue_names_the_procedure_and_survives_an_outage(enabled, portal):
    _dossier(enabled)
    _drain(enabled, portal)
    with enabled.sessions() as session:
        entry = session.get(ProcedureEntry, "1.004359")
    assert (entry.sector_code, entry.sector_name) == ("G09-TS", "Thủy sản")
    (record,) = portal.book.snapshot()["records"].values()
    assert record["MaLinhVuc"] == "G09-TS"


def test_the_nightly_reconciliation_reports_what_the_portal_holds_otherwise(enabled, portal):
    agreed, changed, lost = (_dossier(enabled) for _ in range(3))
    _drain(enabled, portal)
    with enabled.sessions() as session:
        codes = {i: session.get(Dossier, i).code for i in (agreed, changed, lost)}
    book = portal.book
    book.records[codes[changed]] = {**book.records[codes[changed]], "TrangThaiHoSo": "2",
                                    "ChuHoSo": "Người khác"}  # fmt: skip
    del book.records[codes[lost]]

    report = reconcile(enabled.sessions, portal, enabled.settings, enabled.clock,
                       dt.date(2026, 12, 1))  # fmt: skip
    assert (report.checked, report.error) == (3, None)
    assert sorted(report.mismatches, key=lambda m: m["code"]) == [
        {"code": codes[changed],
         "problem": "trạng thái trên Cổng là 2, của Trung tâm là 1; khác ở ChuHoSo"},
        {"code": codes[lost], "problem": "Cổng chưa có hồ sơ này"},
    ]  # fmt: skip
    with enabled.sessions() as session:
        assert latest_reconciliation(session).mismatches == report.mismatches
    # A day without changes compares nothing.
    empty = reconcile(enabled.sessions, portal, enabled.settings, enabled.clock,
                      dt.date(2026, 12, 2))  # fmt: skip
    assert (empty.checked, empty.mismatches) == (0, [])


def test_a_staff_edit_without_an_event_shows_in_that_days_reconciliation(enabled, portal, clock):
    dossier_id = _dossier(enabled, owner_name="Nguyễn Văn Biển")
    _drain(enabled, portal)
    clock.advance(dt.timedelta(days=1))
    with enabled.sessions() as session, session.begin():
        dossier = session.get(Dossier, dossier_id)
        apply_answers(session, dossier, {"owner_name": "Nguyễn Văn Biền"}, now=clock.now())
        code = dossier.code
    report = reconcile(enabled.sessions, portal, enabled.settings, enabled.clock,
                       dt.date(2026, 12, 2))  # fmt: skip
    assert report.mismatches == [{"code": code, "problem": "khác ở ChuHoSo"}]
