"""One dispatcher process for the SMPP crash test: it binds to Jasmin and may SIGKILL itself.

    python -m tests.sms.smpp.smpp_dispatcher --db URL --port PORT --seed S \
        --kill-probability P [--batch N] [--max-seconds SECONDS]

Loops `dispatch_due` with its own SmppGateway (its own bind, as each scheduler process has) on
the real clock, with the crash test's fast settings (tests/scheduler/dispatcher_worker.py). At
each checkpoint (after the claim, after Jasmin accepted, after the record) a random draw seeded
by S kills the process with probability P. Exits when nothing is pending or sending. Says on its
standard output when it is bound and about to send (tests/fleet.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import time

from sqlalchemy import func, select

from intake.clock import SystemClock
from intake.runtime import Runtime
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import SmppSettings
from sms.dispatch import dispatch_due
from sms.gateways.smpp import SmppGateway
from sms.models import Notice, NoticeStatus
from sms.smpp_deliveries import SmppDeliveries
from tests.fleet import announce_ready
from tests.scheduler.dispatcher_worker import fast_settings
from tests.sms.smpp.jasmin import PASSWORD, USER

log = logging.getLogger("smpp_dispatcher")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True, help="Jasmin's SMPP port")
    parser.add_argument("--seed", required=True)
    parser.add_argument("--kill-probability", type=float, required=True)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s.%(msecs)03d {os.getpid()} %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    settings = fast_settings(args.db)
    engine = make_engine(args.db)
    runtime = Runtime(settings, engine, make_session_factory(engine), SystemClock())
    smpp = SmppSettings(port=args.port, system_id=USER, rate_per_second=0,
                        response_timeout_seconds=5, reconnect_max_seconds=1)  # fmt: skip
    gateway = SmppGateway(smpp, PASSWORD, on_delivery=SmppDeliveries(runtime)).start()
    # Not the timed part of the test (it waits for `announce_ready`): a loaded machine may be slow.
    if not gateway.wait_bound(60):
        raise SystemExit(f"not bound: {gateway.health()}")
    announce_ready()
    draws = random.Random(f"smpp-worker:{args.seed}")

    def checkpoint(point: str) -> None:
        if draws.random() < args.kill_probability:
            log.warning("killing myself at %s", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline:
        report = dispatch_due(runtime.sessions, gateway, settings, runtime.clock,
                              limit=args.batch, checkpoint=checkpoint)  # fmt: skip
        if report.claimed or report.settled:
            continue
        with runtime.sessions() as session:
            open_ = session.scalar(
                select(func.count())
                .select_from(Notice)
                .where(Notice.status.in_([NoticeStatus.PENDING, NoticeStatus.SENDING]))
            )
        if open_ == 0:
            log.info("nothing left to send: exiting")
            break
        time.sleep(0.05)
    gateway.close()
    engine.dispose()


if __name__ == "__main__":
    main()
