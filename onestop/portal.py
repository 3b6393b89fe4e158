"""The national portal as the sync sees it: four services behind a small interface.

`HttpPortal` (onestop/http_portal.py) talks to the real integration adapter; tests use an
in-memory twin and, across processes, an HTTP double (tests/onestop/). The outcomes a caller
must tell apart are typed, because each is handled differently (onestop/sync.py):

- `PortalUnavailable`: the portal did not take the request (no connection, HTTP >= 400, a body
  that is not JSON): retry later with backoff;
- `PortalInDoubt`: the request went out and no answer came (time-out, connection cut): the
  portal may have acted, so a look-up settles it before anything is sent again;
- `PortalRefused`: the portal answered with an error code: the content is refused, the message
  is shown to staff; `AlreadyExists` is the "đã tồn tại" answer to a create.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Record = dict[str, Any]


class PortalError(Exception):
    """Any failure of a portal call; str() is one line for logs and staff."""


class PortalUnavailable(PortalError):
    """Nothing was done at the portal: try again later."""


class PortalInDoubt(PortalError):
    """The request went out and no answer came back: the portal may or may not have acted."""


class PortalRefused(PortalError):
    """The portal answered with an error code; `message` is its own words."""

    def __init__(self, message: str, code: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class AlreadyExists(PortalRefused):
    """A create of a MaHoSo the portal already holds ("đã tồn tại")."""


class Portal(Protocol):
    def lookup(self, code: str) -> Record | None:
        """TraCuuHoSo: the portal's record of `code`, or None when it has none."""
        ...

    def sync_dossiers(self, records: Sequence[Record], *, updating: bool) -> None:
        """DongBoHoSoMC with isUpdating "True" (update) or "False" (create)."""
        ...

    def send_progress(self, records: Sequence[Record]) -> None:
        """CapNhatTienDoHoSoMC."""
        ...

    def procedure(self, national_code: str) -> Record | None:
        """LayThuTuc: the catalogue entry (`result[0]`), or None when the portal has none."""
        ...


SUCCESS_CODES = (0, "0", "00")


def succeeded(reply: Record) -> bool:
    """The portal's success: `error_code` 0, which its versions spell 0, "0" or "00"."""
    return reply.get("error_code") in SUCCESS_CODES
