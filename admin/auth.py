"""Log-in, log-out, roles, and the rules every staff page follows.

- Passwords are hashed (werkzeug scrypt); a user must set a new one after an admin reset.
- Log-in throttling: after MAX_FAILURES wrong passwords an account is locked for LOCK_MINUTES,
  whatever the IP (an attacker rotating addresses gains nothing); the lock is shown plainly.
- A session ends after INACTIVITY_MINUTES without a request; cookies are HttpOnly, SameSite=Lax
  and Secure when the public address is https.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
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
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from admin.accounts import MIN_PASSWORD_LENGTH
from intake.models import Role, StaffUser
from tongdai.runtime import Runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__, url_prefix="/admin")
MAX_FAILURES = 5
LOCK_MINUTES = 15
INACTIVITY_MINUTES = 30
ROLE_RANK = {Role.OPERATOR: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


def runtime() -> Runtime:
    return current_app.extensions["tongdai"]


def now() -> dt.datetime:
    return runtime().clock.now()


def load_user() -> None:
    """Before each admin request: the logged-in user in g.user, or None (and an expired
    session cleared)."""
    g.user = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    last_seen = session.get("last_seen")
    current = now().timestamp()
    if last_seen is not None and current - last_seen > INACTIVITY_MINUTES * 60:
        session.clear()
        flash("Phiên làm việc đã hết hạn do không hoạt động. Vui lòng đăng nhập lại.", "info")
        return
    with runtime().sessions() as db:
        user = db.get(StaffUser, user_id)
    if user is None or not user.active:
        session.clear()
        return
    session["last_seen"] = current
    g.user = user


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


def _attempt(username: str, password: str) -> str | None:
    """Log in, or return the message to show. Unknown users and wrong passwords read alike."""
    from intake.audit import record

    wrong = "Tên đăng nhập hoặc mật khẩu không đúng."
    with runtime().sessions() as db, db.begin():
        user = db.scalar(select(StaffUser).where(StaffUser.username == username).with_for_update())
        if user is None or not user.active:
            check_password_hash(generate_password_hash("x"), password)  # same time as a real check
            return wrong
        current = now()
        if user.locked_until is not None and user.locked_until > current:
            minutes = max(1, round((user.locked_until - current).total_seconds() / 60))
            return f"Tài khoản tạm khoá do nhập sai nhiều lần. Thử lại sau {minutes} phút."
        if not check_password_hash(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until = current + dt.timedelta(minutes=LOCK_MINUTES)
                user.failed_logins = 0
                record(
                    db,
                    actor=f"staff:{username}",
                    action="login.locked",
                    now=current,
                    target_type="staff_user",
                    target_id=str(user.id),
                )
                log.warning("auth: %s locked after %d failures", username, MAX_FAILURES)
            return wrong
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = current
        record(
            db,
            actor=f"staff:{username}",
            action="login",
            now=current,
            target_type="staff_user",
            target_id=str(user.id),
        )
        session.clear()
        session["user_id"] = user.id
        session["last_seen"] = current.timestamp()
        session.permanent = True
    return None


@blueprint.post("/logout")
def logout():
    session.clear()
    flash("Đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        current, new, again = (request.form.get(k, "") for k in ("current", "new", "again"))
        if not check_password_hash(g.user.password_hash, current):
            errors["current"] = "Mật khẩu hiện tại không đúng."
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
            flash("Đã đổi mật khẩu.", "success")
            return redirect(url_for("dashboard.index"))
    return render_template("admin/password.html", errors=errors), 400 if errors else 200
