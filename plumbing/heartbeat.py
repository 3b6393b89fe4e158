"""Heartbeats: long-running parts say they are alive (and how) in the database, so /healthz,
served by another process, can report them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from plumbing.db import Base


class Heartbeat(Base):
    __tablename__ = "heartbeat"

    # e.g. "ami", "scheduler-leader"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120), default="")  # host:pid
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    beat_at: Mapped[dt.datetime]


def beat(session: Session, name: str, holder: str, state: dict[str, Any],
         now: dt.datetime) -> None:  # fmt: skip
    row = session.get(Heartbeat, name)
    if row is None:
        session.add(Heartbeat(name=name, holder=holder, state=state, beat_at=now))
    else:
        row.holder, row.state, row.beat_at = holder, state, now


def read(session: Session) -> dict[str, Heartbeat]:
    return {row.name: row for row in session.scalars(select(Heartbeat))}
