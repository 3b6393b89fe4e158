"""The factories build rows the application itself could have built."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from intake.lifecycle import TRANSITIONS
from intake.models import Applicant, DossierEvent, Vessel
from intake.statuses import DossierStatus as S
from tests.factories import create_dossier, create_notice, create_recording, lifecycle_path

REACHABLE = [status for status in S if status not in (S.DRAFT, S.RECEIVED)]


@pytest.mark.parametrize("status", REACHABLE)
def test_a_dossier_reaches_each_status_by_allowed_steps_each_an_event(session, runtime, status):
    dossier = create_dossier(session, runtime, status=status)
    events = session.scalars(
        select(DossierEvent).where(DossierEvent.dossier_id == dossier.id).order_by(DossierEvent.id)
    ).all()
    assert dossier.status is status
    assert [(e.from_status, e.to_status) for e in events][0] == (S.DRAFT, S.RECEIVED)
    for event in events:
        assert event.to_status in TRANSITIONS[event.from_status]
    assert events[-1].to_status is status


def test_the_path_is_the_shortest_one():
    assert lifecycle_path(S.RECEIVED, S.RECEIVED) == []
    assert lifecycle_path(S.RECEIVED, S.RETURNED) == [S.ACCEPTED, S.RESULT_READY, S.RETURNED]
    with pytest.raises(ValueError):
        lifecycle_path(S.RETURNED, S.RECEIVED)


def test_an_owner_and_a_vessel_are_rows_and_form_fields(session, runtime):
    dossier = create_dossier(session, runtime, citizen_id="051234567890", vessel="90617")
    applicant = session.get(Applicant, dossier.applicant_id)
    vessel = session.get(Vessel, dossier.vessel_id)
    assert (applicant.citizen_id, applicant.phone) == ("051234567890", "+84912345678")
    assert vessel.registration_number == "QNg-90617-TS"
    assert dossier.form["citizen_id"] == "051234567890"
    assert dossier.form["vessel_number"] == "QNg-90617-TS"


def test_a_notice_of_every_template_can_be_queued_with_the_default_values(session, runtime):
    for kind in runtime.settings.sms.templates:
        assert create_notice(session, runtime, kind=kind) is not None, kind


def test_a_recording_on_an_existing_call_adds_no_call(session, runtime):
    from ivr.models import IvrCall

    first = create_recording(session, path="recordings/a.mp3")
    second = create_recording(session, path="recordings/b.mp3", call_id=first.call_id)
    assert second.call_id == first.call_id
    assert len(session.scalars(select(IvrCall)).all()) == 1
