"""Log-in, log-out, roles, and the rules every staff page follows.

- Passwords are hashed (werkzeug scrypt); a user must set a new one after an admin reset.
- Sessions live on the server (admin.staff_sessions): log-out, a password change or reset, and
  an admin's "end all sessions" end them for good; a session ends after INACTIVITY_MINUTES
  without a request. Cookies are HttpOnly, SameSite=Lax and Secure when the public address is
  https, and carry only a random token.
- Log-in throttling (admin.login_throttle): MAX_FAILURES attempts per user name and source
  address per 15 minutes, counted before the password is checked; an unknown or disabled
  account costs the same single password check and reads the same.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from admin import login_throttle, staff_sessions
from admin.accounts import MIN_PASSWORD_LENGTH
from intake.audit import record
from intake.models import Role, StaffUser
from intake.runtime import Runtime
from plumbing.client_address import client_address, throttle_source

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__, url_prefix="/admin")
MAX_FAILURES = login_throttle.MAX_FAILURES
INACTIVITY_MINUTES = int(staff_sessions.INACTIVITY.total_seconds() // 60)
ROLE_RANK = {Role.OPERATOR: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}
WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."


def runtime() -> Runtime:
    return current_app.extensions["tongdai"]


def now() -> dt.datetime:
    return runtime().clock.now()


def request_address() -> str:
    """The client's address (X-Forwarded-For only from TONGDAI_TRUSTED_PROXIES)."""
    forwarded = ", ".join(request.headers.getlist("X-Forwarded-For"))
    return client_address(request.remote_addr, forwarded, runtime().settings.trusted_proxies)


@functools.cache
def dummy_hash() -> str:
    """A hash to check passwords for unknown or disabled accounts against: the same work as a
    real check, computed once per process (web start-up calls it) rather than per attempt."""
    return generate_password_hash(secrets.token_urlsafe(16))


def load_user() -> None:
    """Before each admin request: the logged-in user in g.user, or None (and a session that
    has ended or run out cleared from the cookie)."""
    g.user = None
    g.staff_session_id = None
    token = session.get("sid")
    if token is None:
        session.pop("user_id", None)  # a cookie from before server-side sessions
        return
    current = now()
    cookie_last_seen = session.get("last_seen")
    if cookie_last_seen is not None:
        cookie_last_seen = dt.datetime.fromtimestamp(cookie_last_seen, dt.UTC)
    with runtime().sessions() as db, db.begin():
        resumed = staff_sessions.resume(db, token, current, cookie_last_seen)
    if resumed.user is None:
        session.clear()
        if resumed.expired:
            flash("Phiên làm việc đã hết hạn do không hoạt động. Vui lòng đăng nhập lại.", "info")
        return
    session["last_seen"] = current.timestamp()
    g.user = resumed.user
    g.staff_session_id = resumed.session_id


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("auth.login", next=request.full_path))
        if g.user.must_change_password and request.endpoint != "auth.change_password":
            return redirect(url_for("auth.change_password"))
        return view(*args, **kwargs)

    return wrapped


def role_required(role: Role) -> Callable[[Callable], Callable]:
    """Supervisor pages admit supervisors and admins; admin pages admit admins only."""

    def decorate(view: Callable) -> Callable:
        @login_required
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if ROLE_RANK[g.user.role] < ROLE_RANK[role]:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def has_role(role: Role) -> bool:
    user = g.get("user")
    return user is not None and ROLE_RANK[user.role] >= ROLE_RANK[role]


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        password = request.form.get("password", "")
        error = _attempt(username, password)
        if error is None:
            target = request.args.get("next", "")
            # Only our own pages: never an absolute URL someone slipped into the link.
            # A CR/LF (`next=/admin%0d%0a...`) cannot go into a Location header: same fallback.
            if (
                not target.startswith("/admin")
                or target.startswith("//")
                or not target.isprintable()
            ):
                target = url_for("dashboard.index")
            return redirect(target)
    return render_template("admin/login.html", error=error), 401 if error else 200


def _throttled(retry_at: dt.datetime, current: dt.datetime) -> str:
    minutes = max(1, round((retry_at - current).total_seconds() / 60))
    return f"Đăng nhập tạm khoá do nhập sai nhiều lần. Thử lại sau {minutes} phút."


def _attempt(username: str, password: str) -> str | None:
    """Log in, or return the message to show. Unknown users and wrong passwords read alike,
    cost the same single password check, and are throttled alike."""
    current = now()
    address = request_address()
    source = throttle_source(address)
    # Counted and committed before any password is checked: see admin.login_throttle.
    with runtime().sessions() as db, db.begin():
        admission = login_throttle.admit(db, username, source, current)
    if not admission.allowed:
        return _throttled(admission.retry_at, current)
    with runtime().sessions() as db:
        user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    known = user is not None and user.active
    matches = check_password_hash(user.password_hash if known else dummy_hash(), password)
    if not (known and matches):
        if admission.attempt == MAX_FAILURES:
            # A typed name may be anything (even a phone number): only real ones are logged.
            name = user.username if user is not None else "an unknown name"
            log.warning("auth: log-in to %s locked for source %s", name, source)
            if user is not None:
                with runtime().sessions() as db, db.begin():
                    _audit(db, user, "login.locked", current, address, {"source": source})
        return WRONG
    with runtime().sessions() as db, db.begin():
        db.execute(update(StaffUser).where(StaffUser.id == user.id).values(last_login_at=current))
        login_throttle.succeeded(db, username, source, current)
        _audit(db, user, "login", current, address)
        token = staff_sessions.start(db, user.id, address, current)
    session.clear()  # a new token and a new CSRF token: nothing from before the log-in survives
    session["sid"] = token
    session["last_seen"] = current.timestamp()
    session.permanent = True
    return None


def _audit(db, user: StaffUser, action: str, current: dt.datetime, address: str, details=None):
    record(
        db,
        actor=f"staff:{user.username}",
        action=action,
        now=current,
        target_type="staff_user",
        target_id=str(user.id),
        details={"address": address, **(details or {})},
    )


@blueprint.post("/logout")
def logout():
    if g.get("user") is not None:
        current = now()
        with runtime().sessions() as db, db.begin():
            staff_sessions.end(db, g.staff_session_id, current, "logout")
            _audit(db, g.user, "logout", current, request_address())
    session.clear()
    flash("Đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        current, new, again = (request.form.get(k, "") for k in ("current", "new", "again"))
        # The current password is a log-in too: a borrowed session must not guess it freely.
        moment, source = now(), throttle_source(request_address())
        with runtime().sessions() as db, db.begin():
            admission = login_throttle.admit(db, g.user.username, source, moment)
        if not admission.allowed:
            errors["current"] = _throttled(admission.retry_at, moment)
        elif not check_password_hash(g.user.password_hash, current):
            errors["current"] = "Mật khẩu hiện tại không đúng."
        else:
            with runtime().sessions() as db, db.begin():
                login_throttle.succeeded(db, g.user.username, source, moment)
        if len(new) < MIN_PASSWORD_LENGTH:
            errors["new"] = f"Mật khẩu mới cần ít nhất {MIN_PASSWORD_LENGTH} ký tự."
        elif new == current:
            errors["new"] = "Mật khẩu mới phải khác mật khẩu cũ."
        if new != again:
            errors["again"] = "Hai lần nhập không giống nhau."
        if not errors:
            with runtime().sessions() as db, db.begin():
                user = db.get(StaffUser, g.user.id)
                user.password_hash = generate_password_hash(new)
                user.must_change_password = False
                # Whoever else holds a session of this account (a forgotten or stolen one) is
                # out; the person who changed the password stays in.
                ended = staff_sessions.end_all(
                    db, user.id, moment, "password_changed", keep=g.staff_session_id
                )
                _audit(db, user, "password.changed", moment, request_address(), {"ended": ended})
            flash("Đã đổi mật khẩu.", "success")
            return redirect(url_for("dashboard.index"))
    return render_template("admin/password.html", errors=errors), 400 if errors else 200
