"""The scheduler process: APScheduler running the outbox dispatcher and the recording fetcher.

Runs in its own process (`tongdai scheduler`), never inside web workers; `tongdai run` embeds it
in a background thread for the single-machine default.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from ivr.recording_fetch import TwilioRecordings, fetch_pending, recordings_from_settings
from scheduler.leader import Leadership
from scheduler.retention import run_retention
from scheduler.rules import run_rules
from sms.dispatch import dispatch_due
from sms.gateways.base import SmsGateway
from tongdai.heartbeat import beat
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


LEADER_CHECK_SECONDS = 2.0


def leader_tick(runtime: Runtime, leadership: Leadership) -> None:
    """Take the lead when it is free, and say who leads (for /healthz)."""
    try:
        if leadership.is_leader():
            with runtime.sessions() as session, session.begin():
                beat(session, "scheduler-leader", leadership.holder, {}, runtime.clock.now())
    except Exception:
        log.exception("scheduler: leader check failed")


def rules_tick(runtime: Runtime, leadership: Leadership) -> None:
    try:
        if not leadership.is_leader():
            return
        report = run_rules(
            runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now()
        )
    except Exception:  # a bad tick must not kill the scheduler; the next one retries
        log.exception("rules: tick failed")
        return
    if report.events or report.apologies or report.reminders:
        log.info("rules: %s", report)


def retention_tick(
    runtime: Runtime, leadership: Leadership, recordings: TwilioRecordings | None
) -> None:
    try:
        if not leadership.is_leader():
            return
        report = run_retention(runtime.sessions, runtime.settings, runtime.clock, twilio=recordings)
    except Exception:  # a bad tick must not kill the scheduler; the next one retries
        log.exception("retention: tick failed")
        return
    if report.changed or report.recordings_kept or report.drafts_kept:
        log.info("retention: %s", report.summary())


RETENTION_FIRST_DELAY = dt.timedelta(minutes=1)


def build_scheduler(
    runtime: Runtime,
    gateway: SmsGateway,
    *,
    background: bool,
    recordings: TwilioRecordings | None = None,
    leadership: Leadership | None = None,
) -> BaseScheduler:
    """The dispatcher runs in every replica (row locks share the work); the rules only in the
    leader. `recordings` defaults to the Twilio account of the settings, if any."""
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone="UTC")
    leadership = leadership or Leadership(runtime.engine)
    scheduler.add_job(
        leader_tick,
        "interval",
        seconds=LEADER_CHECK_SECONDS,
        args=(runtime, leadership),
        id="leader",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        rules_tick,
        "interval",
        seconds=runtime.settings.scheduler.rule_seconds,
        args=(runtime, leadership),
        id="rules",
        max_instances=1,
        coalesce=True,
    )
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
    scheduler.add_job(
        retention_tick,
        "interval",
        hours=runtime.settings.retention.run_hours,
        args=(runtime, leadership, recordings),
        id="retention",
        max_instances=1,
        coalesce=True,
        # Soon after start too: a scheduler restarted more often than run_hours would otherwise
        # never get to it.
        next_run_time=dt.datetime.now(dt.UTC) + RETENTION_FIRST_DELAY,
    )
    return scheduler
