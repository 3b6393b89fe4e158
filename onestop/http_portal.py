"""The portal's integration adapter over HTTP (docs/onestop.md, "Transport").

Every call is a POST of a JSON body to `<TONGDAI_ONESTOP_URL><path>` with the `dstcode` header;
the session token travels in the body. The token is reused for `SESSION_REUSE` (the public
client keeps it 10 minutes), and a call the portal refuses for an expired session logs in once
more and is repeated once. One `requests.Session` keeps the connection open between calls.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

from onestop.portal import (
    AlreadyExists,
    PortalInDoubt,
    PortalRefused,
    PortalUnavailable,
    Record,
    succeeded,
)
from plumbing.settings import Settings

log = logging.getLogger(__name__)
SESSION_REUSE = 600.0  # seconds; the portal's own session lifetime is not published
# How the portal words "your session is no longer valid": it publishes no code for it, so the
# message is read (docs/onestop.md, "What the double assumes").
EXPIRED_SESSION = re.compile(r"phiên|session|token|đăng nhập lại", re.IGNORECASE)
EXISTS = re.compile(r"đã tồn tại", re.IGNORECASE)


class HttpPortal:
    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        dstcode: str,
        madonvi: str,
        auth_path: str,
        integration_path: str,
        share_path: str,
        timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.madonvi = madonvi
        self.paths = {"auth": auth_path, "integration": integration_path, "share": share_path}
        self.timeout = timeout
        self._monotonic = monotonic
        self._http = requests.Session()
        self._http.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json", "dstcode": dstcode}
        )
        self._token: str | None = None
        self._token_at = 0.0
        self._lock = threading.Lock()
        self.logins = 0  # for tests and the bench: how often a session was opened

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpPortal:
        missing = [
            name
            for name, value in (
                ("TONGDAI_ONESTOP_URL", settings.onestop_url),
                ("TONGDAI_ONESTOP_USER", settings.onestop_user),
                ("TONGDAI_ONESTOP_PASSWORD", settings.onestop_password),
                ("TONGDAI_ONESTOP_DSTCODE", settings.onestop_dstcode),
            )
            if not value
        ]
        if missing:
            raise PortalUnavailable(f"{', '.join(missing)} not set")
        onestop = settings.onestop
        return cls(
            settings.onestop_url or "",
            username=settings.onestop_user or "",
            password=settings.onestop_password or "",
            dstcode=settings.onestop_dstcode or "",
            madonvi=onestop.madonvi,
            auth_path=onestop.auth_path,
            integration_path=onestop.integration_path,
            share_path=onestop.share_path,
            timeout=onestop.timeout_seconds,
        )

    def close(self) -> None:
        self._http.close()

    # The four services.

    def lookup(self, code: str) -> Record | None:
        reply = self._service("integration", "TraCuuHoSo", mahoso=code)
        result = reply.get("result") or []
        return result[0] if result else None

    def sync_dossiers(self, records: Sequence[Record], *, updating: bool) -> None:
        self._service(
            "integration",
            "DongBoHoSoMC",
            isUpdating="True" if updating else "False",
            data=list(records),
        )

    def send_progress(self, records: Sequence[Record]) -> None:
        self._service("integration", "CapNhatTienDoHoSoMC", data=list(records))

    def procedure(self, national_code: str) -> Record | None:
        reply = self._service("integration", "LayThuTuc", maTTHC=national_code)
        result = reply.get("result") or []
        return result[0] if result else None

    def procedures(self) -> list[Record]:
        """LayDanhSachTTHC on the share endpoint (`tongdai onestop check`)."""
        return list(self._service("share", "LayDanhSachTTHC").get("result") or [])

    # The envelope, the session and the transport.

    def _service(self, endpoint: str, service: str, **keys: Any) -> Record:
        fresh = self._token is None or self._monotonic() - self._token_at > SESSION_REUSE
        token = self._session(renew=fresh)
        reply = self._post(endpoint, self._envelope(token, service, keys))
        if not succeeded(reply) and EXPIRED_SESSION.search(str(reply.get("message", ""))):
            if not fresh:
                log.info("onestop: the portal refused the session; logging in again")
                token = self._session(renew=True, stale=token)
                reply = self._post(endpoint, self._envelope(token, service, keys))
        if not succeeded(reply):
            message = str(reply.get("message") or f"error_code {reply.get('error_code')!r}")
            if EXISTS.search(message):
                raise AlreadyExists(message, reply.get("error_code"))
            raise PortalRefused(message, reply.get("error_code"))
        return reply

    def _envelope(self, token: str, service: str, keys: dict[str, Any]) -> Record:
        return {"session": token, "madonvi": self.madonvi, "service": service, **keys}

    def _session(self, *, renew: bool, stale: str | None = None) -> str:
        with self._lock:
            # Another thread may have logged in meanwhile: use its token.
            if self._token and not renew:
                return self._token
            if stale is not None and self._token and self._token != stale:
                return self._token
            reply = self._post("auth", {"username": self.username, "password": self.password})
            token = reply.get("session")
            if not succeeded(reply) or not token:
                raise PortalRefused(
                    f"đăng nhập Cổng DVCQG không thành công: {reply.get('message', '')}".strip(),
                    reply.get("error_code"),
                )
            self._token, self._token_at = str(token), self._monotonic()
            self.logins += 1
            return self._token

    def _post(self, endpoint: str, body: Record) -> Record:
        url = self.base_url + self.paths[endpoint]
        try:
            response = self._http.post(url, json=body, timeout=self.timeout)
        except requests.ConnectTimeout as exc:
            raise PortalUnavailable(f"no connection to the portal: {exc}") from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise PortalUnavailable(f"no connection to the portal: {exc}") from exc
            raise PortalInDoubt(f"the connection broke before the answer: {exc}") from exc
        except requests.Timeout as exc:
            raise PortalInDoubt(f"no answer within {self.timeout} s") from exc
        except requests.RequestException as exc:
            raise PortalInDoubt(f"the call failed: {exc}") from exc
        if response.status_code >= 400:
            raise PortalUnavailable(f"HTTP {response.status_code} from the portal")
        try:
            reply = response.json()
        except ValueError as exc:
            raise PortalUnavailable("the portal answered something that is not JSON") from exc
        if not isinstance(reply, dict):
            raise PortalUnavailable("the portal answered JSON that is not an object")
        return reply


def _never_connected(error: requests.ConnectionError) -> bool:
    """A refused or unreachable connection: the request cannot have reached the portal."""
    text = repr(error)
    return "NewConnectionError" in text or "Failed to establish" in text
