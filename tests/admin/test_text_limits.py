"""Over-long free text in the staff pages is refused with a message before any work is done."""

from __future__ import annotations

import html
import importlib

import pytest
from sqlalchemy import select

from admin.text_limits import DOCUMENT_MAX_CHARS, MANUAL_SMS_MAX_CHARS, SEARCH_MAX_CHARS
from intake.models import Dossier, Role
from intake.statuses import DossierStatus as S
from tests.admin.staff import log_in, make_user, token
from tests.admin.test_dossier_pages import _claimed, _phone_dossier

# The modules, not the blueprints admin.views exports under the same names.
outbox_view = importlib.import_module("admin.views.outbox")
dossiers_view = importlib.import_module("admin.views.dossiers")


@pytest.fixture
def operator(client, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    log_in(client, "lan")
    return client


@pytest.fixture
def measured(monkeypatch) -> list[int]:
    """The length of every SMS text the outbox measured."""
    lengths: list[int] = []
    original = outbox_view.prepare

    def counted(text, policy):
        lengths.append(len(text))
        return original(text, policy)

    monkeypatch.setattr(outbox_view, "prepare", counted)
    return lengths


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_an_overlong_live_preview_is_refused_unmeasured(operator, measured):
    headers = {"X-CSRF-Token": token(operator, "/admin/outbox")}
    text = "ă" * (MANUAL_SMS_MAX_CHARS + 1)
    response = operator.post("/admin/outbox/preview", headers=headers, data={"text": text})
    assert response.status_code == 400
    assert "Nội dung tin nhắn tối đa 1.600 ký tự." in page_text(response)
    assert measured == []


def test_a_seven_million_character_preview_is_refused_before_it_is_read(operator, measured):
    headers = {"X-CSRF-Token": token(operator, "/admin/outbox")}
    response = operator.post(
        "/admin/outbox/preview", headers=headers, data={"text": "a" * 7_000_000}
    )
    assert response.status_code == 413
    assert "Nội dung gửi lên quá lớn" in page_text(response)
    assert measured == []


def test_an_overlong_manual_sms_is_refused_and_the_text_kept(operator, runtime, measured):
    text = "Kính gửi ông " + "a" * MANUAL_SMS_MAX_CHARS
    response = operator.post(
        "/admin/outbox/manual",
        data={"csrf_token": token(operator, "/admin/outbox"), "phone": "0912345678", "text": text},
    )
    assert response.status_code == 400
    page = page_text(response)
    assert "Nội dung tin nhắn tối đa 1.600 ký tự." in page
    assert text in page  # nothing typed is lost
    assert measured == []


def test_a_manual_sms_at_the_limit_is_still_measured(operator, measured):
    text = "a" * MANUAL_SMS_MAX_CHARS
    response = operator.post(
        "/admin/outbox/manual",
        data={"csrf_token": token(operator, "/admin/outbox"), "phone": "0912345678", "text": text},
    )
    assert "tối đa 5 phần" in page_text(response)  # the ordinary answer: too many parts
    assert MANUAL_SMS_MAX_CHARS in measured


def test_an_overlong_search_is_refused_with_a_message_and_not_run(operator, monkeypatch):
    def no_search(*_args):
        raise AssertionError("the search ran")

    monkeypatch.setattr(dossiers_view, "_search", no_search)
    response = operator.get("/admin/dossiers", query_string={"q": "0" * (SEARCH_MAX_CHARS + 1)})
    assert response.status_code == 400
    assert "Từ khoá tìm kiếm tối đa 100 ký tự." in page_text(response)


def test_an_overlong_supplement_document_is_refused(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    url, version = _claimed(operator, runtime, dossier_id)
    operator.post(
        f"{url}/status",
        data={
            "csrf_token": token(operator, url),
            "to": "supplement_requested",
            "version": version,
            "reason": "Bản chụp bị mờ",
            "other_document": "Giấy " * (DOCUMENT_MAX_CHARS // 5 + 1),
        },
    )
    assert "Tên mỗi giấy tờ cần bổ sung tối đa 200 ký tự." in page_text(operator.get(url))
    with runtime.sessions() as session:
        assert session.get(Dossier, dossier_id).status is S.RECEIVED


def test_any_staff_text_over_the_common_limit_gets_a_page_in_vietnamese(operator, runtime):
    limit = runtime.settings.web.max_text_chars
    form = operator.post(
        "/admin/callbacks/1/close",
        data={"csrf_token": token(operator, "/admin/callbacks"), "note": "x" * (limit + 1)},
    )
    assert form.status_code == 413
    assert "Mỗi ô nhập tối đa 4.000 ký tự." in page_text(form)
    query = operator.get("/admin/calls", query_string={"outcome": "x" * (limit + 1)})
    assert query.status_code == 413


def test_a_supplement_document_within_its_limit_is_requested(operator, runtime):
    dossier_id, _ = _phone_dossier(runtime)
    url, version = _claimed(operator, runtime, dossier_id)
    operator.post(
        f"{url}/status",
        data={
            "csrf_token": token(operator, url),
            "to": "supplement_requested",
            "version": version,
            "reason": "Bản chụp bị mờ",
            "other_document": "Bản sao sổ danh bạ thuyền viên",
        },
    )
    with runtime.sessions() as session:
        dossier = session.scalars(select(Dossier).where(Dossier.id == dossier_id)).one()
        assert dossier.status is S.SUPPLEMENT_REQUESTED
