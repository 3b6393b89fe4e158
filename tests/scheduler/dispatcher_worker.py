"""One dispatcher process for the crash test, which may SIGKILL itself at the injected points.

    python -m tests.scheduler.dispatcher_worker --db URL --gateway URL --seed S \
        --kill-probability P [--batch N] [--idle-exit SECONDS] [--max-seconds SECONDS]

Loops `dispatch_due` with the fault provider's HttpGateway on the real clock, with config.toml's
settings made fast: `unknown_after_seconds` 1.0, `retry_base_seconds` 0.05 (at most 0.5 s apart)
and no rate limit. At each checkpoint (after the claim, after the provider accepted, after the
record) a random draw seeded by S kills the process with probability P. It exits by itself once
no notice has been pending, sending or unknown for `--idle-exit` seconds, or after
`--max-seconds` in any case. Logs go to standard error, with the pid; standard output only
says when it is ready (tests/fleet.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from intake.clock import SystemClock
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import Settings, load_settings
from sms.dispatch import dispatch_due
from sms.models import Notice, NoticeStatus
from tests.fleet import announce_ready, work_until_idle
from tests.scheduler.fault_gateway import HttpGateway

ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_AFTER_SECONDS = 1.0
GATEWAY_TIMEOUT_SECONDS = 0.5
OUTSTANDING = (NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.UNKNOWN)
log = logging.getLogger("dispatcher_worker")


def fast_settings(database_url: str) -> Settings:
    settings = load_settings(
        ROOT / "config.toml",
        env={"TONGDAI_SECRET_KEY": "crash-test", "DATABASE_URL": database_url},
    )
    scheduler = settings.scheduler.model_copy(
        update={
            "unknown_after_seconds": UNKNOWN_AFTER_SECONDS,
            "retry_base_seconds": 0.05,
            "retry_max_delay_seconds": 0.5,
            "rate_per_second": 0,
        }
    )
    return settings.model_copy(update={"scheduler": scheduler})


def outstanding(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(Notice).where(Notice.status.in_(OUTSTANDING))
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="the database URL")
    parser.add_argument("--gateway", required=True, help="the fault provider's base URL")
    parser.add_argument("--seed", required=True, help="seeds the kill decisions")
    parser.add_argument("--kill-probability", type=float, required=True)
    parser.add_argument("--batch", type=int, default=None, help="default: dispatch_batch")
    parser.add_argument("--idle-exit", type=float, default=1.5)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s.%(msecs)03d {os.getpid()} %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )

    settings = fast_settings(args.db)
    batch = args.batch or settings.scheduler.dispatch_batch
    engine = make_engine(args.db)
    sessions = make_session_factory(engine)
    gateway = HttpGateway(args.gateway, timeout=GATEWAY_TIMEOUT_SECONDS)
    clock = SystemClock()
    draws = random.Random(f"worker:{args.seed}")

    def checkpoint(point: str) -> None:
        if draws.random() < args.kill_probability:
            log.warning("killing myself at %s", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    log.info("started: seed %s, batch %d", args.seed, batch)
    announce_ready()

    def step() -> bool:
        report = dispatch_due(
            sessions, gateway, settings, clock, limit=batch, checkpoint=checkpoint
        )
        return bool(report.claimed or report.settled)

    work_until_idle(step, lambda: outstanding(sessions), max_seconds=args.max_seconds,
                    idle_exit=args.idle_exit, pause=0.02, log=log)  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
