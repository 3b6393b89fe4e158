"""Starting the long-running parts: the web server, and everything together for `make run`."""

from __future__ import annotations

import logging

from waitress.server import create_server

from plumbing.settings import Settings, WebSettings
from tongdai.limits import server_body_limit

log = logging.getLogger(__name__)


def web_server(app, limits: WebSettings, host: str, port: int):
    """Waitress for `app`, buffering no body larger than the app could accept (waitress would
    otherwise read up to 1 GB before the app sees the request)."""
    return create_server(
        app,
        host=host,
        port=port,
        threads=8,
        ident="tongdai",
        max_request_body_size=server_body_limit(limits),
        # Waitress would delete X-Forwarded-For (no proxy of its own is configured): the app
        # believes it only from TONGDAI_TRUSTED_PROXIES (plumbing/client_address.py), so behind
        # nginx the client's address must reach it.
        clear_untrusted_proxy_headers=False,
    )


def _web_server(settings: Settings, host: str, port: int):
    """The server, and the watchdog that alerts a silent scheduler (scheduler/watchdog.py) for
    the caller to start and stop with it."""
    from intake.runtime import Runtime
    from scheduler.watchdog import LeaderWatchdog
    from tongdai.app import create_app

    runtime = Runtime.from_settings(settings)
    server = web_server(create_app(runtime), settings.web, host, port)
    return server, LeaderWatchdog.from_runtime(runtime)


def serve_web(settings: Settings, host: str, port: int) -> None:
    server, watchdog = _web_server(settings, host, port)
    watchdog.start()
    log.info("web: listening on http://%s:%d", host, port)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("web: stopping")
    finally:
        server.close()
        watchdog.stop()


def run_all(
    settings: Settings, admin_password: str | None, web_port: int = 8000, agi_port: int = 4573
) -> None:
    from admin.accounts import ensure_first_admin
    from plumbing.db import make_engine, make_session_factory
    from tongdai.bootstrap import prepare_database

    prepare_database(settings)
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session, session.begin():
        created = ensure_first_admin(session, admin_password)
    engine.dispose()
    if created:
        name, password = created
        print(f"\nFirst admin account: {name}  password: {password}  (shown once)\n", flush=True)

    from intake.runtime import Runtime
    from ivr.asterisk.agi_server import AgiThread
    from scheduler.process import build_scheduler
    from sms.gateways.factory import gateway_from_settings

    host, port = "127.0.0.1", web_port
    server, watchdog = _web_server(settings, host, port)
    watchdog.start()
    runtime = Runtime.from_settings(settings)
    agi = AgiThread(runtime, host, agi_port)
    agi.start()
    scheduler = build_scheduler(runtime, gateway_from_settings(settings, runtime), background=True)
    scheduler.start()
    sms_where = f"{settings.sms_gateway} gateway"
    if settings.sms_gateway == "console":
        sms_where += f" (also written to {settings.data_dir / 'sms.log'})"
    print(
        f"Tổng đài is running:\n"
        f"  web      http://{host}:{port}/admin   health http://{host}:{port}/healthz\n"
        f"  FastAGI  agi://{host}:{agi_port}/intake\n"
        f"  database {settings.database_url}\n"
        f"  SMS      {sms_where}\n"
        f"Ctrl-C stops everything.",
        flush=True,
    )
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        server.close()
        watchdog.stop()
        scheduler.shutdown(wait=True)
        agi.stop()
