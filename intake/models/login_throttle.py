from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.db import Base


class LoginThrottle(Base):
    """Log-in attempts without a success for one user name from one source, in one window.

    Keyed by what was typed, whether or not such an account exists, so that a locked source
    reads the same for a real and an unknown name. The source is the client address (an IPv6
    client's /64 network). The count is raised by a single upsert before the password is
    checked, so parallel attempts cannot slip past the limit.
    """

    __tablename__ = "login_throttle"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int]
    window_started_at: Mapped[dt.datetime] = mapped_column(index=True)
