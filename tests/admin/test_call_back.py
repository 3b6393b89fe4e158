"""'Gọi lại công dân' on the dossier page: queued, never waited for in the web request."""

from __future__ import annotations

import html
import re
import socket

import pytest
from sqlalchemy import select

from intake.models import AuditEvent, Role
from ivr.models import CallOrder, CallOrderStatus
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_call_order, create_dossier


@pytest.fixture
def listener():
    """A TCP port that accepts connections and never answers, where Asterisk would be."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.fixture
def operator(client, runtime, listener):
    port = listener.getsockname()[1]
    runtime.settings = runtime.settings.model_copy(
        update={"ami_url": f"ami://tongdai:secret@127.0.0.1:{port}"}
    )
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    return client


def _dossier(runtime, phone="+84912345678") -> int:
    with runtime.sessions() as session, session.begin():
        return create_dossier(session, runtime, phone=phone).id


def test_call_back_queues_an_order_and_never_connects_to_asterisk(operator, runtime, listener):
    dossier_id = _dossier(runtime)
    page = f"/admin/dossiers/{dossier_id}"
    response = operator.post(
        f"{page}/callback", data={"csrf_token": token(operator, page)}, follow_redirects=True
    )
    assert _connections(listener) == 0  # the web worker never opened an AMI connection
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and "Đã xếp lệnh gọi lại" in text
    orders = re.search(r'<ul class="call-orders">(.*?)</ul>', text, re.S)
    assert orders and "Đang chờ" in orders.group(1)
    with runtime.sessions() as session:
        order = session.scalars(select(CallOrder)).one()
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "call_order.queued")
        ).one()
    assert (order.dossier_id, order.phone, order.status) == (
        dossier_id,
        "+84912345678",
        CallOrderStatus.PENDING,
    )
    assert order.requested_by is not None and audit.actor.endswith("lan")
    assert "+84912345678" not in str(audit.details)  # the phone is masked in the audit log


def test_the_dossier_page_shows_why_a_call_back_failed(operator, runtime):
    dossier_id = _dossier(runtime)
    with runtime.sessions() as session, session.begin():
        create_call_order(
            session,
            runtime,
            dossier_id=dossier_id,
            status="failed",
            attempts=3,
            result="chưa kết nối được tới tổng đài Asterisk (sau 3 lần thử)",
        )
    text = html.unescape(operator.get(f"/admin/dossiers/{dossier_id}").get_data(as_text=True))
    assert "Không gọi được: chưa kết nối được tới tổng đài Asterisk (sau 3 lần thử)" in text


def test_without_ami_there_is_no_call_back(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    dossier_id = _dossier(runtime)
    page = f"/admin/dossiers/{dossier_id}"
    assert "Gọi lại công dân" not in client.get(page).get_data(as_text=True)
    response = client.post(f"{page}/callback", data={"csrf_token": token(client, page)})
    assert response.status_code == 404
