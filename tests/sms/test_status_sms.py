"""The SMS status look-up (`TT <code>`) answers only the dossier's own phone, whatever the phone
status line's limits are doing."""

from __future__ import annotations

import pytest

from intake.codes import spoken_part
from intake.status_lookup import LookupLimits, block_in_force, check_last_digits
from sms.models import Notice
from tests.factories import create_dossier
from tests.sms.test_inbound import OWNER, _receive

STRANGER = "0987654321"


@pytest.fixture
def dossier(session, runtime):
    dossier = create_dossier(session, runtime, phone=OWNER)
    dossier.form = {**dossier.form, "citizen_id": "012345678901"}
    session.commit()
    return dossier


def _reply(session, record) -> Notice:
    return session.get(Notice, record.reply_notice_id)


def test_someone_elses_code_gets_the_reply_of_a_code_that_does_not_exist(session, runtime, dossier):
    theirs = _receive(session, runtime, f"TT {spoken_part(dossier.code)}", "SM1", sender=STRANGER)
    nobodys = _receive(session, runtime, "TT 2612019999", "SM2", sender=STRANGER)
    assert (_reply(session, theirs).kind, _reply(session, theirs).text) == (
        _reply(session, nobodys).kind,
        _reply(session, nobodys).text,
    )
    assert theirs.dossier_id is None and nobodys.dossier_id is None


def test_the_owner_still_gets_the_status_by_sms_while_the_phone_line_is_blocked(
    session, runtime, clock, dossier
):
    limits = LookupLimits.of(runtime.settings.status_lookup)
    for _ in range(limits.failures_per_dossier):
        check_last_digits(session, dossier.id, "0000", caller="+84987654321", limits=limits,
                          now=clock.now(), actor="ivr")  # fmt: skip
    session.commit()
    assert block_in_force(session, dossier.id, clock.now()) is not None
    reply = _reply(session, _receive(session, runtime, f"TT {dossier.code}", "SM3"))
    assert reply.kind == "status_reply" and reply.phone == OWNER
