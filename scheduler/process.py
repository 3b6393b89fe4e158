"""The scheduler process: APScheduler running the outbox dispatcher, the recording fetcher and,
when `[onestop] enabled`, the national portal sync.

Runs in its own process (`tongdai scheduler`), never inside web workers; `tongdai run` embeds it
in a background thread for the single-machine default.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from intake.runtime import Runtime
from ivr.notice_calls import place_due
from ivr.recording_fetch import TwilioRecordings, fetch_pending, recordings_from_settings
from ivr.twilio_notice_calls import TwilioNoticeCaller
from onestop.http_portal import HttpPortal
from onestop.portal import Portal
from onestop.reconcile import reconcile
from onestop.sync import sync_due
from plumbing.heartbeat import beat
from plumbing.mailer import Mailer
from scheduler.alerts import LEADER_HEARTBEAT, mailer_from_settings, raise_alerts
from scheduler.leader import Leadership
from scheduler.retention import run_retention
from scheduler.rules import run_rules
from sms.dispatch import dispatch_due
from sms.gateways.base import SmsGateway
from sms.receipt_queries import query_overdue
from sms.smpp_deliveries import SmppDeliveries

log = logging.getLogger(__name__)

RECORDINGS_SECONDS = 30


def guarded_tick(name: str, work: Callable[[], str | None]) -> None:
    """One run of a scheduler job: `work` returns what to log (None: nothing worth saying). A
    failing run is logged and left to the next: a bad tick must not kill the scheduler."""
    try:
        summary = work()
    except Exception:
        log.exception("%s: tick failed", name)
        return
    if summary:
        log.info("%s: %s", name, summary)


def dispatch_tick(runtime: Runtime, gateway: SmsGateway) -> None:
    def work() -> str | None:
        report = dispatch_due(runtime.sessions, gateway, runtime.settings, runtime.clock,
                              limit=runtime.settings.scheduler.dispatch_batch)  # fmt: skip
        if not report.claimed:
            return None
        return (
            f"{len(report.sent)} sent, {len(report.retrying)} to retry, {len(report.failed)} failed"
        )

    guarded_tick("dispatcher", work)


def recordings_tick(runtime: Runtime, recordings: TwilioRecordings) -> None:
    def work() -> str | None:
        report = fetch_pending(runtime.sessions, recordings, runtime.settings, runtime.clock)
        return report.summary() if report.claimed else None

    guarded_tick("recordings", work)


def onestop_tick(runtime: Runtime, portal: Portal) -> None:
    def work() -> str | None:
        report = sync_due(runtime.sessions, portal, runtime.settings, runtime.clock,
                          limit=runtime.settings.scheduler.dispatch_batch)  # fmt: skip
        return report.summary() if report.claimed or report.settled else None

    guarded_tick("onestop", work)


def reconcile_tick(runtime: Runtime, leadership: Leadership, portal: Portal) -> None:
    """Nightly, in the leader only: yesterday's changed dossiers against the portal's."""
    try:
        if not leadership.is_leader():
            return
        reconcile(runtime.sessions, portal, runtime.settings, runtime.clock)
    except Exception:  # a bad night must not kill the scheduler; the next night runs again
        log.exception("onestop: reconciliation failed")


# Local time of the nightly reconciliation (the day's changes are in; staff are not working).
RECONCILE_AT = dt.time(1, 30)
LEADER_CHECK_SECONDS = 2.0
GATEWAY_BEAT_SECONDS = 10.0
# Heartbeat rows of processes holding SMPP binds: "smpp:<host:pid>" (/healthz reads them).
GATEWAY_BEAT_PREFIX = "smpp:"


def gateway_tick(runtime: Runtime, gateway: SmsGateway, holder: str) -> None:
    """A gateway holding binds (SMPP) says how they stand, for /healthz in the web process."""
    try:
        state = gateway.health()  # type: ignore[attr-defined]
        with runtime.sessions() as session, session.begin():
            name = (GATEWAY_BEAT_PREFIX + holder)[:40]
            beat(session, name, holder, state, runtime.clock.now())
    except Exception:
        log.exception("scheduler: gateway heartbeat failed")


SMPP_UPKEEP_SECONDS = 60.0


def smpp_upkeep_tick(runtime: Runtime, gateway: SmsGateway) -> None:
    """In a process holding SMPP binds: long citizens' messages whose parts stopped coming are
    handled as they are, and (query_sm on) notices whose receipt never came are asked about."""
    if not getattr(gateway, "may_send", lambda: False)():
        return

    def work() -> None:
        deliveries = getattr(gateway, "on_delivery", None)
        if isinstance(deliveries, SmppDeliveries):
            deliveries.expire_parts()
        query_overdue(runtime.sessions, gateway, runtime.settings, runtime.clock)  # type: ignore[arg-type]

    guarded_tick("smpp upkeep", work)


def leader_tick(runtime: Runtime, leadership: Leadership, alive_file: Path | None = None) -> None:
    """Take the lead when it is free, and say who leads (for /healthz). After a check that
    reached the database, touch `alive_file`: a container health check reads its age."""
    try:
        if leadership.is_leader():
            with runtime.sessions() as session, session.begin():
                beat(session, LEADER_HEARTBEAT, leadership.holder, {}, runtime.clock.now())
    except Exception:
        log.exception("scheduler: leader check failed")
        return
    if alive_file is not None:
        alive_file.touch()


def rules_tick(runtime: Runtime, leadership: Leadership) -> None:
    def work() -> str | None:
        if not leadership.is_leader():
            return None
        report = run_rules(
            runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now()
        )
        busy = report.events or report.apologies or report.reminders or report.held
        return str(report) if busy or report.cancelled else None

    guarded_tick("rules", work)


def notice_calls_tick(runtime: Runtime, caller: TwilioNoticeCaller) -> None:
    """Twilio as the voice front end: due notice calls placed from here (with Asterisk, the AGI
    process places them through AMI instead)."""

    def work() -> None:
        place_due(runtime.sessions, runtime.settings, runtime.calendar(), runtime.clock.now,
                  caller.place)  # fmt: skip

    guarded_tick("notice calls", work)


def twilio_notice_caller(settings) -> TwilioNoticeCaller | None:
    """Twilio places notice calls when they are on, AMI is not, and Twilio can reach us."""
    if not settings.notice_calls.enabled or settings.ami_url:
        return None
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.public_url):
        return None
    return TwilioNoticeCaller(settings, settings.twilio_account_sid, settings.twilio_auth_token,
                              public_url=settings.public_url)  # fmt: skip


def alerts_tick(runtime: Runtime, leadership: Leadership, mailer: Mailer | None) -> None:
    try:
        leader = leadership.is_leader()
        raised = raise_alerts(runtime.sessions, runtime.settings, runtime.calendar(),
                              runtime.clock.now(), mailer, leader=leader)  # fmt: skip
    except Exception:  # a bad tick must not kill the scheduler; the next one retries
        log.exception("alerts: tick failed")
        return
    for problem in raised:
        log.warning("alert %s: %s", problem.kind, problem.message)


def retention_tick(
    runtime: Runtime, leadership: Leadership, recordings: TwilioRecordings | None
) -> None:
    def work() -> str | None:
        if not leadership.is_leader():
            return None
        report = run_retention(runtime.sessions, runtime.settings, runtime.clock,
                               twilio=recordings)  # fmt: skip
        busy = report.changed or report.recordings_kept or report.drafts_kept
        return report.summary() if busy else None

    guarded_tick("retention", work)


RETENTION_FIRST_DELAY = dt.timedelta(minutes=1)
NOTICE_CALL_SECONDS = 10  # how often due notice calls are looked for (Twilio front end)
ALERT_SECONDS = 300  # problems are looked for every 5 minutes; each is alerted once a day


def build_scheduler(
    runtime: Runtime,
    gateway: SmsGateway,
    *,
    background: bool,
    recordings: TwilioRecordings | None = None,
    leadership: Leadership | None = None,
    portal: Portal | None = None,
    alive_file: Path | None = None,
) -> BaseScheduler:
    """The dispatcher runs in every replica (row locks share the work); the rules only in the
    leader. `recordings` defaults to the Twilio account of the settings, if any. `alive_file`
    is touched after every leader check that reached the database."""
    scheduler = (BackgroundScheduler if background else BlockingScheduler)(timezone="UTC")
    leadership = leadership or Leadership(runtime.engine)

    def every(job, job_id: str, args: tuple, **trigger) -> None:
        # One run at a time: a slow tick is never overlapped by the next, and ticks missed on a
        # busy machine coalesce into one.
        scheduler.add_job(
            job, "interval", args=args, id=job_id, max_instances=1, coalesce=True, **trigger
        )

    settings = runtime.settings
    every(leader_tick, "leader", (runtime, leadership, alive_file), seconds=LEADER_CHECK_SECONDS)
    every(rules_tick, "rules", (runtime, leadership), seconds=settings.scheduler.rule_seconds)
    mailer = mailer_from_settings(settings)
    every(alerts_tick, "alerts", (runtime, leadership, mailer), seconds=ALERT_SECONDS)
    caller = twilio_notice_caller(settings)
    if caller is not None:
        every(notice_calls_tick, "notice_calls", (runtime, caller), seconds=NOTICE_CALL_SECONDS)
    every(
        dispatch_tick, "dispatch", (runtime, gateway), seconds=settings.scheduler.dispatch_seconds
    )
    if hasattr(gateway, "health"):
        # Bind now, not at the first notice: receipts and citizens' messages come in meanwhile.
        gateway.start()  # type: ignore[attr-defined]
        every(gateway_tick, "gateway", (runtime, gateway, leadership.holder),
              seconds=GATEWAY_BEAT_SECONDS)  # fmt: skip
        every(smpp_upkeep_tick, "smpp", (runtime, gateway), seconds=SMPP_UPKEEP_SECONDS)
    if settings.onestop.enabled:
        portal = portal or HttpPortal.from_settings(settings)
        # In every replica, like the SMS dispatcher: row locks share the work.
        every(
            onestop_tick, "onestop", (runtime, portal), seconds=settings.scheduler.dispatch_seconds
        )
        scheduler.add_job(
            reconcile_tick,
            "cron",
            args=(runtime, leadership, portal),
            id="onestop-reconcile",
            hour=RECONCILE_AT.hour,
            minute=RECONCILE_AT.minute,
            timezone=settings.zone,
            max_instances=1,
            coalesce=True,
        )
    recordings = recordings or recordings_from_settings(settings)
    if recordings is None:
        log.info("recordings: no Twilio credentials, so Twilio recordings are not fetched")
    else:
        every(recordings_tick, "recordings", (runtime, recordings), seconds=RECORDINGS_SECONDS)
    # Soon after start too: a scheduler restarted more often than run_hours would otherwise never
    # get to it.
    every(
        retention_tick,
        "retention",
        (runtime, leadership, recordings),
        hours=settings.retention.run_hours,
        next_run_time=dt.datetime.now(dt.UTC) + RETENTION_FIRST_DELAY,
    )
    return scheduler
