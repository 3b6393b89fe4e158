"""One portal sync worker for the crash test, which may SIGKILL itself at the injected points.

    python -m tests.onestop.sync_worker --db URL --portal URL --seed S --kill-probability P \
        [--batch N] [--idle-exit SECONDS] [--max-seconds SECONDS]

Loops `sync_due` with the HTTP client against the portal double, on the real clock, with
config.toml's settings made fast: a 0.5 s portal timeout (so the unknown window is 1.5 s),
retries 0.05-0.5 s apart. At each checkpoint (after the claim, after the portal answered,
after the record) a draw seeded by S kills the process with probability P. It exits once nothing
has been pending, sending or unknown for `--idle-exit` seconds, or after `--max-seconds`.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from intake.clock import SystemClock
from onestop.http_portal import HttpPortal
from onestop.queries import backlog
from onestop.sync import sync_due
from plumbing.db import make_engine, make_session_factory
from plumbing.settings import Settings, load_settings
from tests.fleet import announce_ready, work_until_idle

ROOT = Path(__file__).resolve().parents[2]
PORTAL_TIMEOUT_SECONDS = 0.5
log = logging.getLogger("sync_worker")


def fast_settings(database_url: str, portal_url: str, batch: int) -> Settings:
    settings = load_settings(
        ROOT / "config.toml",
        env={
            "TONGDAI_SECRET_KEY": "crash-test",
            "DATABASE_URL": database_url,
            "TONGDAI_ONESTOP_URL": portal_url,
            "TONGDAI_ONESTOP_USER": "tongdai",
            "TONGDAI_ONESTOP_PASSWORD": "mat-khau",
            "TONGDAI_ONESTOP_DSTCODE": "DVCQG-TEST",
        },
    )
    onestop = settings.onestop.model_copy(
        update={"enabled": True, "timeout_seconds": PORTAL_TIMEOUT_SECONDS, "batch_size": batch}
    )
    scheduler = settings.scheduler.model_copy(
        update={"retry_base_seconds": 0.05, "retry_max_delay_seconds": 0.5}
    )
    return settings.model_copy(update={"onestop": onestop, "scheduler": scheduler})


def outstanding(sessions: sessionmaker[Session]) -> int:
    """Items still to settle (those held back by a refused record wait for staff, not us)."""
    with sessions() as session:
        return backlog(session).waiting


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--portal", required=True)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--kill-probability", type=float, required=True)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--idle-exit", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s.%(msecs)03d {os.getpid()} %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    settings = fast_settings(args.db, args.portal, args.batch)
    engine = make_engine(args.db)
    sessions = make_session_factory(engine)
    portal = HttpPortal.from_settings(settings)
    clock = SystemClock()
    draws = random.Random(f"worker:{args.seed}")

    def checkpoint(point: str) -> None:
        if draws.random() < args.kill_probability:
            log.warning("killing myself at %s", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    log.info("started: seed %s", args.seed)
    announce_ready()

    def step() -> bool:
        report = sync_due(
            sessions, portal, settings, clock, limit=args.limit, checkpoint=checkpoint
        )
        return bool(report.claimed or report.settled)

    work_until_idle(step, lambda: outstanding(sessions), max_seconds=args.max_seconds,
                    idle_exit=args.idle_exit, pause=0.05, log=log)  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
