"""Hostile input for the webhooks and the staff pages: the values and Hypothesis strategies.

SQLite ignores column lengths and accepts NUL characters, so the tests that use these run on
PostgreSQL only (`on_postgresql`), where such values would otherwise end in a 500.
"""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.urls import uri_to_iri

TOKEN = "test-auth-token"
on_postgresql = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

CALL_SID = "CA" + "0" * 31 + "1"
RECORDING_SID = "RE" + "0" * 31 + "1"
HUGE = "1" + "0" * 30  # 10^30
NON_ASCII_DIGITS = [
    "²³⁴⁵⁶",  # superscripts: isdigit() says yes, int() says no
    "１２３４５",  # full-width
    "١٢٣٤٥",  # Arabic-Indic
    "٠٧٩١٢٣٤٥٦٧٨٩",  # Arabic-Indic, 12 of them (a citizen id's length)
    "𝟗𝟎𝟔𝟏𝟕",  # mathematical bold
]


def post_signed(client, path: str, form: dict[str, str], *, base: str = "http://localhost"):
    """POST `form` to `path` as Twilio would, with a valid X-Twilio-Signature.

    The app checks the signature against `request.url`, which werkzeug gives as an IRI
    (`%C2%B2` in the query reads `²`); sign that, or hostile query strings would only test
    the signature check."""
    signature = RequestValidator(TOKEN).compute_signature(uri_to_iri(base + path), form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def app_with_twilio_token(runtime, tmp_path):
    """The app with a Twilio auth token, so signed requests get past the signature check."""
    from tongdai.app import create_app

    runtime.settings = runtime.settings.model_copy(
        update={"twilio_auth_token": TOKEN, "data_dir": tmp_path}
    )
    return create_app(runtime)


# ---- Hypothesis strategies ------------------------------------------------------------------

control = st.sampled_from(["\x00", "\r\n", "\x1b", "\x7f", "\t", "\u2028"])
digits_any = st.sampled_from(NON_ASCII_DIGITS + ["0123456789", "9" * 25, HUGE, "-1", "0"])
huge_number = st.sampled_from(
    [HUGE, "1e308", "1e309", "-1e30", "nan", "inf", "-inf", "NaN", "0x10", "1_000", "", "abc"]
)
bad_date = st.sampled_from(
    ["2026-13-45", "01/01/0001", "31/12/9999", "0001-01-01", "9999-12-31", "32/01/2026",
     "29/02/2025", "00/00/0000", "1/1/1", "2026-02-30", "٠١/٠١/٢٠٢٦", "01/01/20260"]
)  # fmt: skip
long_text = st.sampled_from([17, 21, 33, 65, 201, 256, 301, 501, 1001, 1601, 2100]).map(
    lambda n: "x" * n
)  # just over the column lengths in use, and far over
words = st.text(max_size=12)


def hostile_text(*extra: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any of the hostile classes: over-long, NUL and control, non-ASCII digits, huge numbers,
    bad dates, plus random text and whatever the caller adds."""
    mixed = st.tuples(words, control).map("".join)
    return st.one_of(long_text, mixed, digits_any, huge_number, bad_date, words, *extra)


def requests_with_one_hostile_value(
    required: dict[str, st.SearchStrategy[str]],
    optional: dict[str, st.SearchStrategy[str]],
    query: dict[str, st.SearchStrategy[str]],
) -> st.SearchStrategy[tuple[dict[str, str], dict[str, str]]]:
    """(form, query): values the code expects, and in three cases out of four one of them
    (or one more) replaced by a hostile value, so most requests get past the first check.

    The strategies are built once here, not in every draw: Hypothesis works out each new
    strategy's properties when first drawn from, which took a third of the property tests' time."""
    forms = st.fixed_dictionaries(required, optional=optional)
    queries = st.fixed_dictionaries({}, optional=query)
    names = st.sampled_from(sorted({*required, *optional, *query}))
    hostile = hostile_text()

    @st.composite
    def requests(draw) -> tuple[dict[str, str], dict[str, str]]:
        form = draw(forms)
        args = draw(queries)
        if draw(st.integers(0, 3)):
            name = draw(names)
            (args if name in query else form)[name] = draw(hostile)
        return form, args

    return requests()


def signed_request(path: str, query: dict[str, str]) -> str:
    """`path?query` percent-encoded exactly as it is sent, so the signature covers it."""
    from urllib.parse import quote, urlencode

    return f"{path}?{urlencode(query, quote_via=quote)}" if query else path
