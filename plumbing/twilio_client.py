"""The one way to build a `twilio.rest.Client`, shared by the SMS gateway and the recordings."""

from __future__ import annotations

from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"

_NO_TWILIO_ENVIRONMENT = {"TONGDAI_NO_TWILIO_ENVIRONMENT": "1"}


def rest_client(
    account_sid: str, auth_token: str, http_client: HttpClient | None, timeout: float
) -> Client:
    """A client whose every request gives up after `timeout` seconds (unless the given
    `http_client` has a timeout of its own): twilio's default is to wait for ever."""
    if http_client is None:
        http_client = TwilioHttpClient(timeout=timeout)
    elif http_client.timeout is None:
        http_client.timeout = timeout
    # Twilio fills anything left empty (token, edge, region) from TWILIO_* variables, and reads
    # `environment or os.environ`, so only a non-empty mapping keeps it out: a stray TWILIO_EDGE
    # would otherwise send to another host, past a test's redirection to the mock.
    return Client(
        account_sid, auth_token, http_client=http_client, environment=_NO_TWILIO_ENVIRONMENT
    )
