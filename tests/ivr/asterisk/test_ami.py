"""Our AMI client against a protocol-level manager: events, idle periods, reconnects."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ivr.asterisk.ami import AmiAddress, AmiClient, AmiError, AmiTimeout
from ivr.asterisk.call_events import CallEventLogger
from ivr.models import CallLog
from tests.ivr.asterisk.fake_ami import FakeAmi


async def _until(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def _client(fake: FakeAmi, **options) -> AmiClient:
    address = AmiAddress("127.0.0.1", fake.port, fake.username, fake.secret)
    return AmiClient(address, reconnect_min=0.05, reconnect_max=0.2, **options)


def test_the_ami_url_is_parsed_with_escaped_secrets():
    address = AmiAddress.parse("ami://tongdai:p%40ss%3Aword@10.0.0.5:5039")
    assert (address.host, address.port, address.username, address.secret) == (
        "10.0.0.5",
        5039,
        "tongdai",
        "p@ss:word",
    )
    with pytest.raises(ValueError):
        AmiAddress.parse("http://tongdai@host")


def test_events_reach_handlers_and_a_failing_handler_does_not_kill_the_reader():
    async def scenario():
        fake = FakeAmi()
        await fake.start()
        client = _client(fake)
        seen = []
        client.on_event(lambda message: 1 / 0)  # a broken handler
        client.on_event(lambda message: seen.append(message["Event"]))
        runner = asyncio.create_task(client.run_forever())
        await asyncio.wait_for(client.connected.wait(), 5)
        for name in ("Newchannel", "DTMFEnd", "Hangup"):
            await fake.send_event(Event=name, Uniqueid="1.1")
        await _until(lambda: len(seen) == 3)
        await client.stop()
        runner.cancel()
        await fake.stop()
        return seen

    assert asyncio.run(scenario()) == ["Newchannel", "DTMFEnd", "Hangup"]


def test_a_long_idle_period_keeps_the_connection_with_pings():
    async def scenario():
        fake = FakeAmi()
        await fake.start()
        client = _client(fake, keepalive=0.1)
        seen = []
        client.on_event(lambda message: seen.append(message["Event"]))
        runner = asyncio.create_task(client.run_forever())
        await asyncio.wait_for(client.connected.wait(), 5)
        await asyncio.sleep(1.0)  # ten keep-alive periods without a single event
        await fake.send_event(Event="Newchannel", Uniqueid="2.1")
        await _until(lambda: seen == ["Newchannel"])
        pings = sum(1 for a in fake.actions if a.get("Action") == "Ping")
        logins = fake.logins
        await client.stop()
        runner.cancel()
        await fake.stop()
        return pings, logins

    pings, logins = asyncio.run(scenario())
    assert pings >= 5 and logins == 1


def test_when_asterisk_restarts_the_client_reconnects_and_logs_in_again():
    async def scenario():
        fake = FakeAmi()
        await fake.start()
        client = _client(fake)
        seen = []
        client.on_event(lambda message: seen.append(message["Uniqueid"]))
        runner = asyncio.create_task(client.run_forever())
        await asyncio.wait_for(client.connected.wait(), 5)
        port = fake.port
        await fake.stop()  # Asterisk goes away ...
        await _until(lambda: not client.connected.is_set())
        await asyncio.sleep(0.3)  # ... for a while (the client keeps trying)
        await fake.start(port)  # ... and comes back on the same port
        await asyncio.wait_for(client.connected.wait(), 5)
        await fake.send_event(Event="Newchannel", Uniqueid="3.1")
        await _until(lambda: seen == ["3.1"])
        connections = client.connections
        await client.stop()
        runner.cancel()
        await fake.stop()
        return connections, fake.logins

    connections, logins = asyncio.run(scenario())
    assert connections == 2 and logins == 2  # logged in again after the restart


def test_a_half_dead_connection_is_detected_by_an_unanswered_ping():
    async def scenario():
        fake = FakeAmi(answer_pings=False)
        await fake.start()
        client = _client(fake, keepalive=0.1, action_timeout=0.2)
        runner = asyncio.create_task(client.run_forever())
        await asyncio.wait_for(client.connected.wait(), 5)
        await _until(lambda: client.connections >= 2, seconds=5)
        await client.stop()
        runner.cancel()
        await fake.stop()
        return client.connections

    assert asyncio.run(scenario()) >= 2


def test_a_wrong_secret_is_refused_and_retried_not_crashed():
    async def scenario():
        fake = FakeAmi()
        await fake.start()
        client = AmiClient(
            AmiAddress("127.0.0.1", fake.port, "tongdai", "wrong"),
            reconnect_min=0.05,
            reconnect_max=0.1,
        )
        runner = asyncio.create_task(client.run_forever())
        await _until(lambda: sum(a.get("Action") == "Login" for a in fake.actions) >= 3)
        connected = client.connected.is_set()
        await client.stop()
        runner.cancel()
        await fake.stop()
        return connected

    assert asyncio.run(scenario()) is False


def test_originate_is_queued_or_refused_with_the_reason():
    async def scenario():
        fake = FakeAmi()
        await fake.start()
        client = _client(fake)
        runner = asyncio.create_task(client.run_forever())
        await asyncio.wait_for(client.connected.wait(), 5)
        ok = await client.originate(
            "PJSIP/0912345678@trunk",
            context="tongdai-callback",
            exten="s",
            caller_id="02553822222",
            variables={"DOSSIER": "42"},
        )
        with pytest.raises(AmiError, match="Originate failed"):
            await client.originate("Local/x@y", context="c", exten="s")
        sent = [a for a in fake.actions if a.get("Action") == "Originate"][0]
        await client.stop()
        runner.cancel()
        await fake.stop()
        return ok, sent

    ok, sent = asyncio.run(scenario())
    assert ok["Response"] == "Success"
    assert (sent["Channel"], sent["Variable"], sent["Async"]) == (
        "PJSIP/0912345678@trunk",
        "DOSSIER=42",
        "true",
    )


def test_an_action_without_an_answer_times_out():
    async def scenario():
        fake = FakeAmi(answer_pings=False)
        await fake.start()
        client = _client(fake, keepalive=60, action_timeout=0.2)
        runner = asyncio.create_task(client.run_forever())
        await asyncio.wait_for(client.connected.wait(), 5)
        with pytest.raises(AmiTimeout):
            await client.action("Ping")
        await client.stop()
        runner.cancel()
        await fake.stop()

    asyncio.run(scenario())


def test_call_events_become_call_log_rows_in_order(runtime, session, clock):
    import datetime as dt

    async def scenario():
        logger = CallEventLogger(runtime)
        worker = asyncio.create_task(logger.run())
        logger.handle(
            {
                "Event": "Newchannel",
                "Uniqueid": "9.1",
                "Linkedid": "9.1",
                "Channel": "PJSIP/caller-0001",
                "CallerIDNum": "0912345678",
                "Exten": "1900",
                "Context": "tongdai-inbound",
            }
        )
        for _ in range(3):
            logger.handle(
                {"Event": "DTMFEnd", "Uniqueid": "9.1", "Digit": "5", "Direction": "Received"}
            )
        logger.handle({"Event": "DTMFEnd", "Uniqueid": "9.1", "Digit": "1", "Direction": "Sent"})
        clock.advance(dt.timedelta(seconds=42))
        logger.handle(
            {"Event": "Hangup", "Uniqueid": "9.1", "Cause": "16", "Cause-txt": "Normal Clearing"}
        )
        logger.handle({"Event": "VarSet", "Uniqueid": "9.1"})  # not logged
        await asyncio.wait_for(logger.queue.join(), 5)
        worker.cancel()

    asyncio.run(scenario())
    row = session.scalars(select(CallLog)).one()
    assert (row.caller, row.exten, row.cause, row.cause_txt, row.dtmf_count) == (
        "0912345678",
        "1900",
        16,
        "Normal Clearing",
        3,
    )
    assert row.duration_seconds == 42.0
