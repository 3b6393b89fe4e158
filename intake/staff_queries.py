"""The questions staff pages ask about staff accounts."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.models import Role, StaffUser


def staff_users_with_roles(session: Session, roles: Collection[Role]) -> list[StaffUser]:
    """The accounts holding one of these roles, by username."""
    return list(
        session.scalars(
            select(StaffUser).where(StaffUser.role.in_(roles)).order_by(StaffUser.username)
        )
    )
