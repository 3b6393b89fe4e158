"""How much of a request the web app is willing to read, decided before anything reads it.

Three limits from `[web]` in config.toml, checked in this order:
- the body size: `twilio_max_body_kib` under /twilio/ (Twilio's own requests are a few KiB, and a
  signature can only be checked after the whole form is parsed), `max_body_kib` everywhere
  else. A declared Content-Length over the limit is refused at once; a body without one
  (chunked) is cut off while it is read. The web server (waitress) stops reading 64 KiB past
  `max_body_kib`, so nothing larger is ever buffered.
- the number of form fields (`max_form_fields`), for url-encoded bodies too: werkzeug applies its
  own part limit to multipart bodies only.
- the number of query parameters (the same limit).
- under /admin, the length of each form field and query parameter (`max_text_chars`): no staff
  page reads a longer text, so none is handed to a view.
A refused request gets 413 (414 for the query): a short plain answer under /twilio/, a page in
Vietnamese for staff.
"""

from __future__ import annotations

import io
import logging

from flask import Flask, Request, Response, abort, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from plumbing.settings import WebSettings

log = logging.getLogger(__name__)
TWILIO_PREFIX = "/twilio/"


class _CountingFormParser(FormDataParser):
    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        # The stream is already limited to the body limit, so reading it whole is bounded.
        data = stream.read()
        if self.max_form_parts is not None and data.count(b"&") >= self.max_form_parts:
            raise RequestEntityTooLarge(f"more than {self.max_form_parts} form fields")
        return super()._parse_urlencoded(io.BytesIO(data), mimetype, content_length, options)


class LimitedRequest(Request):
    form_data_parser_class = _CountingFormParser


class TextTooLong(RequestEntityTooLarge):
    """A staff form field or query parameter longer than `max_text_chars`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a text longer than {limit} characters")
        self.staff_message = f"Mỗi ô nhập tối đa {limit:,} ký tự.".replace(",", ".")


def body_limit(limits: WebSettings, path: str) -> int:
    """The largest body, in bytes, a request to `path` may carry."""
    if path.startswith(TWILIO_PREFIX):
        return limits.twilio_max_body_bytes
    return limits.max_body_bytes


SERVER_MARGIN_BYTES = 64 * 1024


def server_body_limit(limits: WebSettings) -> int:
    """What the web server itself buffers at most: a little room for the app to answer just
    over its limit with its own page, and nothing near the gigabyte waitress allows by default.
    (A declared Content-Length over this is refused before any of the body is read.)"""
    return limits.max_body_bytes + SERVER_MARGIN_BYTES


def _longest_text(asked: Request) -> int:
    values = [value for _, values in asked.args.lists() for value in values]
    values += [value for _, values in asked.form.lists() for value in values]
    return max((len(value) for value in values), default=0)


def install(app: Flask, limits: WebSettings) -> None:
    """Apply the limits to every request of `app`; call before any other before_request."""
    app.request_class = LimitedRequest
    app.config.update(
        MAX_CONTENT_LENGTH=limits.max_body_bytes,
        MAX_FORM_PARTS=limits.max_form_fields,
        MAX_FORM_MEMORY_SIZE=limits.max_body_bytes,
    )

    @app.before_request
    def _refuse_oversized() -> None:
        limit = body_limit(limits, request.path)
        request.max_content_length = limit  # also cuts a body without Content-Length
        declared = request.content_length
        if declared is not None and declared > limit:
            log.warning("web: %d-byte body to %s refused", declared, request.path)
            abort(413)
        if request.query_string.count(b"&") >= limits.max_form_fields:
            log.warning("web: too many query parameters to %s refused", request.path)
            abort(414)
        if request.path.startswith("/admin") and _longest_text(request) > limits.max_text_chars:
            log.warning("web: over-long text to %s refused", request.path)
            raise TextTooLong(limits.max_text_chars)

    @app.errorhandler(413)
    @app.errorhandler(414)
    def _too_large(error: HTTPException):
        if request.path.startswith("/admin"):
            detail = getattr(error, "staff_message", "Hãy rút gọn nội dung rồi gửi lại.")
            return render_template(
                "admin/error.html",
                code=error.code,
                title="Nội dung gửi lên quá lớn",
                message="Biểu mẫu gửi lên vượt quá giới hạn cho phép nên không được xử lý. "
                + detail,
            ), error.code
        return Response(f"{error.name}\n", error.code, mimetype="text/plain")
