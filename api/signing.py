"""The request signature: `X-Tongdai-Signature: v1=<hex HMAC-SHA256>` with the client's secret
over `<timestamp>.<METHOD>.<path with query>.<body>`.

The path is the request target exactly as sent (`/api/v1/dossiers?changed_since=...`), so
neither side has to agree on how to re-encode it; the body is the raw bytes (empty for a GET).
Both sides of the check are here: the API verifies with it, and the tests, the benchmark and
the README's example sign with the same function.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlsplit

CLIENT_HEADER = "X-Tongdai-Client"
TIMESTAMP_HEADER = "X-Tongdai-Timestamp"
SIGNATURE_HEADER = "X-Tongdai-Signature"
VERSION = "v1"


def signature(secret: str, timestamp: str, method: str, target: str, body: bytes) -> str:
    """`v1=<hex>` for one request."""
    message = f"{timestamp}.{method.upper()}.{target}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def signed_headers(
    client_id: str,
    secret: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The three headers a client sends with a request to `target` (path and query)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        CLIENT_HEADER: client_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, method, target, body),
    }


def matches(secret: str, timestamp: str, method: str, target: str, body: bytes, sent: str) -> bool:
    """Whether `sent` is the signature of this request (compared in constant time)."""
    expected = signature(secret, timestamp, method, target, body)
    return hmac.compare_digest(expected.encode(), sent.strip().encode("utf-8", "replace"))


def request_target(environ: dict) -> str:
    """The path and query as the client sent them. Waitress gives REQUEST_URI, gunicorn and
    werkzeug RAW_URI; without either, the path is re-encoded from PATH_INFO."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if not raw.startswith("/"):  # absolute-form (a proxy's): keep the path and query
            parts = urlsplit(raw)
            raw = parts.path + (f"?{parts.query}" if parts.query else "")
        return raw
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    path = quote(path.encode("latin-1").decode("utf-8", "replace"), safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING", "")
    return path + (f"?{query}" if query else "")
