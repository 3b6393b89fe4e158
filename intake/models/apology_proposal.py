from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class ProposalStatus(StrEnum):
    PENDING = "pending"  # waiting in the supervisors' queue
    APPROVED = "approved"  # a supervisor approved it (maybe edited): the apology went out
    DISMISSED = "dismissed"  # a supervisor judged no apology is needed (the result is coming)
    SUPERSEDED = "superseded"  # a new date was set otherwise (the processing department, staff)
    AUTOMATIC = "automatic"  # nobody decided before the due day ended: the automatic one went
    CLOSED = "closed"  # the dossier left work (result ready, ended, waiting for a supplement)


class ApologyProposal(Base):
    """An apology proposed for a dossier at risk of being late, for a supervisor to approve.

    One per dossier and date at risk, so a re-scan or a second scheduler proposes once, and a due
    date moved by a supplement wait can be at risk again.
    """

    __tablename__ = "apology_proposal"
    __table_args__ = (
        UniqueConstraint("dossier_id", "due_date"),
        # The queue: pending proposals, the most urgent (earliest due date) first.
        Index("ix_apology_proposal_status_due_date", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossier.id"))
    status: Mapped[ProposalStatus] = mapped_column(str_enum(ProposalStatus, 16))
    # The date at risk (the legal due date when the proposal was made).
    due_date: Mapped[dt.date]
    # What the scheduler suggests; a supervisor may change both before approving.
    reason: Mapped[str] = mapped_column(String(300))
    new_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(80))
