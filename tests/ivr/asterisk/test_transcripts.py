"""Two calls recorded against a real Asterisk 22, replayed: the FastAGI server must say every
command it said then, in order, and end in the same state (tests/asterisk runs the real thing)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from sqlalchemy import select

from intake.models import Dossier
from intake.statuses import DossierStatus
from ivr.models import IvrCall
from tests.ivr.asterisk.replay import replay

# When the calls were recorded (19:38 in Quảng Ngãi, Wed 02/12/2026): the dossier code read back
# depends on the day. The licence asks the vessel's length and the owner's date of birth, and
# the call ends with what is missing and the papers to hand in.
RECORDED_AT = dt.datetime(2026, 12, 2, 12, 38, tzinfo=dt.UTC)


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
    with agi_runtime.sessions() as session:
        dossier = session.scalars(select(Dossier)).one()
    assert dossier.status is DossierStatus.RECEIVED
    # The keypad could not give the certificate number and the gear: no due date yet (the call
    # said what is missing). Received Wed 02/12 19:39, after the 15:00 cut-off: counts as Thu
    # 03/12; 2 working days to complete it: Fri 4, Mon 7.
    assert dossier.code.endswith("-261202-0001") and dossier.due_date is None
    assert dossier.completeness_due == dt.date(2026, 12, 7)
    assert dossier.form["date_of_birth"] == "1975-09-05"
