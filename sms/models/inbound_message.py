from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plumbing.columns import utcnow
from plumbing.db import Base


class InboundMessage(Base):
    """An SMS a citizen sent us, from any provider. Unique per provider message id, so a
    provider's retry is recognised and handled once."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(20), index=True)
    recipient: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    # What we understood: status, rating, opt_out, opt_in, help, ignored.
    intent: Mapped[str] = mapped_column(String(16), default="")
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossier.id"))
    reply_notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
