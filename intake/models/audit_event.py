from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class AuditEvent(Base):
    """Who viewed or changed what, and when (`intake.audit.record` writes them): append-only.

    Details never hold a full phone number or citizen id, only masked forms.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        # "Everything that happened to this recording / dossier", for supervisors.
        Index("ix_audit_event_target_type_target_id", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    # "staff:<username>", "scheduler", "ivr", "sms".
    actor: Mapped[str] = mapped_column(String(80))
    # recording.deleted, draft.deleted, recording.viewed, citizen_id.viewed, dossier.changed ...
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper, _connection, target: AuditEvent) -> None:
    raise RuntimeError(f"audit events are append-only (event {target.id})")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper, _connection, target: AuditEvent) -> None:
    raise RuntimeError(f"audit events are append-only (event {target.id})")
