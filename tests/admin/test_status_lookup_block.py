"""Staff see a dossier whose phone status look-up is blocked, and a supervisor can lift it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from intake.models import AuditEvent, Role
from intake.status_lookup import LookupLimits, block_in_force, check_last_digits
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier

NOTICE = "Tra cứu qua điện thoại bị khoá đến 02/12/2026 09:00"
LIFT = "Mở khoá tra cứu"


def blocked_dossier(runtime, clock) -> int:
    limits = LookupLimits.of(runtime.settings.status_lookup)
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime)
        dossier.form = {**dossier.form, "citizen_id": "012345678901"}
        for _ in range(limits.failures_per_dossier):
            check_last_digits(session, dossier.id, "0000", caller="+84987654321", limits=limits,
                              now=clock.now(), actor="ivr")  # fmt: skip
        return dossier.id


def staff(client, runtime, role: Role):
    make_user(runtime, "hoa", role)
    log_in(client, "hoa")
    return client


def unblock(client, dossier_id: int, csrf: str | None = None):
    page = f"/admin/dossiers/{dossier_id}"
    csrf = token(client, page) if csrf is None else csrf
    return client.post(f"{page}/status-lookup/unblock", data={"csrf_token": csrf})


def lifts(session) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "status_lookup.unblocked"))
    )


def test_an_operator_sees_the_block_but_cannot_lift_it(client, runtime, clock, session):
    dossier_id = blocked_dossier(runtime, clock)
    operator = staff(client, runtime, Role.OPERATOR)
    page = operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    assert NOTICE in page and "Số điện thoại của hồ sơ vẫn tra cứu được" in page
    assert LIFT not in page
    assert unblock(operator, dossier_id).status_code == 403
    assert block_in_force(session, dossier_id, clock.now()) is not None
    assert lifts(session) == []


def test_a_supervisor_lifts_the_block_and_it_is_audited(client, runtime, clock, session):
    dossier_id = blocked_dossier(runtime, clock)
    supervisor = staff(client, runtime, Role.SUPERVISOR)
    assert LIFT in supervisor.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    clock.advance(dt.timedelta(minutes=3))
    response = unblock(supervisor, dossier_id)
    assert response.status_code == 302
    page = supervisor.get(response.location).get_data(as_text=True)
    assert "Đã mở khoá tra cứu qua điện thoại" in page and NOTICE not in page
    assert block_in_force(session, dossier_id, clock.now()) is None
    (event,) = lifts(session)
    assert (event.actor, event.target_id) == ("staff:hoa", str(dossier_id))


def test_lifting_needs_the_forms_csrf_token(client, runtime, clock, session):
    dossier_id = blocked_dossier(runtime, clock)
    supervisor = staff(client, runtime, Role.SUPERVISOR)
    assert unblock(supervisor, dossier_id, csrf="forged").status_code == 400
    assert block_in_force(session, dossier_id, clock.now()) is not None


def test_a_dossier_that_is_not_blocked_shows_nothing_and_has_nothing_to_lift(
    client, runtime, clock, session
):
    with runtime.sessions() as rows, rows.begin():
        dossier_id = create_dossier(rows, runtime).id
    supervisor = staff(client, runtime, Role.SUPERVISOR)
    assert "bị khoá" not in supervisor.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True)
    response = unblock(supervisor, dossier_id)
    assert "không bị khoá" in supervisor.get(response.location).get_data(as_text=True)
    assert lifts(session) == []
    assert unblock(supervisor, 999999).status_code == 404
