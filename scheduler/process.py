"""The scheduler process: APScheduler running the outbox dispatcher and the recording fetcher.

Runs in its own process (`tongdai scheduler`), never inside web workers; `tongdai run` embeds it
in a background thread for the single-machine default.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from ivr.recording_fetch import TwilioRecordings, fetch_pending, recordings_from_settings
from sms.gateways.base import SmsGateway
from sms.outbox import dispatch_due
from tongdai.runtime import Runtime

log = logging.getLogger(__name__)

RECORDINGS_SECONDS = 30


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


def recordings_tick(runtime: Runtime, recordings: TwilioRecordings) -> None:
    try:
        report = fetch_pending(runtime.sessions, recordings, runtime.settings, runtime.clock)
    except Exception:  # a bad tick must not kill the scheduler; the next one retries
        log.exception("recordings: tick failed")
        return
    if report.claimed:
        log.info("recordings: %s", report.summary())


def build_scheduler(
    runtime: Runtime,
    gateway: SmsGateway,
    *,
    background: bool,
    recordings: TwilioRecordings | None = None,
) -> BaseScheduler:
    """`recordings` defaults to the Twilio account of the settings, if any."""
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
    recordings = recordings or recordings_from_settings(runtime.settings)
    if recordings is None:
        log.info("recordings: no Twilio credentials, so Twilio recordings are not fetched")
    else:
        scheduler.add_job(
            recordings_tick,
            "interval",
            seconds=RECORDINGS_SECONDS,
            args=(runtime, recordings),
            id="recordings",
            max_instances=1,
            coalesce=True,
        )
    return scheduler
