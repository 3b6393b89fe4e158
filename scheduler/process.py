"""The scheduler process: APScheduler running the outbox dispatcher on an interval.

Runs in its own process (`tongdai scheduler`), never inside web workers; `tongdai run` embeds it
in a background thread for the single-machine default.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from sms.gateways.base import SmsGateway
from sms.outbox import dispatch_due
from tongdai.runtime import Runtime

log = logging.getLogger(__name__)


def dispatch_tick(runtime: Runtime, gateway: SmsGateway) -> None:
    try:
        report = dispatch_due(runtime.sessions, gateway, runtime.settings, runtime.clock,
                              limit=runtime.settings.scheduler.dispatch_batch)  # fmt: skip
    except Exception:  # a bad tick must not kill the scheduler; the next one retries
        log.exception("dispatcher: tick failed")
        return
    if report.claimed:
        log.info("dispatcher: %d sent, %d to retry, %d failed", len(report.sent),
                 len(report.retrying), len(report.failed))  # fmt: skip


def build_scheduler(runtime: Runtime, gateway: SmsGateway, *, background: bool) -> BaseScheduler:
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone="UTC")
    scheduler.add_job(
        dispatch_tick,
        "interval",
        seconds=runtime.settings.scheduler.dispatch_seconds,
        args=(runtime, gateway),
        id="dispatch",
        max_instances=1,  # a slow tick is never overlapped by the next
        coalesce=True,
    )
    return scheduler
