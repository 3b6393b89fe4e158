"""Checking a webhook's parameters before anything touches the database.

Each webhook declares the parameters it reads: their type, their maximum length (at most the
length of the column the value lands in, taken from the model so the two cannot disagree), the
characters allowed and the numeric range. `checked_webhook(...)` refuses a request that breaks
any of them with a 400, a short plain message and one log line naming the parameter and what is
wrong with it (never its value: callers' numbers and messages are personal data). A parameter
nobody declared is never read, so it cannot hurt.

Parameters come from the form body, or from the query string when `in_query` is set (the
action URLs we build carry some). The checked, typed values are in `webhook_values()`.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, g, request
from sqlalchemy import Column

from plumbing.db import INTEGER_MAX

log = logging.getLogger(__name__)

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators. A NUL cannot
# be stored in PostgreSQL text at all; the others have no business in an id, a number or a URL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Free text (an SMS body) may carry line breaks and tabs, nothing else of the above.
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
DB_INT_MAX = INTEGER_MAX


def column_length(column: Column[Any]) -> int:
    """The `String(n)` length of a model column (e.g. `IvrCall.__table__.c.caller_raw`)."""
    length = getattr(column.type, "length", None)
    if not length:
        raise ValueError(f"column {column} has no length")
    return length


class WebhookRefused(Exception):
    """One parameter is unacceptable; the message names it and says why."""


@dataclass(frozen=True)
class Text:
    """A string parameter. `pattern` (full match, ASCII) narrows the characters and shape."""

    name: str
    max_length: int
    pattern: str | None = None
    required: bool = False
    multiline: bool = False
    in_query: bool = False

    def parse(self, raw: str) -> str:
        if len(raw) > self.max_length:
            raise WebhookRefused(f"{self.name}: longer than {self.max_length} characters")
        control = _CONTROL_IN_TEXT if self.multiline else _CONTROL
        if control.search(raw):
            raise WebhookRefused(f"{self.name}: control character")
        if self.pattern and raw and not re.fullmatch(self.pattern, raw, re.ASCII):
            raise WebhookRefused(f"{self.name}: not in the expected form")
        return raw


@dataclass(frozen=True)
class Number:
    """A number written in ASCII digits (an optional sign and, if `integer` is false, a decimal
    part), between `minimum` and `maximum`. `nan`, `inf`, exponents and `1_000` are refused."""

    name: str
    minimum: float
    maximum: float
    integer: bool = True
    required: bool = False
    in_query: bool = False

    def parse(self, raw: str) -> int | float:
        shape = r"[+-]?[0-9]{1,12}" if self.integer else r"[+-]?[0-9]{1,12}(\.[0-9]{1,6})?"
        if not re.fullmatch(shape, raw):
            raise WebhookRefused(f"{self.name}: not a number")
        value = int(raw) if self.integer else float(raw)
        if not math.isfinite(value) or not self.minimum <= value <= self.maximum:
            raise WebhookRefused(f"{self.name}: out of range")
        return value


Field = Text | Number


def check_values(
    fields: tuple[Field, ...], form: Mapping[str, str], query: Mapping[str, str]
) -> dict[str, Any]:
    """The typed value of every declared field that is present (absent ones are None)."""
    values: dict[str, Any] = {}
    for field in fields:
        source = query if field.in_query else form
        raw = source.get(field.name)
        if raw is None or raw == "":
            if field.required:
                raise WebhookRefused(f"{field.name}: missing")
            values[field.name] = None
            continue
        values[field.name] = field.parse(raw)
    return values


def checked_webhook(*fields: Field) -> Callable:
    """Decorate a webhook view (inside the signature check) so it runs only on a request
    whose declared parameters are all acceptable; else 400 with the reason."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, **kwargs):
            try:
                g.webhook_values = check_values(fields, request.form, request.args)
            except WebhookRefused as refused:
                log.warning("webhook %s refused: %s", request.path, refused)
                return Response(f"Bad request: {refused}\n", status=400, mimetype="text/plain")
            return view(*args, **kwargs)

        return checked

    return decorate


def webhook_values() -> dict[str, Any]:
    """The checked values of this request's declared parameters."""
    return g.webhook_values
