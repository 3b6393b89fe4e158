"""Two calls recorded against a real Asterisk 22, replayed: the FastAGI server must say every
command it said then, in order, and end in the same state (tests/asterisk runs the real thing).
The second call is two FastAGI conversations: before and after a transfer nobody took."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from sqlalchemy import select

from intake.models import Dossier
from intake.statuses import Delivery, DossierStatus
from ivr.models import CallbackRequest, IvrCall, Recording
from tests.ivr.asterisk.replay import replay

# When the calls were recorded (14:2x in Quảng Ngãi, Thu 26/11/2026, tests/asterisk's clock): the
# dossier code read back depends on the day. The licence asks the vessel's length and the owner's
# date of birth, and the call ends with what is missing and the papers to hand in.
RECORDED_AT = dt.datetime(2026, 11, 26, 7, 25, tzinfo=dt.UTC)


def _ended(runtime) -> str | None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            reason = session.scalar(select(IvrCall.end_reason))  # the only call so far
        if reason:
            return reason
        time.sleep(0.02)
    return None


def test_the_recorded_calls_replay_word_for_word(agi_port, agi_runtime, clock):
    clock.set(RECORDED_AT)
    assert asyncio.run(replay(agi_port, "first_call_dropped_at_the_name.txt")) == []
    assert _ended(agi_runtime) == "hangup"
    with agi_runtime.sessions() as session:
        draft = session.scalars(select(Dossier)).one()
        assert draft.status is DossierStatus.DRAFT
        assert draft.form["ivr"]["vessel"] == "QNg:90617"

    clock.advance(dt.timedelta(minutes=1))
    assert asyncio.run(replay(agi_port, "second_call_resumes.txt")) == []
    clock.advance(dt.timedelta(minutes=1))
    assert asyncio.run(replay(agi_port, "second_call_after_the_transfer.txt")) == []
    with agi_runtime.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
        assert session.scalars(select(CallbackRequest)).all() == []  # the caller went back
        purposes = [r.purpose for r in session.scalars(select(Recording).order_by(Recording.id))]
    assert dossier.status is DossierStatus.RECEIVED
    # The keypad could not give the certificate number and the gear: no due date yet (the call
    # said what is missing). Received Thu 26/11 before the 15:00 cut-off: 2 working days to
    # complete it: Fri 27, Mon 30.
    first = agi_runtime.settings.onestop.sequence_first  # the phone channel's first of the day
    assert dossier.code.endswith(f"-261126-{first:04d}") and dossier.due_date is None
    assert dossier.completeness_due == dt.date(2026, 11, 30)
    assert dossier.form["date_of_birth"] == "1975-09-05"
    assert dossier.delivery is Delivery.COLLECT  # changed at the summary
    assert purposes == ["owner_name_recording", "address_recording"]
