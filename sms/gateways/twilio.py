"""Twilio Programmable Messaging as an SmsGateway.

A failed send is classified from Twilio's error code first, then from the HTTP status: refusals
that no retry can fix (invalid or unsubscribed number, unroutable, filtered) are permanent; rate
limits, outages and network trouble are transient. Bad credentials are transient on purpose: the
messages wait while an administrator fixes the configuration.

`lookup` settles a notice a crashed dispatcher left in doubt from Twilio's own list of messages.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import unicodedata

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response

from intake.phone import mask_phone
from plumbing.twilio_client import rest_client
from sms.gateways.base import (
    Accepted,
    OutgoingSms,
    PermanentSendError,
    SendError,
    TransientSendError,
    UncertainSendError,
)

log = logging.getLogger(__name__)

PERMANENT_CODES = frozenset(
    {
        21211,  # invalid To
        21408,  # region not enabled
        21606,  # From not a valid sender for this account
        21610,  # recipient replied STOP
        21612,  # cannot route to this number
        21614,  # To is not a mobile
        21617,  # body too long
        30007,  # filtered by the carrier
    }
)
RATE_LIMITED = 20429
BAD_CREDENTIALS = 20003
# How many of the recipient's newest messages a look-up reads (one request).
LOOKUP_PAGE_SIZE = 200
# Twilio's date_created has whole seconds and comes from Twilio's clock, not ours.
LOOKUP_CLOCK_SLACK = dt.timedelta(seconds=5)
# Twilio puts this in front of every body sent from a trial account.
TRIAL_PREFIX = "Sent from your Twilio trial account - "


class TwilioGateway:
    """Sends through Twilio's Messages API (2010-04-01).

    With `messaging_service_sid` Twilio picks the sender from the service's pool and `sender` is
    not sent; otherwise `From` is `sender`, or the message's own sender when `sender` is None.
    `timeout` applies to the default HTTP client, and to a given one that has none.
    """

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sender: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_base: str | None = None,
        http_client: HttpClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_base = (
            status_callback_base.rstrip("/") if status_callback_base else None
        )
        self._client = rest_client(account_sid, auth_token, http_client, timeout)

    def status_callback(self, notice_id: int) -> str | None:
        if self.status_callback_base is None:
            return None
        return f"{self.status_callback_base}/twilio/sms/status?notice={notice_id}"

    def send(self, message: OutgoingSms) -> Accepted:
        params: dict[str, str] = {"to": message.to, "body": message.text}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.sender or message.sender
        callback = self.status_callback(message.notice_id)
        if callback:
            params["status_callback"] = callback
        masked = mask_phone(message.to)
        try:
            created = self._client.api.v2010.account.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._classify(message, error) from error
        except (requests.exceptions.RequestException, TwilioException) as error:
            raise self._network_failure(message, error) from error
        status = str(created.status or "queued")
        log.info(
            "twilio accepted notice %d to %s as %s (%s)",
            message.notice_id,
            masked,
            created.sid,
            status,
        )
        return Accepted(provider_id=created.sid, provider_status=status)

    def lookup(self, message: OutgoingSms, since: dt.datetime) -> Accepted | None:
        """Twilio's record of `message`: an outgoing message to `message.to`, created at or after
        `since` (less LOOKUP_CLOCK_SLACK), whose body is `message.text`; None if there is none.
        Any failure to ask is a TransientSendError.

        One page of the recipient's newest messages is read and filtered here rather than with
        Twilio's DateSent> filter: Twilio fills date_sent only when it hands a message to the
        carrier, so a message still queued there, the likeliest state right after a crash, would
        be missed and sent again. Bodies are compared as Twilio may store them: Unicode NFC,
        whitespace runs as one space, no leading or trailing space, and a trial account's prefix
        ignored. Of several matches (a duplicate already happened) the earliest is returned.
        """
        if since.tzinfo is None:  # the database hands back UTC
            since = since.replace(tzinfo=dt.UTC)
        earliest = since - LOOKUP_CLOCK_SLACK
        wanted = _comparable(message.text)
        try:
            page = self._client.api.v2010.account.messages.page(
                to=message.to, page_size=LOOKUP_PAGE_SIZE
            )
            records = list(page)
        except (requests.exceptions.RequestException, TwilioException, ValueError) as error:
            raise self._lookup_failure(message, error, _failure_code(error)) from error
        matches = [
            record
            for record in records
            if str(record.direction or "").startswith("outbound")
            and record.to == message.to
            and record.date_created is not None
            and record.date_created >= earliest
            and _comparable(record.body or "") == wanted
        ]
        if not matches:
            log.info(
                "twilio has no message for notice %d to %s since %s",
                message.notice_id,
                mask_phone(message.to),
                since.isoformat(timespec="seconds"),
            )
            return None
        found = min(matches, key=lambda record: record.date_created)
        status = str(found.status or "queued")
        log.info(
            "twilio has notice %d to %s as %s (%s)",
            message.notice_id,
            mask_phone(message.to),
            found.sid,
            status,
        )
        return Accepted(provider_id=found.sid, provider_status=status)

    def _lookup_failure(self, message: OutgoingSms, error: Exception, code: str) -> SendError:
        if len(error.args) > 1 and isinstance(error.args[1], Response):
            # twilio raises TwilioException("Unable to fetch page", response) for any error reply.
            text = f"HTTP {error.args[1].status_code}: {_error_message(error.args[1])}"
        else:
            text = f"{type(error).__name__}: {error}"
        text = text.replace(message.to, mask_phone(message.to))
        log.info("twilio look-up for notice %d failed (%s): %s", message.notice_id, code, text)
        return TransientSendError(f"look-up failed: {text}", code)

    def _classify(
        self, message: OutgoingSms, error: TwilioRestException | TwilioServiceException
    ) -> SendError:
        status = int(error.status)
        try:
            code = int(error.code)
        except (TypeError, ValueError):  # no body, or a proxy's body with its own "code"
            code = status
        if isinstance(error, TwilioServiceException):
            text = f"{error.title}: {error.detail}" if error.detail else error.title
        else:
            text = error.msg
        masked = mask_phone(message.to)
        # Twilio quotes the number in some messages (21211, 21614); the reason is logged.
        text = str(text).replace(message.to, masked)
        rate_limited = status == 429 or code == RATE_LIMITED
        if code in PERMANENT_CODES:
            failure: SendError = PermanentSendError(text, str(code))
        elif status == 401 or code == BAD_CREDENTIALS:
            log.error(
                "twilio refused our credentials (HTTP %d, code %d) for notice %d: check the "
                "account SID and auth token; messages stay queued until it is fixed",
                status,
                code,
                message.notice_id,
            )
            return TransientSendError(text, str(BAD_CREDENTIALS))
        elif 400 <= status < 500 and not rate_limited:
            failure = PermanentSendError(text, str(code))
        else:  # rate limits, 5xx
            failure = TransientSendError(text, str(code))
        log.info(
            "twilio refused notice %d to %s (%s, HTTP %d, code %d): %s",
            message.notice_id,
            masked,
            "permanent" if failure.permanent else "transient",
            status,
            code,
            text,
        )
        return failure

    def _network_failure(self, message: OutgoingSms, error: Exception) -> SendError:
        cause = error
        if isinstance(error, TwilioException):
            cause = error.__cause__ or error.__context__ or error
        if isinstance(cause, requests.exceptions.Timeout):
            code = "timeout"
        elif isinstance(cause, requests.exceptions.RequestException):
            code = "connection"
        else:
            code = "twilio-client"
        log.info(
            "twilio unreachable for notice %d to %s (%s): %s",
            message.notice_id,
            mask_phone(message.to),
            code,
            error,
        )
        text = f"{type(error).__name__}: {error}"
        # No answer after the request went out: Twilio may have taken it. The dispatcher then
        # looks it up instead of sending it again. A connect failure never reached Twilio.
        if isinstance(
            cause, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)
        ):
            return UncertainSendError(text, code)
        return TransientSendError(text, code)


def _failure_code(error: Exception) -> str:
    if len(error.args) > 1 and isinstance(error.args[1], Response):
        return str(error.args[1].status_code)
    cause = error.__cause__ or error.__context__ or error
    if isinstance(cause, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(error, ValueError):
        return "bad-reply"
    return "connection"


def _error_message(response: Response) -> str:
    """Twilio's `message`, or an RFC 9457 problem's title and detail, from an error body."""
    try:
        body = json.loads(response.text)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if body.get("message"):
        return str(body["message"])
    return ": ".join(str(body[key]) for key in ("title", "detail") if body.get(key))


def _comparable(body: str) -> str:
    body = " ".join(unicodedata.normalize("NFC", body).split())
    return body.removeprefix(TRIAL_PREFIX)
