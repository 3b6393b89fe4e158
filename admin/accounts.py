"""Staff accounts: creation, password hashing and the first admin of a new installation."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from admin import login_throttle, staff_sessions
from intake.errors import InvalidInput
from intake.models import Role, StaffUser

MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def add_user(session: Session, username: str, password: str, role: Role) -> StaffUser:
    if not _USERNAME.match(username):
        raise InvalidInput(
            "Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch ngang (2–64 ký tự)."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"Mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự.")
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise InvalidInput(f"Tên đăng nhập {username!r} đã tồn tại.")
    user = StaffUser(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def ensure_first_admin(session: Session, password: str | None) -> tuple[str, str] | None:
    """Create `admin` when there is no account at all; return (name, password) to print once."""
    if session.scalar(select(func.count()).select_from(StaffUser)):
        return None
    password = password or secrets.token_urlsafe(12)
    add_user(session, "admin", password, Role.ADMIN)
    return "admin", password


# ---- what the users page does ----------------------------------------------------------------

# No look-alike characters (0/O, 1/l/I): a temporary password is read aloud or copied by hand.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GENERATED_PASSWORD_LENGTH = 14


def generate_password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(GENERATED_PASSWORD_LENGTH))


def manageable_roles(actor_role: Role) -> list[Role]:
    """The roles whose accounts `actor_role` may create and manage."""
    if actor_role is Role.ADMIN:
        return list(Role)
    if actor_role is Role.SUPERVISOR:
        return [Role.OPERATOR]
    return []


def may_manage(actor: StaffUser, target: StaffUser) -> bool:
    return target.role in manageable_roles(actor.role)


def set_active(
    session: Session, actor: StaffUser, user: StaffUser, active: bool, now: dt.datetime
) -> None:
    """Disabling ends every session of the account (enabling it again revives none of them);
    enabling also lifts every log-in lock on it."""
    if user.id == actor.id and not active:
        raise InvalidInput("Bạn không thể tự khoá tài khoản của mình.")
    user.active = active
    if active:
        login_throttle.clear(session, user.username)
    else:
        staff_sessions.end_all(session, user.id, now, "disabled")
    session.flush()


def reset_password(session: Session, user: StaffUser, now: dt.datetime) -> str:
    """Give `user` a new random password, to be changed at the next log-in; return it (show it
    once, never store or log it). Every session of the account ends and its log-in locks go."""
    password = generate_password()
    user.password_hash = generate_password_hash(password)
    user.must_change_password = True
    login_throttle.clear(session, user.username)
    staff_sessions.end_all(session, user.id, now, "password_reset")
    session.flush()
    return password


def end_sessions(
    session: Session, actor: StaffUser, user: StaffUser, now: dt.datetime, keep: int | None
) -> int:
    """End the sessions of `user` (for oneself: all but the current one, `keep`); return how
    many were in use."""
    return staff_sessions.end_all(
        session, user.id, now, "ended_by_staff", keep=keep if user.id == actor.id else None
    )


def change_role(session: Session, actor: StaffUser, user: StaffUser, role: Role) -> None:
    if user.id == actor.id:
        raise InvalidInput("Bạn không thể tự đổi vai trò của mình.")
    if actor.role is not Role.ADMIN:
        raise InvalidInput("Chỉ quản trị viên được đổi vai trò.")
    user.role = role
    session.flush()
