from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class StaffSession(Base):
    """One log-in of a staff member, checked on every request of the staff page.

    The browser's signed cookie holds only a random token; this row holds its SHA-256 digest, so
    a copy of the table opens no session. A session is live while `ended_at` is empty and it has
    been used recently; log-out, a password change or reset, disabling the account or an admin
    fills `ended_at`, after which no copy of the cookie opens anything.
    """

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime]
    # Written at most once a minute, so a busy page does not write on every request.
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    # logout, idle, expired, password_changed, password_reset, disabled, ended_by_staff
    end_reason: Mapped[str | None] = mapped_column(String(20))
    # The client's address at log-in (see plumbing.client_address), shown on the users page.
    address: Mapped[str] = mapped_column(String(45))
