"""Log-in throttling counts wrong passwords per account and source address, atomically, before
any password is checked; an unknown account costs exactly the same work and reads the same."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading

import pytest
from sqlalchemy import select

import admin.auth
from intake.models import AuditEvent, Role, StaffUser
from tests.admin.staff import PASSWORD, csrf_of, log_in, make_user

WRONG = "sai-mat-khau-roi"
ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"
PROXY = "10.0.0.2"


class Counting:
    """Wraps a hashing function and counts its calls from every thread."""

    def __init__(self, function):
        self.function = function
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        with self._lock:
            self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def password_checks(monkeypatch) -> Counting:
    counting = Counting(admin.auth.check_password_hash)
    monkeypatch.setattr(admin.auth, "check_password_hash", counting)
    return counting


def _from(app, address: str, forwarded_for: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def _trust(runtime, *proxies: str) -> None:
    networks = tuple(ipaddress.ip_network(proxy) for proxy in proxies)
    runtime.settings = runtime.settings.model_copy(update={"trusted_proxies": networks})


def test_fifty_parallel_wrong_passwords_get_at_most_five_password_checks(
    app, runtime, password_checks
):
    make_user(runtime, "admin", Role.ADMIN)
    attempts = 50
    clients = [_from(app, ATTACKER) for _ in range(attempts)]
    tokens = [csrf_of(c.get("/admin/login").get_data(as_text=True)) for c in clients]
    start = threading.Barrier(attempts)
    statuses: list[int] = []

    def attempt(client, csrf: str) -> None:
        start.wait()
        response = client.post(
            "/admin/login", data={"username": "admin", "password": WRONG, "csrf_token": csrf}
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [401] * attempts
    assert password_checks.calls <= admin.auth.MAX_FAILURES


def test_the_owner_logs_in_from_elsewhere_while_an_attackers_address_is_locked(app, runtime):
    make_user(runtime, "admin", Role.ADMIN)
    attacker, owner = _from(app, ATTACKER), _from(app, OWNER)
    for _ in range(10):
        log_in(attacker, "admin", WRONG)

    refused = log_in(attacker, "admin")  # even the right password, from the attacker's address
    assert refused.status_code == 401 and "tạm khoá" in refused.get_data(as_text=True)
    assert log_in(owner, "admin").status_code == 302


def test_the_lock_ends_after_fifteen_minutes_and_is_in_the_audit_log(app, runtime, clock):
    make_user(runtime, "lan", Role.OPERATOR)
    attacker = _from(app, ATTACKER)
    for _ in range(5):
        log_in(attacker, "lan", WRONG)
    assert log_in(attacker, "lan").status_code == 401
    clock.advance(dt.timedelta(minutes=16))
    assert log_in(attacker, "lan").status_code == 302
    with runtime.sessions() as session:
        [locked] = session.scalars(select(AuditEvent).where(AuditEvent.action == "login.locked"))
    assert locked.details["address"] == ATTACKER


def test_a_locked_address_reads_the_same_for_a_real_and_an_unknown_account(app, runtime):
    make_user(runtime, "lan", Role.OPERATOR)
    attacker = _from(app, ATTACKER)
    for name in ("lan", "khong-co"):
        for _ in range(5):
            log_in(attacker, name, WRONG)
    real, unknown = log_in(attacker, "lan", WRONG), log_in(attacker, "khong-co", WRONG)

    assert real.status_code == unknown.status_code == 401
    assert "tạm khoá" in real.get_data(as_text=True)
    assert real.get_data(as_text=True) == unknown.get_data(as_text=True).replace("khong-co", "lan")


def test_forwarded_for_from_an_untrusted_peer_is_ignored(app, runtime):
    make_user(runtime, "admin", Role.ADMIN)
    _trust(runtime, PROXY)
    for n in range(5):  # a different "client" in the header each time
        log_in(_from(app, ATTACKER, f"192.0.2.{n}"), "admin", WRONG)

    refused = log_in(_from(app, ATTACKER, "192.0.2.200"), "admin")
    assert refused.status_code == 401 and "tạm khoá" in refused.get_data(as_text=True)


def test_forwarded_for_from_a_trusted_proxy_names_the_client(app, runtime):
    make_user(runtime, "admin", Role.ADMIN)
    _trust(runtime, "10.0.0.0/8")
    # The attacker prepends a forged address; the proxy appends the one it saw.
    attacker = _from(app, PROXY, f"{OWNER}, {ATTACKER}")
    for _ in range(5):
        log_in(attacker, "admin", WRONG)
    assert "tạm khoá" in log_in(attacker, "admin").get_data(as_text=True)

    # Two proxies in a row (10.0.0.9 forwarded to 10.0.0.2): the owner behind both still gets in.
    owner = _from(app, PROXY, f"{OWNER}, 10.0.0.9")
    assert log_in(owner, "admin").status_code == 302
    with runtime.sessions() as session:
        [login] = session.scalars(select(AuditEvent).where(AuditEvent.action == "login"))
    assert login.details["address"] == OWNER


def test_a_wrong_password_for_an_unknown_user_costs_one_hash_like_a_real_one(
    app, runtime, monkeypatch, password_checks
):
    make_user(runtime, "lan", Role.OPERATOR)
    hashes = Counting(admin.auth.generate_password_hash)
    monkeypatch.setattr(admin.auth, "generate_password_hash", hashes)
    client = _from(app, OWNER)

    log_in(client, "lan", WRONG)
    real = password_checks.calls + hashes.calls
    log_in(client, "khong-co", WRONG)
    unknown = password_checks.calls + hashes.calls - real

    assert real == unknown == 1


def test_a_disabled_account_costs_one_hash_and_says_the_same(app, runtime, password_checks):
    make_user(runtime, "lan", Role.OPERATOR)
    with runtime.sessions() as session, session.begin():
        session.scalars(select(StaffUser)).one().active = False
    response = log_in(_from(app, OWNER), "lan", PASSWORD)

    assert response.status_code == 401 and "không đúng" in response.get_data(as_text=True)
    assert password_checks.calls == 1


def test_the_current_password_field_cannot_be_guessed_freely_from_a_session(app, runtime):
    from tests.admin.staff import token

    make_user(runtime, "lan", Role.OPERATOR)
    borrowed = _from(app, ATTACKER)
    log_in(borrowed, "lan")

    def change(current: str):
        return borrowed.post(
            "/admin/password",
            data={
                "csrf_token": token(borrowed, "/admin/password"),
                "current": current,
                "new": "mat-khau-cua-ke-trom",
                "again": "mat-khau-cua-ke-trom",
            },
        )

    for _ in range(5):
        assert change(WRONG).status_code == 400
    refused = change(PASSWORD)  # the right one, after five guesses

    assert refused.status_code == 400 and "tạm khoá" in refused.get_data(as_text=True)
    assert log_in(_from(app, OWNER), "lan").status_code == 302  # unchanged, and the owner gets in


def test_the_users_page_shows_locked_addresses_and_a_reset_lifts_them(app, client, runtime):
    from tests.admin.staff import token

    make_user(runtime, "lan", Role.OPERATOR)
    make_user(runtime, "boss", Role.ADMIN)
    attacker = _from(app, ATTACKER)
    for _ in range(5):
        log_in(attacker, "lan", WRONG)
    log_in(client, "boss")
    assert "1 địa chỉ đang bị tạm khoá" in client.get("/admin/users").get_data(as_text=True)

    with runtime.sessions() as session:
        lan_id = session.scalar(select(StaffUser.id).where(StaffUser.username == "lan"))
    client.post(
        f"/admin/users/{lan_id}/password", data={"csrf_token": token(client, "/admin/users")}
    )

    assert "đang bị tạm khoá" not in client.get("/admin/users").get_data(as_text=True)
