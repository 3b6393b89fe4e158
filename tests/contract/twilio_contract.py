"""An in-process Twilio for the error paths Prism cannot produce.

`ContractHttpClient` stands where the `twilio` package's HTTP client stands. Every request is
checked against Twilio's own OpenAPI description (tests/contract/twilio) before it is answered:
a request Twilio would reject as malformed raises `ContractViolation`, which the gateway does not
catch, so the test fails. It then answers with a scripted reply (a created Message, a Twilio error
body, a bare HTTP status, or an exception such as a timeout), or forwards to a mock such as Prism.
Replies the spec documents (the 201 Message) are validated against it too.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockResponse
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from plumbing.twilio_client import TWILIO_API

SPEC_PATH = Path(__file__).resolve().parent / "twilio" / "twilio_api_v2010.json"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


class RedirectingHttpClient(TwilioHttpClient):
    """Sends every call meant for api.twilio.com to `base_url` (a contract mock such as Prism).
    Twilio's `edge`/`region` settings cannot reach localhost."""

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


class ContractViolation(AssertionError):
    """The gateway sent, or a script answered, something Twilio's spec does not allow."""


@functools.cache
def twilio_spec() -> dict[str, Any]:
    # json.load, not OpenAPI.from_file_path: the latter trips on the spec's escapes.
    with SPEC_PATH.open(encoding="utf-8") as file:
        return json.load(file)


@functools.cache
def twilio_openapi() -> OpenAPI:
    """Parsed once per process (1.8 MB, about a second)."""
    return OpenAPI.from_dict(twilio_spec())


def example_message() -> dict[str, Any]:
    """The spec's own example answer to creating a Message."""
    responses = twilio_spec()["paths"][MESSAGES_PATH]["post"]["responses"]
    example = responses["201"]["content"]["application/json"]["examples"]["create"]["value"]
    return copy.deepcopy(example)


@dataclass(frozen=True)
class SentRequest:
    """One request as it would go on the wire."""

    method: str
    url: str
    form: dict[str, str]
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass(frozen=True)
class Reply:
    status: int
    body: str = ""
    content_type: str = "application/json"


Script = Callable[[SentRequest], Reply] | Reply | BaseException


def created(request: SentRequest) -> Reply:
    """201 with a Message shaped like the spec's example, carrying what was sent."""
    account_sid = request.path.split("/")[3]
    sid = "SM" + uuid.uuid4().hex
    message = example_message()
    message.update(
        account_sid=account_sid,
        sid=sid,
        to=request.form["To"],
        body=request.form.get("Body"),
        status="accepted" if "MessagingServiceSid" in request.form else "queued",
        messaging_service_sid=request.form.get("MessagingServiceSid"),
        uri=f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        subresource_uris={"media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
    )
    message["from"] = request.form.get("From")
    return Reply(201, json.dumps(message))


def twilio_error(status: int, code: int, message: str) -> Reply:
    """Twilio's classic error body, as the 2010-04-01 API sends it."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Reply(status, json.dumps(body))


def problem(status: int, code: int, title: str, detail: str) -> Reply:
    """An RFC 9457 problem body, which newer Twilio services send (and twilio 9 parses apart)."""
    body = {
        "type": f"https://www.twilio.com/docs/errors/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    return Reply(status, json.dumps(body), "application/problem+json")


def http_status(status: int, body: str = "", content_type: str = "text/html") -> Reply:
    """A bare status, as a load balancer in front of Twilio answers."""
    return Reply(status, body, content_type)


class ContractHttpClient(HttpClient):
    """Validates each request against the spec, records it in `sent`, answers from `script`."""

    def __init__(self, script: Script = created, *, forward_to: str | None = None) -> None:
        super().__init__(logging.getLogger(__name__), is_async=False, timeout=None)
        self.script = script
        self.sent: list[SentRequest] = []
        self.violations: list[str] = []
        self._forward = RedirectingHttpClient(forward_to) if forward_to else None

    def respond_with(self, script: Script) -> None:
        self.script = script

    @property
    def last(self) -> SentRequest:
        assert self.sent, "the gateway sent no request"
        return self.sent[-1]

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
        prepared = requests.Request(
            method.upper(), url, params=params, data=data, headers=headers, auth=auth
        ).prepare()
        body = prepared.body or ""
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        sent = SentRequest(
            method=prepared.method or "",
            url=prepared.url or "",
            form=dict(parse_qsl(body, keep_blank_values=True)),
            headers=dict(prepared.headers),
        )
        self.sent.append(sent)
        openapi_request = RequestsOpenAPIRequest(prepared)
        try:
            twilio_openapi().validate_request(openapi_request)
        except Exception as error:
            self._violation(f"request {sent.method} {sent.path} breaks the spec: {error}")

        if self._forward is not None:
            response = self._forward.request(
                method, url, params=params, data=data, headers=headers, auth=auth, timeout=timeout
            )
            content_type = response.headers.get("Content-Type", "application/json")
            reply = Reply(response.status_code, response.text, content_type.split(";")[0])
        elif isinstance(self.script, BaseException):
            raise self.script
        elif isinstance(self.script, Reply):
            reply = self.script
        else:
            reply = self.script(sent)
        self._check_reply(openapi_request, reply)
        return Response(reply.status, reply.body, {"Content-Type": reply.content_type})

    def _check_reply(self, openapi_request: RequestsOpenAPIRequest, reply: Reply) -> None:
        response = MockResponse(
            reply.body.encode("utf-8"), status_code=reply.status, content_type=reply.content_type
        )
        try:
            twilio_openapi().validate_response(openapi_request, response)
        except ResponseNotFound:
            pass  # the spec documents only the 201 of this operation, no error bodies
        except Exception as error:
            self._violation(f"reply {reply.status} breaks the spec: {error}")

    def _violation(self, text: str) -> None:
        self.violations.append(text)
        raise ContractViolation(text)
