from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base, str_enum


class NoticeCallStatus(StrEnum):
    # Queued beside an SMS of a kind that matters: called only if that SMS fails or no delivery
    # receipt comes within `no_receipt_hours` (sms/notice_calls.py); `not_needed` otherwise.
    HELD = "held"
    PENDING = "pending"  # due at next_attempt_at (always inside the calling hours)
    DIALING = "dialing"  # claimed by a process; the call is being placed (queue skeleton)
    CALLING = "calling"  # the front end took the call: the citizen's phone rings or talks
    DONE = "done"  # the citizen answered (`outcome` says whether they confirmed)
    GAVE_UP = "gave_up"  # every attempt spent: a call-back task for staff was made
    NOT_NEEDED = "not_needed"  # the SMS was delivered, or its number is invalid
    # Dropped before it was placed: the dossier moved on, or the SMS arrived after all
    # (intake/notice_worth.py); `result` says why.
    CANCELLED = "cancelled"
    # Left dialing by a process that died: whether the phone rang cannot be asked afterwards.
    UNKNOWN = "unknown"


class NoticeCallOutcome(StrEnum):
    """How one attempt ended (the row keeps the last one; `history` keeps them all)."""

    CONFIRMED = "confirmed"  # answered and pressed 2
    ANSWERED = "answered"  # answered, heard the notice, did not confirm
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"  # the call could not be placed (refused, unreachable, unknown)


REACHED = frozenset({NoticeCallOutcome.CONFIRMED, NoticeCallOutcome.ANSWERED})
# Rows that hold (or are about to hold) a line.
ON_THE_LINE = frozenset({NoticeCallStatus.DIALING, NoticeCallStatus.CALLING})
# Rows not yet placed: what the dossier's changes can still cancel.
NOT_PLACED = frozenset({NoticeCallStatus.HELD, NoticeCallStatus.PENDING})


class NoticeCall(Base):
    """A notice said by a phone call: to a landline, or after its SMS did not reach the citizen.
    Built on the queue skeleton (plumbing/queue.py); placed by ivr/notice_calls.py."""

    __tablename__ = "notice_call"
    __table_args__ = (
        # The claim query (due pending rows, oldest first) and the scan of held rows.
        Index("ix_notice_call_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"), index=True)
    # The SMS this call stands in for (None for a landline: no SMS was ever queued).
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # the notice's kind: picks the voice template
    # The values the SMS template was given (dates as ISO strings): the voice template's too.
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    phone: Mapped[str] = mapped_column(String(16))  # E.164
    status: Mapped[NoticeCallStatus] = mapped_column(str_enum(NoticeCallStatus, 16))
    outcome: Mapped[NoticeCallOutcome | None] = mapped_column(str_enum(NoticeCallOutcome, 16))
    # One entry per attempt: {"at": ISO UTC, "outcome": ..., "detail": ...}.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    # The front end's id of the current attempt (Twilio CallSid, Asterisk channel uniqueid).
    provider_call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
