"""Call orders: outbound calls staff ask for, placed by a process that holds the AMI connection.

The web page never talks to Asterisk: it inserts an order (`order_call_back`) and returns. Each
AGI process with TONGDAI_AMI_URL runs `carry_out_due` every `callback_poll_seconds` (in a worker
thread, see ivr/asterisk/call_events.py), on the queue skeleton of plumbing/queue.py:
pending -> dialing (claimed with SKIP LOCKED and committed) -> Originate with no session open
-> done, or pending again after a backoff, or failed once `callback_attempts` are spent or
Asterisk refused for good.

"Done" means Asterisk accepted the Originate: the citizen's phone is being rung. An order still
`dialing` after `callback_stuck_seconds` belonged to a process that stopped during the
Originate. Unlike an SMS provider, Asterisk keeps nothing we could look up afterwards to learn
whether it placed that call, so the order becomes `unknown` and is NOT dialled again: a second
ringing of the citizen is worse than staff pressing the button once more.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from intake.errors import InvalidInput
from intake.phone import mask_phone, parse_phone
from ivr.models import CallOrder, CallOrderKind, CallOrderStatus
from plumbing import queue
from plumbing.queue import Claimed, WorkQueue
from plumbing.settings import Settings

log = logging.getLogger(__name__)
CALL_ORDERS = WorkQueue(
    CallOrder, CallOrderStatus.PENDING, CallOrderStatus.DIALING, CallOrderStatus.UNKNOWN
)
CALLBACK_CONTEXT = "tongdai-callback"
STUCK_REASON = "tiến trình gọi bị dừng giữa chừng, không rõ máy công dân đã đổ chuông chưa"


class CallError(Exception):
    """The Originate did not go through: Asterisk unreachable, timed out or refused."""


@dataclass(frozen=True)
class OriginateRequest:
    order_id: int
    channel: str  # e.g. PJSIP/0912345678@trunk
    context: str
    caller_id: str
    variables: dict[str, str]


@dataclass
class CallOrderReport:
    done: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    stuck: int = 0


def order_call_back(
    session: Session,
    *,
    dossier_id: int | None,
    phone: str,
    requested_by: int | None,
    now: dt.datetime,
) -> CallOrder:
    """Queue a staff call-back to `phone` (E.164); the caller's transaction commits it."""
    order = CallOrder(
        kind=CallOrderKind.STAFF_CALLBACK,
        dossier_id=dossier_id,
        phone=parse_phone(phone).e164,
        requested_by=requested_by,
        status=CallOrderStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    return order


def originate_request(order: CallOrder, settings: Settings) -> OriginateRequest:
    """What Asterisk is asked to dial: the configured channel with the national number 0..."""
    number = parse_phone(order.phone).national
    variables = {
        "TONGDAI_CALL_ORDER": str(order.id),
        # The dialplan puts the citizen through to the operator once they answer.
        "TONGDAI_OPERATOR_NUMBER": settings.ivr.operator_number,
    }
    if order.dossier_id is not None:
        variables["TONGDAI_DOSSIER"] = str(order.dossier_id)
    return OriginateRequest(
        order_id=order.id,
        channel=settings.asterisk.callback_dial.format(number=number),
        context=CALLBACK_CONTEXT,
        caller_id=settings.centre.hotline,
        variables=variables,
    )


def carry_out_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: Callable[[], dt.datetime],
    originate: Callable[[OriginateRequest], object],
    *,
    limit: int = 20,
) -> CallOrderReport:
    """Settle orders a dead process left dialing, then place the due ones. `originate` blocks
    until Asterisk accepted the call or raises CallError; no session is open while it runs."""
    report = CallOrderReport()
    report.stuck = settle_stuck(sessions, settings, now())

    def done(claimed: Claimed[OriginateRequest], _reply: object) -> None:
        with sessions() as session, session.begin():
            at = now()
            CALL_ORDERS.move(
                session,
                claimed.id,
                expected=[CallOrderStatus.DIALING],
                attempt=claimed.attempt,
                status=CallOrderStatus.DONE,
                finished_at=at,
                updated_at=at,
                result="",
            )
        report.done.append(claimed.id)
        log.info("call order %d placed on %s", claimed.id, _masked_channel(claimed.job.channel))

    def failed(claimed: Claimed[OriginateRequest], error: Exception) -> None:
        at = now()
        asterisk = settings.asterisk
        final = claimed.attempt >= asterisk.callback_attempts
        if final:
            values = {
                "status": CallOrderStatus.FAILED,
                "finished_at": at,
                "result": f"{error} (sau {claimed.attempt} lần thử)"[:1000],
            }
        else:
            delay = queue.backoff_delay(
                claimed.attempt, asterisk.callback_retry_seconds, asterisk.callback_stuck_seconds
            )
            values = {
                "status": CallOrderStatus.PENDING,
                "next_attempt_at": at + dt.timedelta(seconds=delay),
                "result": str(error)[:1000],
            }
        with sessions() as session, session.begin():
            CALL_ORDERS.move(
                session,
                claimed.id,
                expected=[CallOrderStatus.DIALING],
                attempt=claimed.attempt,
                updated_at=at,
                **values,
            )
        (report.failed if final else report.retrying).append(claimed.id)
        log.warning(
            "call order %d attempt %d failed%s: %s",
            claimed.id,
            claimed.attempt,
            " for good" if final else "",
            error,
        )

    queue.run_batch(
        CALL_ORDERS,
        sessions,
        now,
        limit=limit,
        describe=lambda order: originate_request(order, settings),
        call=originate,
        succeeded=done,
        failed=failed,
        errors=(CallError,),
    )
    return report


def settle_stuck(sessions: sessionmaker[Session], settings: Settings, now: dt.datetime) -> int:
    """Orders dialing longer than `callback_stuck_seconds` become unknown (module docstring)."""
    window = dt.timedelta(seconds=settings.asterisk.callback_stuck_seconds)
    with sessions() as session, session.begin():
        count = CALL_ORDERS.mark_stale(session, now, window, finished_at=now, result=STUCK_REASON)
    if count:
        log.warning("%d call order(s) left dialing by a stopped process: unknown", count)
    return count


def _masked_channel(channel: str) -> str:
    """PJSIP/0912345678@trunk -> PJSIP/+8491****678@trunk, for logs."""
    tech, _, rest = channel.partition("/")
    number, at, host = rest.partition("@")
    try:
        number = mask_phone(parse_phone(number).e164)
    except InvalidInput:
        number = "***"
    return f"{tech}/{number}{at}{host}"
