"""Delivery receipts: the provider tells us what became of a notice, in any order."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from sms.models import Notice, NoticeCall, NoticeStatus
from sms.notice_calls import cancel_outdated

log = logging.getLogger(__name__)

# Provider statuses (Twilio's names; other adapters map theirs to these) -> ours.
PROVIDER_STATUS = {
    "accepted": NoticeStatus.SENT,
    "queued": NoticeStatus.SENT,
    "scheduled": NoticeStatus.SENT,
    "sending": NoticeStatus.SENT,
    "sent": NoticeStatus.SENT,
    "delivered": NoticeStatus.DELIVERED,
    "read": NoticeStatus.DELIVERED,
    "undelivered": NoticeStatus.UNDELIVERED,
    "failed": NoticeStatus.FAILED,
    "canceled": NoticeStatus.FAILED,
}


def apply_receipt(
    session: Session,
    *,
    provider_id: str,
    provider_status: str,
    now: dt.datetime,
    notice_id: int | None = None,
    error_code: str | None = None,
) -> Notice | None:
    """Record a delivery receipt; returns the notice, or None when it is not ours.

    A notice never moves backwards: `sent` arriving after `delivered` changes nothing.
    """
    notice = session.scalar(
        select(Notice).where(Notice.provider_id == provider_id).with_for_update()
    )
    if notice is None and notice_id is not None:
        # The receipt can beat our own "sent" commit; the callback URL carries our id.
        notice = session.get(Notice, notice_id, with_for_update=True)
        if notice is not None and notice.provider_id not in (None, provider_id):
            notice = None
    if notice is None:
        log.warning("sms receipt for unknown message %s (%s)", provider_id, provider_status)
        return None
    status = PROVIDER_STATUS.get(provider_status.lower())
    if status is None:
        log.info("sms receipt with unknown status %r for notice %d", provider_status, notice.id)
        return notice
    if status.rank > notice.status.rank or notice.status is NoticeStatus.UNKNOWN:
        notice.status = status
        notice.provider_status = provider_status.lower()
        notice.provider_id = provider_id
        notice.updated_at = now
        if status.rank == 3:
            notice.settled_at = now
        if error_code:
            notice.error_code = error_code
        if status is NoticeStatus.DELIVERED:
            # The citizen has the news: a call made due because the receipt was late is not.
            cancel_outdated(session, now, NoticeCall.notice_id == notice.id)
    return notice
