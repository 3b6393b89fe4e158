"""TwilioGateway.lookup against Twilio's published contract: finding the message a crashed
dispatcher may have handed over, from Twilio's list of messages to the recipient.

Prism (started with --errors) validates the look-up request but cannot answer it: the spec's own
example page gives relative page URIs where its schema asks for format "uri", so Prism replies 500
"Request/Response not valid". The found / not found cases therefore run against the in-process
ContractHttpClient, which checks every request, and every list page it answers, against the spec.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import unicodedata
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sms.gateways.base import Accepted, OutgoingSms, SendError, TransientSendError
from sms.gateways.twilio import LOOKUP_PAGE_SIZE, TRIAL_PREFIX
from tests.contract.twilio_contract import (
    MESSAGES_PATH,
    ContractHttpClient,
    RedirectingHttpClient,
    Reply,
    http_status,
    problem,
    twilio_error,
    twilio_spec,
)
from tests.sms.test_twilio_gateway import ACCOUNT_SID, MASKED, PHONE, gateway

TEXT = "TTHCC Quang Ngai: Da tiep nhan ho so 000.00.53.H48.TD-261201-0001. Hen tra KQ 09/12/2026."
MESSAGE = OutgoingSms(notice_id=4711, to=PHONE, text=TEXT, sender="TTHCC QNGAI")
CLAIMED = dt.datetime(2026, 12, 1, 2, 0, 0, tzinfo=dt.UTC)


def example_page() -> dict[str, Any]:
    """The spec's own example answer to listing Messages (two messages to +18182008801)."""
    responses = twilio_spec()["paths"][MESSAGES_PATH]["get"]["responses"]
    example = responses["200"]["content"]["application/json"]["examples"]["readFullPage1"]
    return copy.deepcopy(example["value"])


def rfc2822(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def twilio_message(
    *,
    body: str = TEXT,
    to: str = PHONE,
    created: dt.datetime = CLAIMED + dt.timedelta(seconds=1),
    status: str = "delivered",
    direction: str = "outbound-api",
) -> dict[str, Any]:
    """A Message as Twilio lists it, shaped like the spec's example."""
    message = example_page()["messages"][0]
    sid = "SM" + uuid.uuid4().hex
    queued = status in {"accepted", "queued"}
    message.update(
        account_sid=ACCOUNT_SID,
        sid=sid,
        body=body,
        to=to,
        status=status,
        direction=direction,
        date_created=rfc2822(created),
        date_updated=rfc2822(created),
        # Twilio fills date_sent only when it hands the message to the carrier.
        date_sent=None if queued else rfc2822(created + dt.timedelta(seconds=2)),
        uri=f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    )
    message["from"] = "TTHCC QNGAI"
    return message


def page_of(*messages: dict[str, Any]) -> Reply:
    """A single page (no next page) listing `messages`, newest first as Twilio does."""
    page = example_page()
    page.update(messages=list(messages), next_page_uri=None, end=max(len(messages) - 1, 0))
    return Reply(200, json.dumps(page))


def lookup_failure(http_client, since: dt.datetime = CLAIMED) -> SendError:
    with pytest.raises(SendError) as raised:
        gateway(http_client).lookup(MESSAGE, since)
    return raised.value


# --- against Prism -------------------------------------------------------------------------------


def test_prism_accepts_the_lookup_request_but_refuses_the_specs_own_example_page(
    prism_url: str,
) -> None:
    recorder = ContractHttpClient(forward_to=prism_url)

    failure = lookup_failure(recorder)

    # A request Prism found invalid would be a 422; this 500 is Prism rejecting its own reply.
    assert isinstance(failure, TransientSendError)
    assert failure.code == "500"
    assert "Request/Response not valid" in str(failure)
    assert recorder.last.method == "GET"
    assert recorder.last.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert not recorder.violations


# --- against the in-process contract client ------------------------------------------------------


def test_the_lookup_lists_one_page_of_messages_to_the_recipient_without_a_date_filter(
    contract_http: ContractHttpClient,
) -> None:
    contract_http.respond_with(page_of())

    gateway(contract_http).lookup(MESSAGE, CLAIMED)

    assert len(contract_http.sent) == 1
    sent = contract_http.last
    assert sent.method == "GET"
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert parse_qs(urlsplit(sent.url).query) == {
        "To": [PHONE],
        "PageSize": [str(LOOKUP_PAGE_SIZE)],
    }


def test_the_message_sent_since_the_claim_with_the_same_body_is_found_with_its_sid_and_status(
    contract_http: ContractHttpClient,
) -> None:
    ours = twilio_message(status="delivered")
    contract_http.respond_with(
        page_of(
            twilio_message(body="TTHCC Quang Ngai: another notice", status="sent"),
            twilio_message(to="+84987654321"),
            twilio_message(direction="inbound", status="received"),
            ours,
            twilio_message(created=CLAIMED - dt.timedelta(hours=3)),
        )
    )

    found = gateway(contract_http).lookup(MESSAGE, CLAIMED)

    assert found == Accepted(ours["sid"], "delivered")


def test_a_message_still_queued_at_twilio_is_found_although_it_has_no_date_sent(
    contract_http: ContractHttpClient,
) -> None:
    queued = twilio_message(status="queued")
    contract_http.respond_with(page_of(queued))

    found = gateway(contract_http).lookup(MESSAGE, CLAIMED)

    assert found == Accepted(queued["sid"], "queued")


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(TEXT.replace(". ", ".  ") + "\n", id="doubled-and-trailing-whitespace"),
        pytest.param(TEXT.replace(" Hen", "\nHen"), id="newline-for-space"),
        pytest.param(TRIAL_PREFIX + TEXT, id="trial-account-prefix"),
    ],
)
def test_a_body_twilio_stored_with_other_whitespace_or_the_trial_prefix_still_matches(
    contract_http: ContractHttpClient, stored: str
) -> None:
    ours = twilio_message(body=stored)
    contract_http.respond_with(page_of(ours))

    found = gateway(contract_http).lookup(MESSAGE, CLAIMED)

    assert found is not None
    assert found.provider_id == ours["sid"]


def test_a_vietnamese_body_matches_in_either_unicode_normal_form(
    contract_http: ContractHttpClient,
) -> None:
    text = "Hồ sơ 2026-000123 đã được tiếp nhận."
    decomposed = unicodedata.normalize("NFD", text)
    ours = twilio_message(body=decomposed)
    contract_http.respond_with(page_of(ours))

    found = gateway(contract_http).lookup(OutgoingSms(4712, PHONE, text, "TTHCC QNGAI"), CLAIMED)

    assert decomposed != text
    assert found is not None and found.provider_id == ours["sid"]


def test_a_body_that_differs_in_a_character_is_not_our_message(
    contract_http: ContractHttpClient,
) -> None:
    contract_http.respond_with(page_of(twilio_message(body=TEXT.replace("0001", "0002"))))

    assert gateway(contract_http).lookup(MESSAGE, CLAIMED) is None


def test_nothing_to_the_recipient_since_the_claim_means_twilio_never_took_it(
    contract_http: ContractHttpClient,
) -> None:
    earlier = twilio_message(created=CLAIMED - dt.timedelta(minutes=1))
    contract_http.respond_with(page_of(earlier))

    assert gateway(contract_http).lookup(MESSAGE, CLAIMED) is None
    contract_http.respond_with(page_of())
    assert gateway(contract_http).lookup(MESSAGE, CLAIMED) is None


def test_a_message_stamped_a_little_before_the_claim_counts_for_whole_seconds_and_clock_drift(
    contract_http: ContractHttpClient,
) -> None:
    # Twilio's date_created drops the fraction of a second our claim time has.
    ours = twilio_message(created=CLAIMED - dt.timedelta(seconds=2))
    contract_http.respond_with(page_of(ours))

    found = gateway(contract_http).lookup(MESSAGE, CLAIMED + dt.timedelta(milliseconds=900))

    assert found is not None and found.provider_id == ours["sid"]


def test_of_two_matching_messages_the_earliest_is_returned(
    contract_http: ContractHttpClient,
) -> None:
    first = twilio_message(created=CLAIMED + dt.timedelta(seconds=1))
    second = twilio_message(created=CLAIMED + dt.timedelta(seconds=40), status="sent")
    contract_http.respond_with(page_of(second, first))

    found = gateway(contract_http).lookup(MESSAGE, CLAIMED)

    assert found == Accepted(first["sid"], "delivered")


def test_a_naive_since_is_taken_as_utc(contract_http: ContractHttpClient) -> None:
    ours = twilio_message(created=CLAIMED + dt.timedelta(seconds=1))
    contract_http.respond_with(page_of(ours))

    found = gateway(contract_http).lookup(MESSAGE, CLAIMED.replace(tzinfo=None))
    later = gateway(contract_http).lookup(
        MESSAGE, (CLAIMED + dt.timedelta(minutes=1)).replace(tzinfo=None)
    )

    assert found is not None and found.provider_id == ours["sid"]
    assert later is None


PROVIDER_ERRORS = [
    pytest.param(twilio_error(500, 20500, "Internal Server Error"), "500", id="500"),
    pytest.param(twilio_error(503, 20503, "Service Unavailable"), "503", id="503"),
    pytest.param(twilio_error(429, 20429, "Too Many Requests"), "429", id="429"),
    pytest.param(twilio_error(401, 20003, "Authenticate"), "401", id="401-credentials"),
    pytest.param(twilio_error(404, 20404, "Not found"), "404", id="404"),
    pytest.param(problem(400, 21211, "Invalid 'To' Phone Number", "Not a number"), "400", id="400"),
    pytest.param(http_status(502, "<html>Bad Gateway</html>"), "502", id="502-proxy-html"),
    pytest.param(requests.exceptions.ReadTimeout("read timed out"), "timeout", id="timeout"),
    pytest.param(requests.exceptions.ConnectionError("reset"), "connection", id="connection"),
]


def test_an_unreachable_twilio_makes_the_lookup_a_transient_connection_failure() -> None:
    nobody = "http://127.0.0.1:9"  # the discard port: nothing listens there

    failure = lookup_failure(RedirectingHttpClient(nobody, timeout=2))

    assert isinstance(failure, TransientSendError)
    assert failure.code == "connection"


@pytest.mark.parametrize(("reply", "code"), PROVIDER_ERRORS)
def test_any_failure_to_ask_twilio_is_a_transient_failure_never_a_not_found(
    contract_http: ContractHttpClient, reply, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    contract_http.respond_with(reply)
    caplog.set_level(logging.INFO, logger="sms.gateways.twilio")

    failure = lookup_failure(contract_http)

    assert isinstance(failure, TransientSendError)
    assert failure.code == code
    logged = [r.getMessage() for r in caplog.records if r.name == "sms.gateways.twilio"]
    assert logged and not any(PHONE in line for line in logged)


def test_a_twilio_message_quoting_the_number_is_masked_in_the_failure(
    contract_http: ContractHttpClient,
) -> None:
    contract_http.respond_with(twilio_error(500, 20500, f"Could not list messages to {PHONE}"))

    failure = lookup_failure(contract_http)

    assert MASKED in str(failure)
    assert PHONE not in str(failure)
