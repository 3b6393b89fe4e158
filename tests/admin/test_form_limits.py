"""The staff form takes exactly what the database keeps: one limit per field, shared by the form
and the column, a message next to the field, and every other value typed stays on the page.
On PostgreSQL, which (unlike SQLite) refuses a value longer than its column."""

from __future__ import annotations

import html

import pytest

from intake.models import Applicant, Dossier, Role, Vessel
from tests.admin.staff import log_in, make_user, token
from tests.factories import create_dossier
from tests.hostile import on_postgresql

pytestmark = on_postgresql
NAME_COLUMN = Applicant.__table__.c.name.type.length  # 200


@pytest.fixture
def claimed(client, runtime):
    """An operator on a phone-in dossier they claimed: (client, url, version, dossier id)."""
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, complete=False)  # as the call left it
        applicant = Applicant(phone="+84912345678")
        session.add(applicant)
        session.flush()
        dossier.applicant_id = applicant.id
        dossier_id = dossier.id
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    url = f"/admin/dossiers/{dossier_id}"
    client.post(f"{url}/claim", data={"csrf_token": token(client, url)})
    with runtime.sessions() as session:
        version = session.get(Dossier, dossier_id).version
    return client, url, version, dossier_id


def _save(claimed, **fields):
    client, url, version, _ = claimed
    data = {"csrf_token": token(client, url), "version": version, **fields}
    return client.post(f"{url}/form", data=data)


@pytest.mark.parametrize("length", [NAME_COLUMN + 1, 250, 300])
def test_an_owner_name_longer_than_its_column_is_refused_next_to_the_field(
    claimed, runtime, length
):
    response = _save(claimed, owner_name="A" * length, main_gear="Lưới rê", mobile="0987654321")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert f'id="e-owner_name">Tối đa {NAME_COLUMN} ký tự (đang có {length}).' in page
    assert 'value="Lưới rê"' in page and 'value="0987654321"' in page  # the rest is kept
    assert f'value="{"A" * length}"' in page  # and so is the name, to shorten it
    with runtime.sessions() as session:
        assert "owner_name" not in session.get(Dossier, claimed[3]).form


def test_an_owner_name_of_exactly_the_column_length_is_saved(claimed, runtime):
    assert _save(claimed, owner_name="A" * NAME_COLUMN).status_code == 302
    with runtime.sessions() as session:
        dossier = session.get(Dossier, claimed[3])
        assert session.get(Applicant, dossier.applicant_id).name == "A" * NAME_COLUMN


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("owner_name", "Nguyễn\x1bVăn An", "Có ký tự không hợp lệ"),
        ("vessel_number", "QNg-１２３４５-TS", "Số đăng ký tàu dạng QNg-12345-TS"),
        ("vessel_number", "QNg-١٢٣٤٥-TS", "Số đăng ký tàu dạng QNg-12345-TS"),
        ("citizen_id", "٠٧٩١٢٣٤٥٦٧٨٩", "Số căn cước công dân gồm đúng 12 chữ số."),
        ("date_of_birth", "٠٥/٠٩/١٩٧٥", "Ngày viết theo dạng ngày/tháng/năm"),
        ("mobile", "０９８７６５４３２１", "Số điện thoại không hợp lệ"),
    ],
)
def test_a_value_in_other_digits_or_with_a_control_character_gets_a_message(
    claimed, runtime, field, typed, message
):
    response = _save(claimed, **{field: typed}, main_gear="Lưới rê")
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert f'id="e-{field}">{message}' in page
    assert 'value="Lưới rê"' in page
    with runtime.sessions() as session:
        assert field not in session.get(Dossier, claimed[3]).form
        assert session.query(Vessel).count() == 0
