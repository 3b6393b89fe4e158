"""The interface every SMS gateway implements, and how a failed send is classified.

Only the dispatcher calls `send`, with no database session open: a slow provider must never hold
a row lock or a connection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OutgoingSms:
    notice_id: int
    to: str  # E.164, always a Vietnamese mobile
    text: str  # final text, already encoded as the template's policy says
    sender: str  # the fixed brandname from config
    # An answer to the citizen's own message: gateways with a two-way number send it from there.
    reply: bool = False


@dataclass(frozen=True)
class Accepted:
    """The provider took the message; `provider_id` settles it later (receipts, look-ups)."""

    provider_id: str
    provider_status: str = "sent"


class SendError(Exception):
    """The provider did not take the message."""

    permanent = False
    # The provider may have taken the message all the same (no answer after the request went out).
    uncertain = False

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentSendError(SendError):
    """Retrying cannot help (invalid number, unsubscribed, refused content): keep the reason."""

    permanent = True


class TransientSendError(SendError):
    """Worth retrying later (rate limit, provider outage, timeout, network)."""


class UncertainSendError(TransientSendError):
    """No answer after the request went out (a read timeout, a connection lost mid-call): the
    provider may have accepted it. The dispatcher settles it by a look-up, never by a resend."""

    uncertain = True


class SmsGateway(Protocol):
    name: str

    def send(self, message: OutgoingSms) -> Accepted:
        """Hand one message to the provider; raise PermanentSendError or TransientSendError."""
        ...


@runtime_checkable
class LookupGateway(SmsGateway, Protocol):
    """A gateway that can say whether it accepted a message, for settling notices a crashed
    dispatcher left in doubt. Gateways without it leave such notices `unknown` for staff.

    The dispatcher asks `isinstance(gateway, LookupGateway)`: at run time that checks only that
    the methods exist, so a gateway needs no base class, only a `lookup` of this signature."""

    def lookup(self, message: OutgoingSms, since: dt.datetime) -> Accepted | None:
        """The provider's record of `message` sent since `since`, or None if it never took it;
        raise TransientSendError when the provider cannot be asked now."""
        ...
