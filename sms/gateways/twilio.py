"""Twilio Programmable Messaging as an SmsGateway, and a client that points it at a mock.

A failed send is classified from Twilio's error code first, then from the HTTP status: refusals
that no retry can fix (invalid or unsubscribed number, unroutable, filtered) are permanent; rate
limits, outages and network trouble are transient. Bad credentials are transient on purpose: the
messages wait while an administrator fixes the configuration.
"""

from __future__ import annotations

import logging

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from intake.phone import mask_phone
from sms.gateways.base import (
    Accepted,
    OutgoingSms,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from tongdai.twilio_client import TWILIO_API, rest_client

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
        if http_client is None:
            http_client = TwilioHttpClient(timeout=timeout)
        elif http_client.timeout is None:
            http_client.timeout = timeout
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        self.status_callback_base = (
            status_callback_base.rstrip("/") if status_callback_base else None
        )
        self._client = rest_client(account_sid, auth_token, http_client)

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
        # A timeout may come after Twilio took the message; the status callback, which carries
        # the notice id, settles such a notice if the retry is refused or duplicated.
        log.info(
            "twilio unreachable for notice %d to %s (%s): %s",
            message.notice_id,
            mask_phone(message.to),
            code,
            error,
        )
        return TransientSendError(f"{type(error).__name__}: {error}", code)


class RedirectingHttpClient(TwilioHttpClient):
    """For tests and staging only: sends every call meant for api.twilio.com to `base_url`
    (a contract mock such as Prism). Twilio's `edge`/`region` settings cannot reach localhost."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def target(self, url: str) -> str:
        if url == TWILIO_API or url.startswith(TWILIO_API + "/"):
            return self.base_url + url[len(TWILIO_API) :]
        return url

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            self.target(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
