"""Staff accounts. Supervisors manage operators only; admins manage everyone and change roles.

Nobody disables themselves or changes their own role, so an installation always keeps the admin
who is making the change. A new or reset password is shown once, in the answer to the POST
(never in a flash message: those travel in the session cookie), and never in the audit log.
Each account's open sessions are listed; «Kết thúc mọi phiên» logs it out everywhere (one's own
account: everywhere but here), and a reset or disabling does the same.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from admin import accounts, login_throttle, staff_sessions
from admin.auth import now, role_required, runtime
from intake.audit import record
from intake.errors import InvalidInput
from intake.models import Role, StaffUser
from intake.staff_queries import staff_users_with_roles

blueprint = Blueprint("users", __name__, url_prefix="/admin/users")
ROLE_LABELS = {
    Role.OPERATOR: "Tổng đài viên",
    Role.SUPERVISOR: "Lãnh đạo",
    Role.ADMIN: "Quản trị",
}


def _audit(session: Session, action: str, user: StaffUser, details: dict | None = None) -> None:
    record(
        session,
        actor=f"staff:{g.user.username}",
        action=action,
        now=now(),
        target_type="staff_user",
        target_id=str(user.id),
        details={"username": user.username, **(details or {})},
    )


def _page(
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    shown_password: dict[str, str] | None = None,
):
    roles = accounts.manageable_roles(g.user.role)
    current = now()
    with runtime().sessions() as session:
        users = staff_users_with_roles(session, roles)
        live_sessions = staff_sessions.live_counts(session, [u.id for u in users], current)
        locked_sources = login_throttle.locked_sources(
            session, [u.username for u in users], current
        )
    return render_template(
        "admin/users.html",
        users=users,
        roles=roles,
        role_labels=ROLE_LABELS,
        errors=errors or {},
        form=form or {"username": "", "role": Role.OPERATOR.value, "generate": "1"},
        shown_password=shown_password,
        live_sessions=live_sessions,
        locked_sources=locked_sources,
        min_length=accounts.MIN_PASSWORD_LENGTH,
    ), 400 if errors else 200


@blueprint.get("")
@role_required(Role.SUPERVISOR)
def index():
    return _page()


@blueprint.post("")
@role_required(Role.SUPERVISOR)
def add():
    form = {
        "username": request.form.get("username", "").strip().lower(),
        "role": request.form.get("role", ""),
        "generate": "1" if request.form.get("generate") else "",
    }
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    try:
        role = Role(form["role"])
    except ValueError:
        role = None
    if role is None or role not in accounts.manageable_roles(g.user.role):
        errors["role"] = "Bạn không được tạo tài khoản với vai trò này."
    if form["generate"]:
        password = accounts.generate_password()
    elif len(password) < accounts.MIN_PASSWORD_LENGTH:
        errors["password"] = (
            f"Mật khẩu cần ít nhất {accounts.MIN_PASSWORD_LENGTH} ký tự, "
            "hoặc chọn «Tạo mật khẩu ngẫu nhiên»."
        )
    if errors:
        return _page(errors=errors, form=form)
    try:
        with runtime().sessions() as session, session.begin():
            user = accounts.add_user(session, form["username"], password, role)
            # Someone else chose this password: the owner replaces it at the first log-in.
            user.must_change_password = True
            _audit(
                session,
                "staff_user.created",
                user,
                {"role": role.value, "generated": bool(form["generate"])},
            )
    except InvalidInput as exc:
        return _page(errors={"username": str(exc)}, form=form)
    flash(f"Đã tạo tài khoản {user.username}.", "success")
    if form["generate"]:
        return _page(shown_password={"username": user.username, "password": password})
    return redirect(url_for("users.index"))


def _change(user_id: int, change) -> StaffUser:
    """Load a user the current one may manage (else 403) and apply `change` in a transaction."""
    with runtime().sessions() as session, session.begin():
        user = session.get(StaffUser, user_id, with_for_update=True)
        if user is None:
            abort(404)
        if not accounts.may_manage(g.user, user):
            abort(403)
        change(session, user)
    return user


@blueprint.post("/<int:user_id>/active")
@role_required(Role.SUPERVISOR)
def set_active(user_id: int):
    active = request.form.get("active") == "1"

    def change(session: Session, user: StaffUser) -> None:
        accounts.set_active(session, g.user, user, active, now())
        _audit(session, "staff_user.enabled" if active else "staff_user.disabled", user)

    try:
        user = _change(user_id, change)
    except InvalidInput as exc:
        flash(str(exc), "error")
        return redirect(url_for("users.index"))
    flash(f"Đã {'mở khoá' if active else 'khoá'} tài khoản {user.username}.", "success")
    return redirect(url_for("users.index"))


@blueprint.post("/<int:user_id>/password")
@role_required(Role.SUPERVISOR)
def reset_password(user_id: int):
    if user_id == g.user.id:
        flash("Dùng trang «Đổi mật khẩu» để đổi mật khẩu của chính bạn.", "error")
        return redirect(url_for("users.index"))
    password = ""

    def change(session: Session, user: StaffUser) -> None:
        nonlocal password
        password = accounts.reset_password(session, user, now())
        _audit(session, "staff_user.password_reset", user)

    user = _change(user_id, change)
    return _page(shown_password={"username": user.username, "password": password, "reset": "1"})


@blueprint.post("/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id: int):
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        abort(400)
    previous: Role | None = None

    def change(session: Session, user: StaffUser) -> None:
        nonlocal previous
        previous = user.role
        if previous is role and user.id != g.user.id:
            return
        accounts.change_role(session, g.user, user, role)
        _audit(session, "staff_user.role_changed", user, {"from": previous.value, "to": role.value})

    try:
        user = _change(user_id, change)
    except InvalidInput as exc:
        flash(str(exc), "error")
        return redirect(url_for("users.index"))
    if previous is not role:
        flash(f"{user.username} nay là {ROLE_LABELS[role]}.", "success")
    return redirect(url_for("users.index"))


@blueprint.post("/<int:user_id>/sessions/end")
@role_required(Role.SUPERVISOR)
def end_sessions(user_id: int):
    """Log an account out everywhere (for one's own account: everywhere but here)."""
    ended = 0

    def change(session: Session, user: StaffUser) -> None:
        nonlocal ended
        ended = accounts.end_sessions(session, g.user, user, now(), keep=g.staff_session_id)
        _audit(session, "staff_user.sessions_ended", user, {"ended": ended})

    user = _change(user_id, change)
    flash(f"Đã kết thúc {ended} phiên đăng nhập của {user.username}.", "success")
    return redirect(url_for("users.index"))
