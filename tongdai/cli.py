"""The `tongdai` command. Errors end with one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import sys
from pathlib import Path

import click

from intake.errors import DomainError
from plumbing.logs import configure_logging, stop_on_signals
from plumbing.settings import SettingsError
from tongdai.startup import load_checked_settings

log = logging.getLogger("tongdai")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Tổng đài: phone and SMS intake of fishing-licence and vessel-safety dossiers."""
    configure_logging()
    stop_on_signals()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to DATABASE_URL and seed the calendar from config.toml."""
    from tongdai.bootstrap import prepare_database

    settings = load_checked_settings()
    prepare_database(settings)
    click.echo("database is up to date")


@cli.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "supervisor", "admin"]), default="operator")
def user_add(name: str, role: str) -> None:
    """Add a staff account (password from standard input when it is not a terminal)."""
    from admin.accounts import add_user
    from intake.models import Role
    from tongdai.startup import load_runtime

    if sys.stdin.isatty():
        password = getpass.getpass("Mật khẩu: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != password:
            raise click.ClickException("the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    runtime = load_runtime()
    with runtime.sessions() as session, session.begin():
        add_user(session, name, password, Role(role))
    click.echo(f"added {name} ({role})")


@cli.group()
def apiclient() -> None:
    """Clients of the API for the processing systems."""


@apiclient.command("add")
@click.argument("name")
@click.option("--scope", type=click.Choice(["read", "write"]), required=True)
@click.option("--rate", type=click.IntRange(1, 1_000_000), help="requests per minute (default:"
              " [api] rate_per_minute)")  # fmt: skip
def apiclient_add(name: str, scope: str, rate: int | None) -> None:
    """Add an API client; print its id and secret (shown this once only)."""
    from api.clients import SecretBox, add_client
    from api.models import ApiScope
    from tongdai.startup import load_runtime

    runtime = load_runtime()
    box = SecretBox(runtime.settings.api_secrets_key)
    with runtime.sessions() as session, session.begin():
        new = add_client(session, box, name, ApiScope(scope), created_by="cli",
                         now=runtime.clock.now(), rate_per_minute=rate)  # fmt: skip
        public_id = new.client.public_id
    click.echo(f"client id: {public_id}")
    click.echo(f"secret:    {new.secret}")
    click.echo("Lưu khoá bí mật này ngay: nó không được hiển thị lại.", err=True)


@cli.group()
def calendar() -> None:
    """The working-day calendar."""


@calendar.command("due")
@click.option("--received", required=True, help='local receipt time, "YYYY-MM-DD HH:MM"')
@click.option("--days", required=True, type=click.IntRange(1, 366), help="working days")
def calendar_due(received: str, days: int) -> None:
    """Print the legal due date of a dossier received at RECEIVED."""
    from intake.calendar_store import calendar_from_settings, load_calendar
    from tongdai.startup import load_runtime

    try:
        local = dt.datetime.strptime(received, "%Y-%m-%d %H:%M")
    except ValueError as exc:
        raise click.BadParameter('write it as "YYYY-MM-DD HH:MM"', param_hint="--received") from exc
    settings = load_checked_settings()
    try:
        # The database holds the admins' corrections; without one, config.toml alone.
        runtime = load_runtime()
        with runtime.sessions() as session:
            working = load_calendar(session, settings)
    except Exception:  # no database (yet): the file's calendar is the best answer
        working = calendar_from_settings(settings)
    received_at = local.replace(tzinfo=settings.zone)
    due = working.due_date(received_at, days)
    counted = working.receipt_day(received_at)
    click.echo(f"{due.isoformat()}  (hạn trả {due:%d/%m/%Y}; tính từ ngày nhận {counted:%d/%m/%Y})")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def web(host: str, port: int) -> None:
    """The web app alone."""
    from tongdai.serve import serve_web

    serve_web(load_checked_settings(), host, port)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4573, show_default=True, type=int)
def agi(host: str, port: int) -> None:
    """The FastAGI server alone (Asterisk: AGI(agi://HOST:PORT/intake))."""
    from intake.runtime import Runtime
    from ivr.asterisk.agi_server import serve_agi

    serve_agi(Runtime.from_settings(load_checked_settings()), host, port)


@cli.command()
def scheduler() -> None:
    """The scheduler alone: the outbox dispatcher (later: notice rules, retention)."""
    from intake.runtime import Runtime
    from scheduler.process import build_scheduler
    from sms.gateways.factory import gateway_from_settings

    settings = load_checked_settings()
    runtime = Runtime.from_settings(settings)
    log.info("scheduler: dispatching every %s s through %s", settings.scheduler.dispatch_seconds,
             settings.sms_gateway)  # fmt: skip
    try:
        build_scheduler(runtime, gateway_from_settings(settings, runtime), background=False).start()
    except KeyboardInterrupt:
        log.info("scheduler: stopping")


@cli.group()
def sms() -> None:
    """SMS text tools."""


@sms.command("preview")
@click.option("--strip", is_flag=True, help="remove Vietnamese diacritics (GSM-7 policy)")
@click.argument("text")
def sms_preview(text: str, strip: bool) -> None:
    """Print the final TEXT, its encoding, characters and SMS parts."""
    from sms.encoding import prepare

    measure = prepare(text, "strip" if strip else "unicode")
    click.echo(measure.text)
    click.echo(f"encoding: {measure.encoding}")
    click.echo(f"characters: {measure.characters}")
    click.echo(f"segments: {measure.segments}")


@cli.command()
@click.option(
    "--from",
    "caller",
    default="0912345678",
    show_default=True,
    help='the caller id; "anonymous" for a hidden number',
)
@click.option("--audio", is_flag=True, help="also play the built prompts (needs aplay)")
@click.option(
    "--at",
    "at",
    default=None,
    help='pretend the call is at this local time, "YYYY-MM-DD HH:MM" (training: office hours, '
    "a holiday, the 15:00 cut-off)",
)
def call(caller: str, audio: bool, at: str | None) -> None:
    """A call to the IVR from the terminal, keypad on the keyboard."""
    from intake.clock import FixedClock
    from intake.runtime import Runtime
    from ivr.console import run_console_call
    from scheduler.process import dispatch_tick
    from scheduler.rules import run_rules
    from sms.gateways.factory import gateway_from_settings
    from tongdai.bootstrap import prepare_database

    settings = load_checked_settings()
    clock = None
    if at is not None:
        try:
            local = dt.datetime.strptime(at, "%Y-%m-%d %H:%M")
        except ValueError as exc:
            raise click.BadParameter('write it as "YYYY-MM-DD HH:MM"', param_hint="--at") from exc
        clock = FixedClock(local.replace(tzinfo=settings.zone).astimezone(dt.UTC))
    prepare_database(settings)
    runtime = Runtime.from_settings(settings, clock)

    def send_notices() -> None:
        # Run the notice rules and send at once, so a trainee sees the receipt SMS the citizen
        # would get (the scheduler queues it from the dossier's event within `rule_seconds`).
        run_rules(runtime.sessions, settings, runtime.calendar(), runtime.clock.now())
        dispatch_tick(runtime, gateway_from_settings(settings, runtime))

    run_console_call(runtime, caller, audio, after=send_notices)


@cli.group()
def prompts() -> None:
    """IVR prompt audio."""


@prompts.command("build")
@click.option(
    "--asterisk-dir", type=click.Path(file_okay=False, path_type=Path),
    help="write the Asterisk WAV files here (e.g. a sounds/tongdai folder)",
)  # fmt: skip
@click.option("--quiet", is_flag=True, help="no progress bar")
def prompts_build(asterisk_dir: Path | None, quiet: bool) -> None:
    """Build the audio of every prompt: staff recordings first, else espeak-ng."""
    from ivr.audio import AudioError, build_prompts

    try:
        report = build_prompts(
            load_checked_settings(), asterisk_dir=asterisk_dir, progress=not quiet
        )
    except AudioError as exc:
        raise click.ClickException(str(exc)) from exc
    for name in report.unknown_recordings:
        click.echo(f"warning: recorded/{name} is named after no prompt; it is not used", err=True)
    click.echo(report.summary())


@cli.command()
@click.option("--port", default=8000, show_default=True, type=int, help="web port")
@click.option("--agi-port", default=4573, show_default=True, type=int, help="FastAGI port")
def run(port: int, agi_port: int) -> None:
    """Everything on one machine: migrations, first admin, web, FastAGI, scheduler, console SMS."""
    from tongdai.serve import run_all

    run_all(
        load_checked_settings(),
        os.environ.get("TONGDAI_ADMIN_PASSWORD"),
        web_port=port,
        agi_port=agi_port,
    )


@cli.command()
@click.option("--from", "start", required=True, help="first day, YYYY-MM-DD (local)")
@click.option("--to", "end", required=True, help="last day, YYYY-MM-DD (included)")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, path_type=Path),
              help="also write the report as an Excel file here")  # fmt: skip
def report(start: str, end: str, xlsx_path: Path | None) -> None:
    """Print the report of a date range (received, resolved, on time, SMS, satisfaction)."""
    from reports.statistics import report as build_report
    from reports.statistics import text_tables
    from reports.xlsx import workbook_bytes
    from tongdai.startup import load_runtime

    days: dict[str, dt.date] = {}
    for hint, value in (("--from", start), ("--to", end)):
        try:
            days[hint] = dt.date.fromisoformat(value)
        except ValueError as exc:
            raise click.BadParameter(f"{value!r}: write it as YYYY-MM-DD", param_hint=hint) from exc
    if days["--to"] < days["--from"]:
        raise click.BadParameter("the last day comes before the first", param_hint="--to")
    runtime = load_runtime()
    with runtime.sessions() as session:
        figures = build_report(session, runtime.settings, runtime.calendar(), days["--from"],
                               days["--to"])  # fmt: skip
    click.echo(text_tables(figures), nl=False)
    if xlsx_path is not None:
        xlsx_path.write_bytes(workbook_bytes(figures, runtime.settings.centre.name))
        click.echo(f"\nĐã ghi tệp Excel: {xlsx_path}")


@cli.group()
def onestop() -> None:
    """The national public-service portal (DVCQG)."""


def _portal(settings):
    from onestop.http_portal import HttpPortal
    from onestop.portal import PortalError

    try:
        return HttpPortal.from_settings(settings)
    except PortalError as exc:
        raise click.ClickException(f"onestop: {exc}") from exc


@onestop.command("check")
def onestop_check() -> None:
    """Log in to the portal and look up each configured procedure; print what it says."""
    from onestop.catalogue import entry_values, national_codes, store_entry
    from onestop.portal import PortalError
    from tongdai.startup import load_runtime

    runtime = load_runtime()
    settings = runtime.settings
    portal = _portal(settings)
    for code in national_codes(settings):
        try:
            entry = portal.procedure(code)
        except PortalError as exc:
            raise click.ClickException(f"onestop: LayThuTuc {code}: {exc}") from exc
        if entry is None:
            click.echo(f"{code}: the portal has no such procedure")
            continue
        values = entry_values(entry)
        click.echo(f"{code}: {values['name']} | lĩnh vực {values['sector_code']} "
                   f"{values['sector_name']} | {values['agency_name']}")  # fmt: skip
        with runtime.sessions() as session, session.begin():
            store_entry(session, code, entry, runtime.clock.now())
    click.echo(f"logged in as {settings.onestop_user}; unit code {settings.onestop.madonvi}")


@onestop.command("sync")
@click.option("--dossier", "code", help="only this dossier's records (its full code)")
def onestop_sync(code: str | None) -> None:
    """Push the pending records (or one dossier's) to the portal now."""
    from sqlalchemy import select

    from intake.models import Dossier
    from onestop.sync import sync_due
    from tongdai.startup import load_runtime

    runtime = load_runtime()
    settings = runtime.settings
    if not settings.onestop.enabled:
        raise click.ClickException("onestop: the sync is off ([onestop] enabled = false)")
    dossier_id = None
    if code is not None:
        with runtime.sessions() as session:
            dossier_id = session.scalar(select(Dossier.id).where(Dossier.code == code.strip()))
        if dossier_id is None:
            raise click.ClickException(f"no dossier {code!r}")
    portal = _portal(settings)
    totals: dict[str, int] = {}
    while True:
        report = sync_due(
            runtime.sessions,
            portal,
            settings,
            runtime.clock,
            limit=settings.scheduler.dispatch_batch,
            dossier_id=dossier_id,
        )
        for name in ("sent", "retrying", "unknown", "refused", "failed", "skipped"):
            totals[name] = totals.get(name, 0) + len(getattr(report, name))
        if not report.sent and not report.skipped:  # what is left waits for its retry time
            break
    click.echo(", ".join(f"{count} {name}" for name, count in totals.items()))


@onestop.command("reconcile")
@click.option("--day", help="the local day whose changed dossiers to compare (default: yesterday)")
def onestop_reconcile(day: str | None) -> None:
    """Compare the dossiers changed on a day with the portal's (as the scheduler does nightly)."""
    from onestop.reconcile import reconcile
    from tongdai.startup import load_runtime

    when = None
    if day is not None:
        try:
            when = dt.date.fromisoformat(day)
        except ValueError as exc:
            raise click.BadParameter(
                f"{day!r}: write it as YYYY-MM-DD", param_hint="--day"
            ) from exc
    runtime = load_runtime()
    report = reconcile(runtime.sessions, _portal(runtime.settings), runtime.settings,
                       runtime.clock, when)  # fmt: skip
    for mismatch in report.mismatches:
        click.echo(f"{mismatch['code']}: {mismatch['problem']}")
    click.echo(f"{report.day}: {report.checked} checked, {len(report.mismatches)} differ"
               + (f"; {report.error}" if report.error else ""))  # fmt: skip
    if report.error:
        raise click.ClickException(report.error)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        # One line, whatever went wrong: no usage text under the error (README, "The `tongdai`
        # command": errors end with a one-line message and a non-zero exit code).
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except DomainError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
