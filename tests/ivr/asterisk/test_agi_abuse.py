"""A FastAGI peer that misbehaves is dropped with one warning line; a reused call id is not a
way into another caller's call. Raw sockets against the real asyncio server."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from intake.models import Dossier
from ivr.models import IvrCall
from tests.ivr.asterisk.fake_asterisk import FakeAsterisk, keys

HEADER = b"agi_network: yes\n"


async def _closed(reader: asyncio.StreamReader, wait: float) -> bool:
    """Whether the server closed the connection (within `wait` seconds)."""
    try:
        return await asyncio.wait_for(reader.read(1), wait) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def _agi_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("ivr.") and r.levelno >= logging.INFO]


def test_a_peer_trickling_headers_is_dropped_at_the_header_deadline(agi_port, agi_runtime, caplog):
    deadline = agi_runtime.settings.asterisk.header_timeout_seconds

    async def trickle() -> int | None:
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)
        try:
            # One header well within the old per-line timeout, for five times the deadline.
            for sent in range(1, 21):
                writer.write(HEADER)
                await writer.drain()
                if await _closed(reader, deadline / 4):
                    return sent
            return None
        except ConnectionError:
            return sent
        finally:
            writer.close()

    caplog.set_level(logging.INFO)
    lines_sent = asyncio.run(trickle())
    assert lines_sent is not None, "the server kept a trickling peer connected"
    [warning] = [r for r in _agi_records(caplog) if r.levelno >= logging.WARNING]
    assert "not complete within" in warning.getMessage()


def test_a_17_kib_header_line_ends_with_one_warning_and_no_traceback(agi_port, caplog):
    async def long_line() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)
        writer.write(b"agi_request: agi://127.0.0.1/intake?" + b"x" * 17 * 1024 + b"\n\n")
        await writer.drain()
        closed = await _closed(reader, 10)
        writer.close()
        return closed

    caplog.set_level(logging.INFO)
    assert asyncio.run(long_line())
    records = _agi_records(caplog)
    assert [r.levelname for r in records] == ["WARNING"]
    assert records[0].exc_info is None and "too long" in records[0].getMessage()


def test_a_header_block_over_its_byte_limit_never_starts_a_call(agi_port, agi_runtime, session):
    async def many_long_headers() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)
        block = b"".join(b"agi_arg_%d: %s\n" % (i, b"y" * 240) for i in range(90))  # 23 KB
        writer.write(b"agi_request: agi://127.0.0.1/intake\n" + block + b"\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        return first

    assert agi_runtime.settings.asterisk.header_max_bytes < 23_000
    assert asyncio.run(many_long_headers()) == b""  # no command: the connection was closed
    assert session.scalars(select(IvrCall)).all() == []


def test_an_overlong_uniqueid_is_a_protocol_error_not_a_traceback(agi_port, session, caplog):
    caplog.set_level(logging.INFO)
    fake = FakeAsterisk(agi_port, uniqueid="9" * 200, script=keys("1"))
    asyncio.run(fake.call())
    assert fake.transcript == []
    records = [r for r in _agi_records(caplog) if r.levelno >= logging.WARNING]
    assert [r.exc_info for r in records] == [None]
    assert session.scalars(select(IvrCall)).all() == []


def test_a_known_uniqueid_from_another_caller_gets_a_fresh_call(
    agi_port, agi_runtime, session, caplog
):
    asyncio.run(FakeAsterisk(agi_port, script=keys("1", "1", "90617#", "1")).call())
    first = session.scalars(select(IvrCall)).one()
    first_state = dict(first.state)
    session.expire_all()

    caplog.set_level(logging.WARNING)
    intruder = FakeAsterisk(agi_port, callerid="0987654321", script=keys("1"))
    asyncio.run(intruder.call())

    calls = session.scalars(select(IvrCall).order_by(IvrCall.id)).all()
    assert [c.caller for c in calls] == ["+84912345678", "+84987654321"]
    assert calls[0].state == first_state and calls[0].provider_call_id == "1764100000.1"
    assert calls[1].dossier_id != calls[0].dossier_id
    draft = session.get(Dossier, calls[0].dossier_id)
    assert draft.form["ivr"]["vessel"] == "QNg:90617"
    assert "tongdai/resume_offer" not in intruder.played
    assert any("reused by another caller" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("callerid", ["0912 345 678", "+84912345678"])
def test_the_same_caller_with_a_known_uniqueid_continues_that_call(
    agi_port, agi_runtime, session, callerid
):
    asyncio.run(FakeAsterisk(agi_port, script=keys("1", "1", "90617#")).call())
    again = FakeAsterisk(
        agi_port, callerid=callerid, request="agi://127.0.0.1/intake?event=transfer_failed"
    )
    asyncio.run(again.call())
    assert len(session.scalars(select(IvrCall)).all()) == 1


def test_a_port_probe_that_closes_at_once_leaves_no_log_line(agi_port, caplog):
    """The compose health check opens and closes a connection every 10 s per replica."""

    async def probe() -> None:
        _reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.3)

    caplog.set_level(logging.INFO)
    asyncio.run(probe())
    assert _agi_records(caplog) == []
