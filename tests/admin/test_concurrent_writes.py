"""Two members of staff writing the same dossier at the same moment: the later one is told."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, update

from intake.models import Dossier, Role
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier


@contextmanager
def someone_else_writes_first(runtime, dossier_id: int, **values) -> Iterator[None]:
    """Just before the next write of the dossier, another connection updates it (once)."""
    done = []

    def interfere(session, flush_context, instances) -> None:
        if done or not any(isinstance(row, Dossier) for row in session.dirty):
            return
        done.append(True)
        with runtime.engine.begin() as other:
            other.execute(
                update(Dossier)
                .where(Dossier.id == dossier_id)
                .values(version=Dossier.version + 1, **values)
            )

    event.listen(runtime.sessions, "before_flush", interfere)
    try:
        yield
    finally:
        event.remove(runtime.sessions, "before_flush", interfere)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_claim_racing_another_write_is_told_not_a_server_error(client, runtime):
    with runtime.sessions() as session, session.begin():
        dossier_id = create_dossier(session, runtime).id
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    url = f"/admin/dossiers/{dossier_id}"
    csrf = token(client, url)
    with someone_else_writes_first(runtime, dossier_id, assigned_to="minh"):
        response = client.post(f"{url}/claim", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert "vừa được người khác cập nhật" in client.get(url).get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).assigned_to == "minh"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_edit_racing_another_write_is_told_and_does_not_overwrite_it(client, runtime):
    with runtime.sessions() as session, session.begin():
        dossier_id = create_dossier(session, runtime).id
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    url = f"/admin/dossiers/{dossier_id}"
    client.post(f"{url}/claim", data={"csrf_token": token(client, url)})
    with runtime.sessions() as session:
        version = session.get(Dossier, dossier_id).version
    data = {"csrf_token": token(client, url), "version": version, "owner_name": "Người thứ hai"}
    with someone_else_writes_first(runtime, dossier_id, form={"owner_name": "Người thứ nhất"}):
        response = client.post(f"{url}/form", data=data)
    assert response.status_code == 302
    assert "vừa được người khác cập nhật" in client.get(url).get_data(as_text=True)
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).form == {"owner_name": "Người thứ nhất"}
