"""Property: no address a staff member can type, however hostile its query string or id, ends in
a 500 on PostgreSQL. Part of the 10,000 random requests described in
tests/ivr/test_random_webhooks.py."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from intake.models import Role
from tests.admin.staff import log_in, make_user
from tests.factories import create_dossier
from tests.hostile import HUGE, hostile_text, on_postgresql, requests_with_one_hostile_value

DAY = st.sampled_from(["01/12/2026", "1/12/2026", "2026-12-01", "31/12/2026", "05/01/2026"])
ID = st.sampled_from(["1", "2", "50", "2147483647", "2147483648", HUGE])
PAGES = {
    "/admin/dossiers": {
        "status": st.sampled_from(["", "all", "draft", "received", "accepted", "returned"]),
        "procedure": st.sampled_from(["fishing_licence", "vessel_safety"]),
        "channel": st.sampled_from(["phone", "counter"]),
        "due": st.sampled_from(["overdue", "soon"]),
        "mine": st.just("1"),
        "q": st.sampled_from(["90617", "QNg-90617-TS", "0912 345 678", "2612018000"]),
        "after": st.one_of(ID, st.sampled_from(["2026-12-09:1", "2026-12-09:2147483647"])),
    },
    "/admin/outbox": {
        "status": st.sampled_from(["pending", "sent", "held", "failing"]),
        "kind": st.sampled_from(["receipt", "manual", "survey"]),
        "phone": st.sampled_from(["0912345678", "+84912345678"]),
        "after": ID,
    },
    "/admin/calls": {
        "date": DAY,
        "outcome": st.sampled_from(["none", "submitted", "callback"]),
        "after": ID,
    },
    "/admin/audit": {
        "actor": st.sampled_from(["root", "staff:root", "system:ivr"]),
        "action": st.sampled_from(["login", "recording", "dossier.changed"]),
        "start": DAY,
        "end": DAY,
        "before": ID,
    },
    "/admin/reports": {"start": DAY, "end": DAY},
    "/admin/callbacks": {"after": ID},
    "/admin/calendar": {"year": st.sampled_from(["2026", "2027", "1999", HUGE])},
}
ITEMS = ["/admin/dossiers/{}", "/admin/dossiers/{}/citizen-id", "/admin/dossiers/{}/slip/receipt",
         "/admin/recordings/{}"]  # fmt: skip


def _with_query(path: str) -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    query = requests_with_one_hostile_value({}, PAGES[path], {}).map(lambda request: request[0])
    return st.tuples(st.just(path), query)


ITEM_ADDRESSES = st.tuples(
    st.builds(
        str.format,
        st.sampled_from(ITEMS),
        st.one_of(ID, hostile_text()).map(lambda text: quote(text, safe="")),
    ),
    st.just({}),
)
ADDRESSES = st.one_of(*[_with_query(path) for path in PAGES], ITEM_ADDRESSES)


@pytest.fixture
def admin(client, runtime):
    with runtime.sessions() as session, session.begin():
        create_dossier(session, runtime)
    make_user(runtime, "root", Role.ADMIN)
    assert log_in(client, "root").status_code == 302
    return client


@on_postgresql
@settings(
    max_examples=3000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(address=ADDRESSES)
def test_no_staff_address_ends_in_a_500(admin, address):
    path, query = address
    response = admin.get(path, query_string=query)
    event(f"{path.split('/')[2]} answered {response.status_code}")
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
