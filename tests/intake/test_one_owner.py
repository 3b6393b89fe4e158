"""Each rule and each write has one owner: phone display, the mobile prefixes, dossier events,
notice rows, and where a dossier's answers live."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from admin.formatting import national_phone
from intake.dossier_commands import apply_answers, form_values
from intake.dossiers import start_draft
from intake.errors import InvalidInput
from intake.forms import display_value
from intake.lifecycle import Actor, change_status
from intake.models import DossierEvent, Role, Vessel
from intake.phone import PhoneNumber, is_mobile, parse_phone
from intake.results import record_dispatch, set_new_date
from intake.statuses import Channel, Delivery
from intake.statuses import DossierStatus as S
from ivr.call_service import CallService
from ivr.engine import VALIDATORS
from ivr.models import IvrCall
from plumbing.settings import FormField
from tests.factories import create_dossier

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("admin", "intake", "ivr", "scheduler", "sms", "tongdai")
STAFF = Actor.staff("lan", Role.SUPERVISOR)


def _files_matching(pattern: str, *, skip_lines: str | None = None) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = path.read_text(encoding="utf-8").splitlines()
            if any(
                re.search(pattern, line)
                for line in lines
                if not skip_lines or skip_lines not in line
            ):
                found.append(path.relative_to(ROOT).as_posix())
    return found


# ---- phone numbers ---------------------------------------------------------------------------


def test_e164_becomes_the_national_form_in_one_function():
    # The call-back's dial string builds a SIP address, not a number shown to anyone.
    assert _files_matching(r"""["']0["'] \+ [\w.()"']+\[3:\]""", skip_lines="PJSIP/") == [
        "intake/phone.py"
    ]


def test_every_display_of_a_number_reads_it_the_same_way(runtime):
    phone_field = FormField(key="mobile", label="Di động", kind="phone")
    call = IvrCall(provider="console", provider_call_id="x", caller="+84912345678")
    shown = {
        PhoneNumber("+84912345678", parse_phone("0912345678").kind).national,
        national_phone("+84912345678").replace(" ", ""),
        display_value(phone_field, "+84912345678"),
        CallService(runtime).context(call).caller_national,
    }
    assert shown == {"0912345678"}


def test_the_mobile_prefixes_are_written_once_and_the_ivr_asks_that_rule():
    assert _files_matching(r"35789") == ["intake/phone.py"]
    assert VALIDATORS["mobile"] is is_mobile


@pytest.mark.parametrize("second", "0123456789")
def test_a_typed_number_is_a_mobile_for_the_ivr_exactly_when_it_can_get_sms(second):
    typed = f"0{second}12345678"
    try:
        gets_sms = parse_phone(typed).can_receive_sms
    except InvalidInput:
        gets_sms = False
    assert VALIDATORS["mobile"](typed) is gets_sms


# ---- events and notices ----------------------------------------------------------------------


def test_a_dossier_event_and_a_notice_row_are_each_built_in_one_place():
    assert _files_matching(r"(?<!class )\bDossierEvent\(") == ["intake/dossier_commands.py"]
    assert _files_matching(r"(?<!class )\bNotice\(") == ["sms/outbox.py"]


def test_every_event_carries_the_same_fields_whichever_path_wrote_it(session, runtime):
    now, calendar = runtime.clock.now(), runtime.calendar()
    dossier = create_dossier(session, runtime)  # the IVR's submission: -> received
    new_date = calendar.add_working_days(calendar.local(now).date(), 3)
    set_new_date(session, dossier, new_date, reason="Thiếu cán bộ", actor=STAFF, now=now,
                 calendar=calendar)  # fmt: skip
    for to in (S.ACCEPTED, S.RESULT_READY):
        change_status(session, dossier, to, actor=STAFF, now=now, calendar=calendar)
    dossier.delivery = Delivery.POST
    record_dispatch(session, dossier, tracking="EB123", actor=STAFF, now=now)
    session.flush()
    events = session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == dossier.id).order_by(DossierEvent.id)
    )
    rows = [
        {column.key: getattr(event, column.key) for column in DossierEvent.__table__.columns}
        for event in events
    ]
    assert len(rows) == 5
    for row in rows:
        assert all(value is not None for value in row.values()), row
        assert row["at"] == now and isinstance(row["details"], dict)
        assert isinstance(row["reason"], str) and isinstance(row["override"], bool)
    assert [(r["from_status"], r["to_status"]) for r in rows[1:2] + rows[-1:]] == [
        (S.RECEIVED, S.RECEIVED),
        (S.RESULT_READY, S.RESULT_READY),
    ]


# ---- answers ---------------------------------------------------------------------------------


def _draft(session, runtime):
    return start_draft(session, procedure="fishing_licence", channel=Channel.PHONE,
                       settings=runtime.settings, caller_phone="+842553822222",
                       now=runtime.clock.now())  # fmt: skip


def test_a_mobile_given_by_phone_lives_in_the_column_and_the_form_shows_it(session, runtime):
    draft = _draft(session, runtime)
    apply_answers(session, draft, {"notify_phone": "0987654321"}, now=runtime.clock.now(),
                  keyed=True)  # fmt: skip
    assert draft.notify_phone == "+84987654321"
    assert "mobile" not in draft.form
    assert draft.form["ivr"] == {"notify_phone": "0987654321"}  # what the caller keyed
    assert form_values(draft)["mobile"] == "+84987654321"


def test_a_vessel_given_by_phone_is_linked_and_shown_from_one_answer(session, runtime):
    draft = _draft(session, runtime)
    apply_answers(session, draft, {"vessel": "QNg:90617"}, now=runtime.clock.now(), keyed=True)
    vessel = session.get(Vessel, draft.vessel_id)
    assert draft.form["vessel_number"] == vessel.registration_number == "QNg-90617-TS"


def test_recordings_and_flow_markers_from_a_call_are_kept_only_as_keyed(session, runtime):
    draft = _draft(session, runtime)
    answers = {"owner_name_recording": "7", "confirmed": "yes", "citizen_id": "012345678901"}
    apply_answers(session, draft, answers, now=runtime.clock.now(), keyed=True)
    assert draft.form == {"ivr": answers, "citizen_id": "012345678901"}
