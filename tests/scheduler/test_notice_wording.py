"""The citizen's notices at every turn, as the citizen reads them: rendered texts in full, dates
counted by hand on the working-day calendar."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.results import record_dispatch
from intake.statuses import Delivery
from intake.statuses import DossierStatus as S
from sms.models import Notice
from tests.factories import create_dossier
from tests.scheduler.test_rules import STAFF, Centre, at

CODE = "000.00.53.H48.TD-261201-0001"  # received Tue 01/12/2026 09:00, licence: due Wed 09/12


@pytest.fixture
def centre(runtime, session, clock):
    return Centre(runtime, session, clock)


def _text(session, kind: str) -> str:
    return session.scalars(select(Notice).where(Notice.kind == kind)).one().text


def test_an_early_result_keeps_its_wording_and_says_where_when_and_what_to_bring(
    centre, session, clock, runtime
):
    dossier = create_dossier(session, runtime, delivery=Delivery.COLLECT)
    centre.move(dossier, S.ACCEPTED)
    at(clock, 2026, 12, 3, 10)
    centre.move(dossier, S.RESULT_READY)
    centre.tick()
    assert _text(session, "result_collect") == (
        f"TTHCC Quang Ngai: Ho so {CODE} da co ket qua som (hen 09/12/2026). Moi ong/ba den "
        "nhan tai 54 Hung Vuong, TP Quang Ngai, T2-T6, 7h-11h30, 13h30-17h; mang CCCD, ban chup "
        "giay dang ky tau, giay an toan ky thuat, bang thuyen truong, may truong. "
        "Hoi dap: 02553822222"
    )


def test_a_late_result_is_announced_too(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime, delivery=Delivery.COLLECT, variant="reissue")
    centre.move(dossier, S.ACCEPTED)
    at(clock, 2026, 12, 14, 10)  # re-issue: 3 working days, due Fri 04/12; ready Mon 14/12
    centre.move(dossier, S.RESULT_READY)
    centre.tick()
    assert centre.kinds[-1] == "result_ready"
    assert _text(session, "result_ready").endswith(
        "mang CCCD, giay phep khai thac thuy san da duoc cap, neu de nghi thay doi thong tin. "
        "Hoi dap: 02553822222"
    )


def test_a_parcel_without_a_tracking_number_says_so_in_words(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime, status=S.RESULT_READY)
    record_dispatch(session, dossier, tracking="", actor=STAFF, now=clock.now())
    centre.tick()
    assert centre.kinds == ["receipt", "result_post_untracked"]
    assert _text(session, "result_post_untracked") == (
        f"TTHCC Quang Ngai: Ket qua ho so {CODE} da gui buu dien ve dia chi cua ong/ba; buu ta "
        "se goi truoc khi giao. Hoi dap: 02553822222"
    )


def test_the_supplement_request_says_how_to_send_the_papers(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime)
    centre.move(
        dossier,
        S.SUPPLEMENT_REQUESTED,
        reason="Bản chụp mờ",
        details={"documents": ["Bản chụp đăng ký tàu"], "number": 1},
    )
    centre.tick()
    assert _text(session, "supplement") == (
        f"TTHCC Quang Ngai: Ho so {CODE} can bo sung: Ban chup dang ky tau. Ly do: Ban chup mo. "
        "Ong/ba gui ban chup qua buu dien hoac mang den 54 Hung Vuong, TP Quang Ngai, ghi ma ho "
        "so. Hoi dap: 02553822222"
    )


def test_a_received_supplement_tells_the_moved_due_date(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime)
    at(clock, 2026, 12, 2, 10)  # Wed: supplement asked
    centre.move(dossier, S.SUPPLEMENT_REQUESTED, reason="Thiếu tờ khai")
    centre.tick()
    at(clock, 2026, 12, 7, 10)  # Mon: papers in. Waited Thu 3, Fri 4, Mon 7 = 3 working days,
    centre.move(dossier, S.IN_PROCESS)  # so Wed 09/12 moves to Thu 10, Fri 11, Mon 14/12.
    centre.tick()
    assert centre.kinds == ["receipt", "supplement", "supplement_received"]
    assert _text(session, "supplement_received") == (
        f"TTHCC Quang Ngai: Da nhan giay to bo sung ho so {CODE}. Hen tra ket qua moi: "
        "14/12/2026. Hoi dap: 02553822222"
    )


def test_the_survey_names_the_centre_and_the_citizen(centre, session, clock, runtime):
    dossier = create_dossier(session, runtime, status=S.RESULT_READY, delivery=Delivery.COLLECT)
    centre.move(dossier, S.RETURNED)
    centre.tick()
    assert _text(session, "survey") == (
        "TTHCC Quang Ngai cam on ong/ba. Moi danh gia ho so 261201-0001: soan 1 (Rat hai long), "
        "2 (Hai long) hoac 3 (Khong hai long) gui 8079."
    )
