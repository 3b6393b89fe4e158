"""The questions staff pages and reports ask about staff alerts."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.models import StaffAlert


def unresolved_alerts(session: Session, limit: int) -> list[StaffAlert]:
    """Alerts nobody resolved yet, newest first."""
    return list(
        session.scalars(
            select(StaffAlert)
            .where(StaffAlert.resolved_at.is_(None))
            .order_by(StaffAlert.created_at.desc(), StaffAlert.id.desc())
            .limit(limit)
        )
    )


def unresolved_alert_count(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(StaffAlert).where(StaffAlert.resolved_at.is_(None))
    )
