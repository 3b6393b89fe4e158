"""Call-backs staff queue, placed by the AGI process's AMI connection (a protocol-level fake)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from ivr.asterisk.ami import AmiAddress, AmiClient
from ivr.asterisk.call_events import CallOrderWorker
from ivr.models import CallOrder, CallOrderStatus
from reports.labels import call_order_state
from tests.factories import create_call_order, create_dossier
from tests.ivr.asterisk.fake_ami import FakeAmi


def _dial(runtime, dial: str, **asterisk) -> None:
    settings = runtime.settings.asterisk.model_copy(update={"callback_dial": dial, **asterisk})
    runtime.settings = runtime.settings.model_copy(update={"asterisk": settings})


def _queued(runtime, phone="+84912345678") -> tuple[int, int]:
    with runtime.sessions() as session, session.begin():
        dossier = create_dossier(session, runtime, phone=phone)
        order = create_call_order(session, runtime, dossier_id=dossier.id, phone=phone)
        return order.id, dossier.id


def _order(runtime, order_id: int) -> CallOrder:
    with runtime.sessions() as session:
        return session.get(CallOrder, order_id)


async def _connected_worker(fake: FakeAmi, runtime) -> tuple[CallOrderWorker, asyncio.Task]:
    address = AmiAddress("127.0.0.1", fake.port, fake.username, fake.secret)
    client = AmiClient(address, reconnect_min=0.05, reconnect_max=0.2)
    runner = asyncio.create_task(client.run_forever())
    await asyncio.wait_for(client.connected.wait(), 5)
    return CallOrderWorker(runtime, client, timeout=2), runner


def test_a_queued_call_back_is_placed_with_originate_on_the_configured_channel(runtime):
    _dial(runtime, "PJSIP/{number}@test-trunk")
    order_id, dossier_id = _queued(runtime, phone="+84912345678")

    async def scenario():
        fake = FakeAmi()
        await fake.start()
        worker, runner = await _connected_worker(fake, runtime)
        await worker.run_once()
        await worker.client.stop()
        runner.cancel()
        await fake.stop()
        return [a for a in fake.actions if a.get("Action") == "Originate"]

    [sent] = asyncio.run(scenario())
    assert sent["Channel"] == "PJSIP/0912345678@test-trunk"  # the national form, 0...
    assert (sent["Context"], sent["Exten"], sent["Async"]) == ("tongdai-callback", "s", "true")
    assert sent["CallerID"] == runtime.settings.centre.hotline
    assert f"TONGDAI_DOSSIER={dossier_id}" in sent["Variable"].split(",")
    order = _order(runtime, order_id)
    assert order.status is CallOrderStatus.DONE and order.attempts == 1
    assert call_order_state(order) == "Đã gọi"


def test_when_asterisk_is_down_the_order_is_retried_then_fails_with_the_reason(runtime, clock):
    _dial(runtime, "PJSIP/{number}@trunk", callback_attempts=3)
    order_id, _ = _queued(runtime)
    # An AMI client that never connected: Asterisk is down.
    client = AmiClient(AmiAddress("127.0.0.1", 9, "tongdai", "x"))
    worker = CallOrderWorker(runtime, client, timeout=2)
    seen = []
    for _ in range(10):
        asyncio.run(worker.run_once())
        order = _order(runtime, order_id)
        seen.append((order.status, order.attempts))
        if order.status is not CallOrderStatus.PENDING:
            break
        assert order.next_attempt_at > clock.now()  # backed off, not hammered
        clock.set(order.next_attempt_at)
    assert seen == [
        (CallOrderStatus.PENDING, 1),
        (CallOrderStatus.PENDING, 2),
        (CallOrderStatus.FAILED, 3),
    ]
    state = call_order_state(order)
    assert state.startswith("Không gọi được: chưa kết nối được tới tổng đài Asterisk")
    assert order.finished_at == clock.now()


def test_an_originate_asterisk_refuses_is_retried_then_fails_with_asterisks_reason(runtime, clock):
    _dial(runtime, "Local/{number}@nowhere", callback_attempts=2)  # the fake refuses non-PJSIP
    order_id, _ = _queued(runtime)

    async def scenario():
        fake = FakeAmi()
        await fake.start()
        worker, runner = await _connected_worker(fake, runtime)
        for _ in range(2):
            await worker.run_once()
            order = await asyncio.to_thread(_order, runtime, order_id)
            clock.set(order.next_attempt_at)
        await worker.client.stop()
        runner.cancel()
        await fake.stop()
        return sum(1 for a in fake.actions if a.get("Action") == "Originate")

    assert asyncio.run(scenario()) == 2
    order = _order(runtime, order_id)
    assert order.status is CallOrderStatus.FAILED
    assert "từ chối" in order.result and "Originate failed" in order.result


@pytest.mark.parametrize(
    ("status", "attempts", "result", "shown"),
    [
        ("pending", 0, "", "Đang chờ"),
        ("dialing", 1, "", "Đang gọi"),
        ("done", 1, "", "Đã gọi"),
        ("failed", 3, "tổng đài từ chối", "Không gọi được: tổng đài từ chối"),
        ("unknown", 1, "tiến trình dừng", "Không rõ đã gọi được chưa: tiến trình dừng"),
        ("pending", 1, "mất kết nối", "Đang chờ (thử lại lần 2; lần trước: mất kết nối)"),
    ],
)
def test_each_state_of_an_order_reads_in_vietnamese(runtime, status, attempts, result, shown):
    with runtime.sessions() as session, session.begin():
        order = create_call_order(session, runtime, status=status, attempts=attempts, result=result)
        assert call_order_state(order) == shown


def test_several_queued_call_backs_are_all_placed_oldest_first(runtime, clock):
    _dial(runtime, "PJSIP/{number}@trunk")
    first, _ = _queued(runtime, phone="+84912345678")
    clock.advance(dt.timedelta(seconds=1))
    second, _ = _queued(runtime, phone="+84987654321")

    async def scenario():
        fake = FakeAmi()
        await fake.start()
        worker, runner = await _connected_worker(fake, runtime)
        await worker.run_once()
        await worker.client.stop()
        runner.cancel()
        await fake.stop()
        return [a["Channel"] for a in fake.actions if a.get("Action") == "Originate"]

    assert asyncio.run(scenario()) == ["PJSIP/0912345678@trunk", "PJSIP/0987654321@trunk"]
    assert {_order(runtime, i).status for i in (first, second)} == {CallOrderStatus.DONE}
