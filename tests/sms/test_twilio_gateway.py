"""sms.gateways.twilio against Twilio's published contract.

Prism serves Twilio's OpenAPI spec as a mock (the happy path, missing auth, invalid requests);
ContractHttpClient checks each request against the same spec in process and answers with the
Twilio errors Prism cannot produce.
"""

from __future__ import annotations

import base64
import logging

import pytest
import requests
from twilio.base.exceptions import TwilioException

from sms.gateways.base import (
    Accepted,
    OutgoingSms,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from sms.gateways.twilio import TwilioGateway
from tests.contract.twilio_contract import (
    ContractHttpClient,
    ContractViolation,
    RedirectingHttpClient,
    http_status,
    problem,
    twilio_error,
)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
PHONE = "+84912345678"
MASKED = "+8491****678"
PUBLIC_URL = "https://tongdai.quangngai.gov.vn"
MESSAGE = OutgoingSms(
    notice_id=4711, to=PHONE, text="TTHCC Quang Ngai: ho so 2026-000123 da nhan", sender="TTHCCQNG"
)


def gateway(http_client, **options) -> TwilioGateway:
    options.setdefault("sender", "TTHCCQNG")
    options.setdefault("status_callback_base", PUBLIC_URL)
    token = options.pop("auth_token", AUTH_TOKEN)
    return TwilioGateway(ACCOUNT_SID, token, http_client=http_client, **options)


def send_failure(http_client, **options) -> SendError:
    with pytest.raises(SendError) as raised:
        gateway(http_client, **options).send(MESSAGE)
    return raised.value


# --- against Prism -------------------------------------------------------------------------------


def test_a_send_through_the_prism_mock_is_accepted_with_a_message_sid(prism_url: str) -> None:
    accepted = gateway(RedirectingHttpClient(prism_url, timeout=10)).send(MESSAGE)

    assert isinstance(accepted, Accepted)
    assert accepted.provider_id.startswith("SM")
    assert len(accepted.provider_id) == 34
    assert accepted.provider_status == "queued"


def test_the_status_callback_with_the_notice_id_goes_out_with_the_message(prism_url: str) -> None:
    recorder = ContractHttpClient(forward_to=prism_url)

    accepted = gateway(recorder).send(MESSAGE)

    assert accepted.provider_id.startswith("SM")
    assert recorder.last.form["StatusCallback"] == (
        "https://tongdai.quangngai.gov.vn/twilio/sms/status?notice=4711"
    )
    assert not recorder.violations


def test_a_missing_auth_token_is_a_transient_credentials_failure_logged_as_an_error(
    prism_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="sms.gateways.twilio")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a token the gateway must not pick up")

    failure = send_failure(RedirectingHttpClient(prism_url, timeout=10), auth_token="")

    # Prism answers 401 with a problem body that carries no Twilio code.
    assert isinstance(failure, TransientSendError)
    assert failure.code == "20003"
    assert any(
        r.levelno == logging.ERROR and "credentials" in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"messaging_service_sid": "MG-not-a-sid"}, id="malformed-service-sid"),
        pytest.param({"status_callback_base": "not a url"}, id="callback-not-a-uri"),
    ],
)
def test_a_request_the_mock_rejects_as_invalid_is_a_permanent_failure(
    prism_url: str, options: dict[str, str]
) -> None:
    failure = send_failure(RedirectingHttpClient(prism_url, timeout=10), **options)

    assert isinstance(failure, PermanentSendError)
    assert failure.code == "422"


# --- against the in-process contract client ------------------------------------------------------


def test_the_request_sent_validates_against_the_spec_with_every_field(
    contract_http: ContractHttpClient,
) -> None:
    gateway(contract_http).send(MESSAGE)

    sent = contract_http.last
    assert sent.method == "POST"
    assert sent.url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert sent.form == {
        "To": PHONE,
        "From": "TTHCCQNG",
        "Body": MESSAGE.text,
        "StatusCallback": f"{PUBLIC_URL}/twilio/sms/status?notice=4711",
    }
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert sent.headers["Authorization"] == f"Basic {credentials}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_the_contract_client_fails_a_request_without_to(contract_http: ContractHttpClient) -> None:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

    with pytest.raises(ContractViolation, match="'To' is a required property"):
        contract_http.request("POST", url, data={"From": "TTHCCQNG", "Body": "x"},
                              auth=(ACCOUNT_SID, AUTH_TOKEN))  # fmt: skip
    contract_http.violations.clear()


def test_the_contract_client_fails_a_request_without_basic_auth(
    contract_http: ContractHttpClient,
) -> None:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

    with pytest.raises(ContractViolation, match="Security"):
        contract_http.request("POST", url, data={"To": PHONE, "Body": "x"})
    contract_http.violations.clear()


def test_a_vietnamese_body_reaches_twilio_unchanged(contract_http: ContractHttpClient) -> None:
    text = "Hồ sơ 2026-000123 đã được tiếp nhận. Vui lòng đến nhận kết quả ngày 05/12."

    gateway(contract_http).send(OutgoingSms(4712, PHONE, text, "TTHCCQNG"))

    assert contract_http.last.form["Body"] == text


def test_a_messaging_service_replaces_the_from(contract_http: ContractHttpClient) -> None:
    accepted = gateway(contract_http, messaging_service_sid=SERVICE_SID).send(MESSAGE)

    assert contract_http.last.form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in contract_http.last.form
    assert accepted.provider_status == "accepted"


def test_without_a_sender_the_messages_own_sender_is_the_from(
    contract_http: ContractHttpClient,
) -> None:
    gateway(contract_http, sender=None).send(
        OutgoingSms(4713, PHONE, "Xin chao", sender="TTHCC-QNG")
    )

    assert contract_http.last.form["From"] == "TTHCC-QNG"


def test_without_a_callback_base_no_status_callback_is_sent(
    contract_http: ContractHttpClient,
) -> None:
    gateway(contract_http, status_callback_base=None).send(MESSAGE)

    assert "StatusCallback" not in contract_http.last.form


def test_a_trailing_slash_on_the_callback_base_is_not_doubled(
    contract_http: ContractHttpClient,
) -> None:
    gateway(contract_http, status_callback_base=PUBLIC_URL + "/").send(MESSAGE)

    assert contract_http.last.form["StatusCallback"] == (
        f"{PUBLIC_URL}/twilio/sms/status?notice=4711"
    )


def test_the_accepted_provider_id_is_the_sid_twilio_returned(
    contract_http: ContractHttpClient,
) -> None:
    first = gateway(contract_http).send(MESSAGE)
    second = gateway(contract_http).send(MESSAGE)

    assert first.provider_id.startswith("SM")
    assert first.provider_id != second.provider_id


PERMANENT = [
    (21211, "The 'To' number +84912345678 is not a valid phone number."),
    (21610, "Attempt to send to unsubscribed recipient"),
    (21612, "The 'To' phone number is not currently reachable using the 'From' phone number"),
    (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To'"),
    (21614, "'To' number is not a valid mobile number"),
    (21617, "The concatenated message body exceeds the 1600 character limit."),
    (30007, "Message filtered"),
    (21606, "The 'From' phone number provided is not a valid message-capable Twilio number."),
]


@pytest.mark.parametrize(("code", "text"), PERMANENT, ids=[str(code) for code, _ in PERMANENT])
def test_a_refusal_no_retry_can_fix_is_a_permanent_failure_with_its_code(
    contract_http: ContractHttpClient, code: int, text: str
) -> None:
    contract_http.respond_with(twilio_error(400, code, text))

    failure = send_failure(contract_http)

    assert isinstance(failure, PermanentSendError)
    assert failure.code == str(code)
    assert text.replace(PHONE, MASKED) in str(failure)


def test_an_unsubscribed_number_is_a_permanent_failure(contract_http: ContractHttpClient) -> None:
    contract_http.respond_with(
        twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
    )

    failure = send_failure(contract_http)

    assert failure.permanent
    assert failure.code == "21610"


def test_an_rfc9457_problem_body_is_classified_by_its_twilio_code(
    contract_http: ContractHttpClient,
) -> None:
    contract_http.respond_with(problem(400, 21211, "Invalid 'To' Phone Number", "Not a number"))

    failure = send_failure(contract_http)

    assert isinstance(failure, PermanentSendError)
    assert failure.code == "21211"
    assert "Invalid 'To' Phone Number" in str(failure)


TRANSIENT = [
    pytest.param(twilio_error(429, 20429, "Too Many Requests"), "20429", id="429"),
    pytest.param(twilio_error(400, 20429, "Too Many Requests"), "20429", id="20429-on-400"),
    pytest.param(http_status(429, "slow down"), "429", id="429-from-a-proxy"),
    pytest.param(
        http_status(502, '{"code": "BAD_GATEWAY"}', "application/json"), "502", id="502-proxy-json"
    ),  # fmt: skip
    pytest.param(http_status(500, "<html>Internal Server Error</html>"), "500", id="500"),
    pytest.param(twilio_error(503, 20503, "Service Unavailable"), "20503", id="503"),
    pytest.param(http_status(503), "503", id="503-empty"),
]


@pytest.mark.parametrize(("reply", "code"), TRANSIENT)
def test_a_rate_limit_or_an_outage_is_a_transient_failure_with_its_code(
    contract_http: ContractHttpClient, reply, code: str
) -> None:
    contract_http.respond_with(reply)

    failure = send_failure(contract_http)

    assert isinstance(failure, TransientSendError)
    assert failure.code == code


def test_bad_credentials_are_transient_with_code_20003_and_logged_as_an_error(
    contract_http: ContractHttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    contract_http.respond_with(twilio_error(401, 20003, "Authenticate"))
    caplog.set_level(logging.INFO, logger="sms.gateways.twilio")

    failure = send_failure(contract_http)

    assert isinstance(failure, TransientSendError)
    assert failure.code == "20003"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "auth token" in errors[0].getMessage()


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 21602), (404, 20404), (403, 20008)],
    ids=["400-body-required", "404-not-found", "403-test-credentials"],
)
def test_any_other_client_error_is_a_permanent_failure(
    contract_http: ContractHttpClient, status: int, code: int
) -> None:
    contract_http.respond_with(twilio_error(status, code, "refused"))

    failure = send_failure(contract_http)

    assert isinstance(failure, PermanentSendError)
    assert failure.code == str(code)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        pytest.param(requests.exceptions.ReadTimeout("read timed out"), "timeout", id="read"),
        pytest.param(
            requests.exceptions.ConnectTimeout("connect timed out"), "timeout", id="connect"
        ),  # fmt: skip
        pytest.param(
            requests.exceptions.ConnectionError("connection reset"), "connection", id="connection"
        ),  # fmt: skip
    ],
)
def test_a_timeout_or_a_network_error_is_a_transient_failure(
    contract_http: ContractHttpClient, error: Exception, code: str
) -> None:
    contract_http.respond_with(error)

    failure = send_failure(contract_http)

    assert isinstance(failure, TransientSendError)
    assert failure.code == code


def test_a_twilio_exception_wrapping_a_network_error_is_a_transient_failure(
    contract_http: ContractHttpClient,
) -> None:
    try:
        raise requests.exceptions.ConnectionError("name resolution failed")
    except requests.exceptions.ConnectionError as cause:
        wrapped = TwilioException("request failed")
        wrapped.__cause__ = cause
    contract_http.respond_with(wrapped)

    failure = send_failure(contract_http)

    assert isinstance(failure, TransientSendError)
    assert failure.code == "connection"


def test_the_logs_show_the_phone_only_masked(
    contract_http: ContractHttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sms.gateways.twilio")
    gateway(contract_http).send(MESSAGE)
    contract_http.respond_with(twilio_error(400, 21211, f"The 'To' number {PHONE} is not valid."))
    failure = send_failure(contract_http)

    logged = [r.getMessage() for r in caplog.records if r.name == "sms.gateways.twilio"]
    assert len(logged) == 2
    assert all(MASKED in line for line in logged)
    assert not any(PHONE in line for line in logged)
    assert PHONE not in str(failure)


def test_twilio_edge_and_region_variables_do_not_send_the_gateway_elsewhere(
    contract_http: ContractHttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    monkeypatch.setenv("TWILIO_REGION", "au1")

    gateway(contract_http).send(MESSAGE)

    assert contract_http.last.url.startswith("https://api.twilio.com/")


def test_a_given_client_without_a_timeout_gets_the_gateways(
    contract_http: ContractHttpClient,
) -> None:
    gateway(contract_http, timeout=4.5)

    assert contract_http.timeout == 4.5


def test_the_redirecting_client_rewrites_only_the_twilio_api_host() -> None:
    client = RedirectingHttpClient("http://127.0.0.1:4010/")

    assert client.target("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json") == (
        "http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json"
    )
    assert client.target("https://api.twilio.com.example.net/x") == (
        "https://api.twilio.com.example.net/x"
    )
    assert client.target("https://messaging.twilio.com/v1/Services") == (
        "https://messaging.twilio.com/v1/Services"
    )
