"""The questions staff pages and reports ask about calls, call logs, recordings, callback
requests and call orders: one named function each, so no page builds its own query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.models import CallbackRequest, CallLog, CallOrder, IvrCall, Recording
from plumbing.db import count_where


@dataclass(frozen=True)
class CallFilters:
    """The calls list's filters; None leaves a filter out."""

    started_from: dt.datetime | None = None  # UTC, included
    started_before: dt.datetime | None = None  # UTC, excluded
    outcome: str | None = None  # an outcome code, or "none" for calls without one


def calls_page(
    session: Session, filters: CallFilters, *, after: int | None, limit: int
) -> list[IvrCall]:
    """Calls newest first, by keyset on the id (`after`: the last id of the previous page)."""
    query = select(IvrCall)
    if filters.started_from is not None and filters.started_before is not None:
        query = query.where(
            IvrCall.started_at >= filters.started_from, IvrCall.started_at < filters.started_before
        )
    if filters.outcome == "none":
        query = query.where(IvrCall.outcome.is_(None))
    elif filters.outcome:
        query = query.where(IvrCall.outcome == filters.outcome)
    if after is not None:
        query = query.where(IvrCall.id < after)
    return list(session.scalars(query.order_by(IvrCall.id.desc()).limit(limit)))


def calls_of_dossier(session: Session, dossier_id: int) -> list[IvrCall]:
    return list(session.scalars(select(IvrCall).where(IvrCall.dossier_id == dossier_id)))


def call_logs_by_uniqueid(session: Session, uniqueids: Collection[str]) -> dict[str, CallLog]:
    """Asterisk's record of each call, by its uniqueid (the call's provider id)."""
    return {
        log.uniqueid: log
        for log in session.scalars(select(CallLog).where(CallLog.uniqueid.in_(uniqueids)))
    }


def recordings_by_call(session: Session, call_ids: Collection[int]) -> dict[int, list[Recording]]:
    recordings: dict[int, list[Recording]] = {}
    for recording in session.scalars(
        select(Recording).where(Recording.call_id.in_(call_ids)).order_by(Recording.id)
    ):
        recordings.setdefault(recording.call_id, []).append(recording)
    return recordings


def recordings_of_dossier(session: Session, dossier_id: int) -> list[Recording]:
    return list(
        session.scalars(
            select(Recording).where(Recording.dossier_id == dossier_id).order_by(Recording.id)
        )
    )


def recordings_of_dossiers(
    session: Session, dossier_ids: Collection[int]
) -> dict[int, list[Recording]]:
    """The recordings of several dossiers, by dossier id, in one query."""
    recordings: dict[int, list[Recording]] = {}
    if not dossier_ids:
        return recordings
    for recording in session.scalars(
        select(Recording).where(Recording.dossier_id.in_(dossier_ids)).order_by(Recording.id)
    ):
        recordings.setdefault(recording.dossier_id or 0, []).append(recording)
    return recordings


def recording_of_dossier(session: Session, dossier_id: int, recording_id: int) -> Recording | None:
    return session.scalar(
        select(Recording).where(Recording.id == recording_id, Recording.dossier_id == dossier_id)
    )


def recordings_by_id(session: Session, ids: Collection[int]) -> dict[int, Recording]:
    if not ids:
        return {}
    return {r.id: r for r in session.scalars(select(Recording).where(Recording.id.in_(ids)))}


def open_callback_requests(session: Session, limit: int) -> list[CallbackRequest]:
    """Callers still waiting, the one waiting longest first."""
    return list(
        session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.closed_at.is_(None))
            .order_by(CallbackRequest.created_at, CallbackRequest.id)
            .limit(limit)
        )
    )


def closed_callback_requests(session: Session, limit: int) -> list[CallbackRequest]:
    """The latest closed requests, the most recently closed first."""
    return list(
        session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.closed_at.is_not(None))
            .order_by(CallbackRequest.closed_at.desc(), CallbackRequest.id.desc())
            .limit(limit)
        )
    )


def open_callback_count(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(CallbackRequest).where(CallbackRequest.closed_at.is_(None))
    )


def latest_call_orders(session: Session, dossier_id: int, limit: int = 5) -> list[CallOrder]:
    return list(
        session.scalars(
            select(CallOrder)
            .where(CallOrder.dossier_id == dossier_id)
            .order_by(CallOrder.created_at.desc(), CallOrder.id.desc())
            .limit(limit)
        )
    )


def call_counts(session: Session, low: dt.datetime, high: dt.datetime) -> tuple[int, int, int]:
    """Calls started in [low, high): all, those that submitted a dossier, those abandoned."""
    total, submitted, abandoned = session.execute(
        select(
            func.count(),
            count_where(IvrCall.outcome == "submitted"),
            count_where(IvrCall.outcome == "abandoned"),
        ).where(IvrCall.started_at >= low, IvrCall.started_at < high)
    ).one()
    return total, submitted, abandoned
