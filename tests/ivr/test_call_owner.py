"""A provider's call id opens that call only for its own caller (FastAGI peers name their own
`agi_uniqueid`; the rule is shared by every front end)."""

from __future__ import annotations

from ivr.call_service import CallService


def test_a_known_call_id_from_another_number_opens_a_new_call(runtime, session):
    service = CallService(runtime)
    first, _ = service.open_call(session, "twilio", "CA0001", "+84912345678")
    session.commit()
    other, created = service.open_call(session, "twilio", "CA0001", "+84987654321")
    session.commit()
    assert created and other.id != first.id and other.caller == "+84987654321"
    again, created = service.open_call(session, "twilio", "CA0001", "0912 345 678")
    assert not created and again.id == first.id


def test_a_hidden_caller_keeps_its_call_and_a_number_does_not_take_it(runtime, session):
    service = CallService(runtime)
    hidden, _ = service.open_call(session, "asterisk", "1764100000.7", "anonymous")
    session.commit()
    again, created = service.open_call(session, "asterisk", "1764100000.7", "anonymous")
    assert not created and again.id == hidden.id
    other, created = service.open_call(session, "asterisk", "1764100000.7", "0987654321")
    assert created and other.id != hidden.id
