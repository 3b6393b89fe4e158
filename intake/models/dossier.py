from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, func, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from intake.models.applicant import Applicant
from intake.models.vessel import Vessel
from intake.statuses import CLOCK_RUNNING_STATUSES, Channel, Delivery, DossierStatus
from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


def _sql_list(values: tuple[StrEnum, ...]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


# The partial indexes' predicates, written from the same sets as the rules' queries
# (intake/dossier_queries.py). Migration 0009 holds these words as history;
# tests/intake/test_dossier_queries.py checks that they still match and that PostgreSQL can
# answer each rule's query from its index.
APOLOGY_CANDIDATES = f"apology_count = 0 AND status IN ({_sql_list(CLOCK_RUNNING_STATUSES)})"
REMINDER_CANDIDATES = (
    f"status = '{DossierStatus.RESULT_READY.value}' AND reminder_sent_at IS NULL"
    f" AND delivery = '{Delivery.COLLECT.value}'"
)


class Dossier(Base):
    """An application. While a call is still filling it in, it is a draft without a code."""

    __tablename__ = "dossier"
    __table_args__ = (
        # The staff queue pages by (due_date, id), with or without a status filter.
        Index("ix_dossier_due_date_id", "due_date", "id"),
        Index("ix_dossier_status_due_date_id", "status", "due_date", "id"),
        # Per-day statistics (dashboard, report).
        Index("ix_dossier_received_at", "received_at"),
        Index("ix_dossier_result_ready_at", "result_ready_at"),
        # The two time rules of the scheduler, as partial indexes holding only the rows each rule
        # may act on, so a tick costs what is due and not what is stored (bench/rule_scan.py):
        # open dossiers without an apology (the late-apology rule) ...
        Index(
            "ix_dossier_apology_candidates",
            "due_date",
            "id",
            postgresql_where=text(APOLOGY_CANDIDATES),
            sqlite_where=text(APOLOGY_CANDIDATES),
        ),
        # ... and results waiting for collection with no reminder yet.
        Index(
            "ix_dossier_reminder_candidates",
            "result_ready_at",
            postgresql_where=text(REMINDER_CANDIDATES),
            sqlite_where=text(REMINDER_CANDIDATES),
        ),
        Index("ix_dossier_caller_phone_status", "caller_phone", "status"),
        # The API's "what changed since" pages, by keyset on (updated_at, id).
        Index("ix_dossier_updated_at_id", "updated_at", "id"),
        # The work list of received dossiers still incomplete, by completeness deadline.
        Index("ix_dossier_completeness_due_id", "completeness_due", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # `<agency>-<yyMMdd>-<seq>`; empty while a draft.
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    # The code the province one-stop system gives when the dossier is registered there.
    external_code: Mapped[str | None] = mapped_column(String(40), index=True)
    procedure: Mapped[str] = mapped_column(String(40))
    variant: Mapped[str | None] = mapped_column(String(40))
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("applicant.id"), index=True)
    vessel_id: Mapped[int | None] = mapped_column(ForeignKey("vessel.id"), index=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel, 16))
    status: Mapped[DossierStatus] = mapped_column(str_enum(DossierStatus, 24))
    delivery: Mapped[Delivery | None] = mapped_column(str_enum(Delivery, 16))
    # The number that called (E.164), and the mobile that gets the SMS notices.
    caller_phone: Mapped[str | None] = mapped_column(String(16))
    notify_phone: Mapped[str | None] = mapped_column(String(16), index=True)
    # The only number we have cannot receive SMS (a landline): staff phone the citizen instead.
    needs_phone_call: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[dt.datetime | None]
    # When the dossier became complete (every required answer given): the legal time limit
    # counts from here (docs/domain.md, "When the time limit starts"). Empty while incomplete.
    completed_at: Mapped[dt.datetime | None]
    # An incomplete dossier must be completed (or the papers requested) by this local day:
    # `completeness_check_days` working days after reception.
    completeness_due: Mapped[dt.date | None]
    # When supervisors were alerted that it passed that day (once per dossier).
    completeness_alerted_at: Mapped[dt.datetime | None]
    # The legal due date (local calendar day), set when the dossier is complete; moved by
    # supplement waits, never by apologies.
    due_date: Mapped[dt.date | None]
    # The new return date promised in an apology letter (set at most once without override).
    new_due_date: Mapped[dt.date | None]
    supplement_count: Mapped[int] = mapped_column(default=0)
    apology_count: Mapped[int] = mapped_column(default=0)
    # The reason given in the (latest) apology letter.
    apology_reason: Mapped[str | None] = mapped_column(String(300))
    # When the collection reminder went (or was skipped for an opted-out phone).
    reminder_sent_at: Mapped[dt.datetime | None]
    # When the current wait for the citizen's supplement began.
    supplement_requested_at: Mapped[dt.datetime | None]
    result_ready_at: Mapped[dt.datetime | None]
    # A caller chose "start again" on an unfinished application: never offered for resume.
    discarded_at: Mapped[dt.datetime | None]
    # The staff member working the dossier (an operator claims it before changing it).
    assigned_to: Mapped[str | None] = mapped_column(String(64), index=True)
    assigned_at: Mapped[dt.datetime | None]
    # Answers given per procedure (see [procedures.*.fields] in config.toml).
    form: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set by the code that changes the dossier, from its injectable clock (not onupdate: the
    # resume window and the queues compare it with that clock).
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Optimistic locking: a second editor working from a stale copy is refused, not obeyed.
    version: Mapped[int] = mapped_column(default=1)

    applicant: Mapped[Applicant | None] = relationship(lazy="raise")
    vessel: Mapped[Vessel | None] = relationship(lazy="raise")

    __mapper_args__ = {"version_id_col": version}

    @hybrid_property
    def effective_due_date(self) -> dt.date | None:
        """The date the citizen was last promised: the apology's new date, else the legal one.
        The same rule in SQL below, for "overdue" and "due soon" (intake/dossier_queries.py)."""
        return self.new_due_date or self.due_date

    @effective_due_date.inplace.expression
    @classmethod
    def _effective_due_date_sql(cls):
        return func.coalesce(cls.new_due_date, cls.due_date)
