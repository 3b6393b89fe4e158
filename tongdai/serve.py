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
        # Waitress's own defaults, kept on purpose and named here because the capacity figures
        # (bench/README.md) rest on them. Behind nginx (deploy/nginx: no upstream keep-alive)
        # every connection is one request whose body nginx has already read, closed after its
        # answer: the limit bounds the requests in flight in this process (8 running, the rest
        # in waitress's task queue, about a second of work at 10-12 ms of CPU each). Beyond it
        # waitress stops accepting and connections wait in the kernel's listen queue, in order.
        # A larger limit would only move that queue into this process's memory; a smaller one
        # gains nothing either. The queue of 1,024 (the kernel caps it at net.core.somaxconn)
        # plus the 100 is about 13 s of one process's work, about Twilio's 15-s wait for a
        # webhook: a request further back would be answered after Twilio gave up, so a longer
        # one helps no caller, and a much shorter one would refuse bursts two processes clear
        # in seconds (nginx waits 3 s to connect before trying the other replica). A connection
        # held open between requests would keep its channel, which is why the webhook ladder
        # reaches this server a connection per request, as nginx does (bench/twilio_call.py).
        # channel_timeout stays at 120 s: it closes only idle channels, and behind nginx none
        # is idle (direct clients: `make run`, the container's health check).
        connection_limit=100,
        backlog=1024,
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
