"""Staff accounts: creation, password hashing and the first admin of a new installation."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

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


def verify_password(user: StaffUser, password: str) -> bool:
    return user.active and check_password_hash(user.password_hash, password)


def ensure_first_admin(session: Session, password: str | None) -> tuple[str, str] | None:
    """Create `admin` when there is no account at all; return (name, password) to print once."""
    if session.scalar(select(func.count()).select_from(StaffUser)):
        return None
    password = password or secrets.token_urlsafe(12)
    add_user(session, "admin", password, Role.ADMIN)
    return "admin", password
