"""The in-memory twin of the portal for unit tests: the real client's outcomes without HTTP.

Each call goes through a JSON round trip and the same PortalBook as the HTTP double, so a value
that is not a string, or a session the portal forgot, fails here as it would there. Faults are
queued by the test: `fail_next(PortalInDoubt(...), act=True)` makes the next call raise after
the portal acted (a reply lost on the way back).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from onestop.portal import (
    AlreadyExists,
    PortalError,
    PortalRefused,
    Record,
    succeeded,
)
from tests.onestop.portal_book import EXPIRED, PortalBook

HEADERS = {"dstcode": "DVCQG-TEST"}


class FakePortal:
    def __init__(self, book: PortalBook | None = None) -> None:
        self.book = book or PortalBook()
        self._token: str | None = None
        self._faults: list[tuple[PortalError, bool, str]] = []
        self.requests: list[dict[str, Any]] = []

    def fail_next(
        self, error: PortalError, *, act: bool = False, service: str = "DongBoHoSoMC"
    ) -> None:
        """The next call of `service` raises `error`; with act=True the portal did the work
        first (the answer was lost on the way back)."""
        self._faults.append((error, act, service))

    def clear_faults(self) -> None:
        self._faults.clear()

    def _fault_for(self, service: str) -> tuple[PortalError, bool, str] | None:
        for index, fault in enumerate(self._faults):
            if fault[2] == service:
                return self._faults.pop(index)
        return None

    def lookup(self, code: str) -> Record | None:
        result = self._call("TraCuuHoSo", mahoso=code)["result"]
        return result[0] if result else None

    def sync_dossiers(self, records: Sequence[Record], *, updating: bool) -> None:
        self._call("DongBoHoSoMC", isUpdating="True" if updating else "False", data=list(records))

    def send_progress(self, records: Sequence[Record]) -> None:
        self._call("CapNhatTienDoHoSoMC", data=list(records))

    def procedure(self, national_code: str) -> Record | None:
        result = self._call("LayThuTuc", maTTHC=national_code)["result"]
        return result[0] if result else None

    def _call(self, service: str, **keys: Any) -> dict[str, Any]:
        fault = self._fault_for(service)
        if fault is not None and not fault[1]:
            raise fault[0]
        reply = self._send(service, keys)
        if reply.get("message") == EXPIRED:
            self._token = None
            reply = self._send(service, keys)
        if fault is not None:
            raise fault[0]
        if not succeeded(reply):
            if "đã tồn tại" in reply["message"]:
                raise AlreadyExists(reply["message"], reply["error_code"])
            raise PortalRefused(reply["message"], reply["error_code"])
        return reply

    def _send(self, service: str, keys: dict[str, Any]) -> dict[str, Any]:
        if self._token is None:
            login = self.book.auth(HEADERS, {"username": "tongdai", "password": "mat-khau"})
            self._token = login["session"]
        body = json.loads(
            json.dumps({"session": self._token, "madonvi": "000.00.53.H48", "service": service,
                        **keys})
        )  # fmt: skip
        self.requests.append(body)
        return self.book.integration(HEADERS, body)
