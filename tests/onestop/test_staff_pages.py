"""What staff see of the portal sync: each dossier's state, "sync again", the health card."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from intake.models import AuditEvent, Role
from onestop import sync
from onestop.models import Reconciliation, SyncItem, SyncStatus
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier
from tests.onestop.fake_portal import FakePortal
from tests.onestop.portal_book import REFUSE_MARK

HEALTH_TOKEN = "theo-doi"


@pytest.fixture
def enabled(runtime):
    onestop = runtime.settings.onestop.model_copy(update={"enabled": True})
    runtime.settings = runtime.settings.model_copy(
        update={"onestop": onestop, "health_token": HEALTH_TOKEN}
    )
    sync.install(runtime.settings)
    yield runtime
    sync.install(runtime.settings.model_copy(update={"onestop": onestop.model_copy(
        update={"enabled": False})}))  # fmt: skip


def _dossier(runtime, owner: str = "Nguyễn Văn Biển") -> int:
    with runtime.sessions() as session, session.begin():
        return create_dossier(session, runtime, owner_name=owner).id


def _sync(runtime, portal) -> None:
    for _ in range(5):
        sync.sync_due(runtime.sessions, portal, runtime.settings, runtime.clock)


def _staff(client, runtime, role: Role):
    make_user(runtime, "hoa", role)
    log_in(client, "hoa")
    return client


def test_a_refused_dossier_shows_the_portal_message_and_a_supervisor_syncs_it_again(
    enabled, client
):
    dossier_id = _dossier(enabled, f"Trần Văn A {REFUSE_MARK}")
    _sync(enabled, FakePortal())
    supervisor = _staff(client, enabled, Role.SUPERVISOR)
    page = supervisor.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert "bị từ chối" in page and "thông tin chủ hồ sơ không hợp lệ" in page
    assert "Đồng bộ lại" in page

    path = f"/admin/dossiers/{dossier_id}"
    answer = supervisor.post(f"{path}/onestop/sync-again", data={"csrf_token": token(client, path)})
    assert answer.status_code == 302
    with enabled.sessions() as session:
        statuses = [i.status for i in session.scalars(select(SyncItem).order_by(SyncItem.id))]
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "onestop.sync_again")
        ).one()
    assert statuses == [SyncStatus.PENDING, SyncStatus.PENDING]
    assert audited.actor == "staff:hoa" and audited.target_id == str(dossier_id)
    page = supervisor.get(path).get_data(as_text=True)
    assert "đang chờ đồng bộ từ 01/12/2026 09:00" in page


def test_an_operator_sees_the_state_but_cannot_sync_again(enabled, client):
    dossier_id = _dossier(enabled)
    operator = _staff(client, enabled, Role.OPERATOR)
    path = f"/admin/dossiers/{dossier_id}"
    page = operator.get(path).get_data(as_text=True)
    assert "đang chờ đồng bộ từ 01/12/2026 09:00" in page and "Đồng bộ lại" not in page
    answer = operator.post(f"{path}/onestop/sync-again", data={"csrf_token": token(client, path)})
    assert answer.status_code == 403


def test_a_synced_dossier_says_when(enabled, client, clock):
    dossier_id = _dossier(enabled)
    clock.advance(dt.timedelta(minutes=5))
    _sync(enabled, FakePortal())
    page = _staff(client, enabled, Role.OPERATOR).get(f"/admin/dossiers/{dossier_id}")
    assert "đã đồng bộ lúc 01/12/2026 09:05" in page.get_data(as_text=True)


def test_healthz_reports_the_backlog_and_is_degraded_when_it_waits_an_hour(enabled, client, clock):
    _dossier(enabled)
    headers = {"X-Health-Token": HEALTH_TOKEN}
    part = client.get("/healthz", headers=headers).get_json()["onestop"]
    assert part == {
        "ok": True,
        "backlog": 2,
        "oldest_pending": "2026-12-01T02:00:00+00:00",
        "oldest_pending_seconds": 0,
        "stopped_dossiers": 0,
        "last_reconciliation": None,
        "reconciliation_mismatches": None,
    }
    clock.advance(dt.timedelta(hours=1, minutes=1))
    answer = client.get("/healthz", headers=headers)
    assert answer.status_code == 200 and answer.get_json()["status"] == "degraded"
    assert answer.get_json()["onestop"]["ok"] is False


def test_the_health_card_counts_the_backlog_and_the_refusals(enabled, client):
    _dossier(enabled, f"Trần Văn A {REFUSE_MARK}")
    _sync(enabled, FakePortal())
    _dossier(enabled)
    page = _staff(client, enabled, Role.OPERATOR).get("/admin/health").get_data(as_text=True)
    assert "Đồng bộ Cổng DVCQG" in page
    assert "2 bản ghi chờ gửi" in page
    assert "1 hồ sơ bị Cổng từ chối hoặc gửi không thành công" in page


def test_with_the_sync_off_nothing_shows(runtime, client):
    dossier_id = _dossier(runtime)
    operator = _staff(client, runtime, Role.OPERATOR)
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert "Cổng Dịch vụ công quốc gia" not in page
    assert "Chưa bật đồng bộ" in operator.get("/admin/health").get_data(as_text=True)


def test_the_latest_reconciliation_is_on_the_health_page(enabled, client, clock):
    with enabled.sessions() as session, session.begin():
        session.add(
            Reconciliation(
                day=dt.date(2026, 11, 30),
                ran_at=clock.now(),
                checked=12,
                mismatches=[{"code": "000.00.53.H48-261130-8003",
                             "problem": "Cổng chưa có hồ sơ này"}],
            )
        )  # fmt: skip
    page = _staff(client, enabled, Role.OPERATOR).get("/admin/health").get_data(as_text=True)
    assert "Hồ sơ thay đổi ngày 30/11/2026: đã so 12 hồ sơ" in page
    assert "000.00.53.H48-261130-8003" in page and "Cổng chưa có hồ sơ này" in page
    assert "Đối soát gần nhất: 1 hồ sơ lệch." in page
