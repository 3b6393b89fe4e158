"""The staff log-in under attack: what a wrong password costs, and how many password checks 50
parallel attempts get.

Runs the web app in-process (Flask's test client, one thread per attempt) on a throw-away SQLite
file and, when reachable, a throw-away PostgreSQL database at TONGDAI_TEST_PG_URL. Prints:

- the median and p95 time of a wrong password for a real account and for an unknown one (each
  attempt to its own account from its own address, so no lock interferes): they should be alike;
- for 50 simultaneous wrong passwords to one account from one address: how many password checks
  ran (the limit is 5), the answers, and the wall time.

    .venv/bin/python bench/log_in.py [--samples 15] [--parallel 50]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and the app importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import PG_ADMIN_URL, summarize, throwaway_database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "mat-khau-bench-2026"
WRONG = "sai-mat-khau-roi"


def _app(database_url: str, samples: int):
    from admin.accounts import add_user
    from intake.models import Role
    from intake.runtime import Runtime
    from plumbing.settings import load_settings
    from tongdai.app import create_app
    from tongdai.migrate import upgrade

    upgrade(database_url)
    settings = load_settings(
        ROOT / "config.toml", env={"TONGDAI_SECRET_KEY": "bench", "DATABASE_URL": database_url}
    )
    runtime = Runtime.from_settings(settings)
    with runtime.sessions() as session, session.begin():
        add_user(session, "admin", PASSWORD, Role.ADMIN)
        for n in range(samples):  # one account per timed attempt: no lock of any kind interferes
            add_user(session, f"nv{n:02d}", PASSWORD, Role.OPERATOR)
    app = create_app(runtime)
    app.config.update(TESTING=True)
    return app, runtime


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client, token


def _post(client, token: str, username: str):
    return client.post(
        "/admin/login", data={"username": username, "password": WRONG, "csrf_token": token}
    )


def _timings(app, samples: int) -> None:
    for label, prefix in (("real account", "nv"), ("unknown account", "khong-co")):
        millis = []
        for n in range(samples):
            client, token = _client(app, f"198.51.{len(label)}.{n + 1}")
            started = time.perf_counter()
            _post(client, token, f"{prefix}{n:02d}")
            millis.append((time.perf_counter() - started) * 1000)
        figures = summarize(millis)
        print(f"  wrong password, {label:15}: p50 {figures.p50:6.1f} ms  p95 {figures.p95:6.1f} ms")


def _parallel(app, attempts: int) -> None:
    import admin.auth

    real_check = admin.auth.check_password_hash
    checks = 0
    lock = threading.Lock()

    def counting(*args, **kwargs):
        nonlocal checks
        with lock:
            checks += 1
        return real_check(*args, **kwargs)

    clients = [_client(app, "203.0.113.66") for _ in range(attempts)]
    barrier = threading.Barrier(attempts)
    answers: list[int] = []

    def attempt(client, token) -> None:
        barrier.wait()
        answers.append(_post(client, token, "admin").status_code)

    admin.auth.check_password_hash = counting
    try:
        threads = [threading.Thread(target=attempt, args=pair) for pair in clients]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    finally:
        admin.auth.check_password_hash = real_check
    statuses = {code: answers.count(code) for code in sorted(set(answers))}
    print(
        f"  {attempts} parallel wrong passwords: {checks} password checks "
        f"(limit {admin.auth.MAX_FAILURES}), answers {statuses}, {wall:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--parallel", type=int, default=50)
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory())
        databases = {"SQLite": f"sqlite:///{folder}/bench.sqlite3"}
        try:
            databases["PostgreSQL"] = stack.enter_context(throwaway_database("tongdai_bench"))
        except Exception as error:  # noqa: BLE001 - a missing server only skips that half
            print(f"PostgreSQL at {PG_ADMIN_URL} not reachable ({type(error).__name__}): skipped")
        for name, url in databases.items():
            print(name)
            app, runtime = _app(url, args.samples)
            _timings(app, args.samples)
            _parallel(app, args.parallel)
            runtime.engine.dispose()


if __name__ == "__main__":
    main()
