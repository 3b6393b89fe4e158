"""API clients: created by an admin (CLI or staff page), each with its own secret, revocable.

The secret is shown once, when the client is created. It signs requests with HMAC-SHA256, and
checking an HMAC needs the secret itself, so it cannot be kept as a hash: it is encrypted with
Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`) under the key(s) in
TONGDAI_API_SECRETS_KEY. A database copy without that key holds no usable secret.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from api.models import ApiClient, ApiScope
from intake.audit import record
from intake.errors import InvalidInput

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
WINDOW = dt.timedelta(minutes=1)


class SecretBox:
    """Encrypts and decrypts client secrets; the first key encrypts, every key decrypts (so a
    key can be rotated: put the new one first, re-save, drop the old one)."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise ValueError("TONGDAI_API_SECRETS_KEY is empty")
        self._fernet = MultiFernet([Fernet(part) for part in parts])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The secret, or None when no key we hold opens it (a key was changed or lost)."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            return None


@dataclass(frozen=True)
class NewClient:
    """What the admin is shown once: the id and the secret to give the processing system."""

    client: ApiClient
    secret: str


def add_client(
    session: Session,
    box: SecretBox,
    name: str,
    scope: ApiScope,
    *,
    created_by: str,
    now: dt.datetime,
    rate_per_minute: int | None = None,
) -> NewClient:
    name = name.strip()
    if not NAME.fullmatch(name):
        raise InvalidInput(
            "Tên hệ thống gồm chữ cái không dấu, chữ số, dấu chấm, gạch ngang hoặc gạch dưới"
            " (tối đa 80 ký tự)."
        )
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise InvalidInput(f"Đã có hệ thống tên «{name}».")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise InvalidInput("Giới hạn số yêu cầu mỗi phút phải lớn hơn 0.")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        public_id=f"tdc_{secrets.token_hex(8)}",
        name=name,
        scope=scope,
        secret_encrypted=box.seal(secret),
        rate_per_minute=rate_per_minute,
        created_at=now,
        created_by=created_by,
    )
    session.add(client)
    session.flush()
    record(
        session,
        actor=created_by,
        action="api_client.added",
        now=now,
        target_type="api_client",
        target_id=client.public_id,
        details={"name": name, "scope": scope.value, "rate_per_minute": rate_per_minute},
    )
    return NewClient(client, secret)


def revoke_client(session: Session, client_id: int, *, revoked_by: str, now: dt.datetime) -> bool:
    """Revoke a client at once (its next request gets 401); False if it already was."""
    client = session.get(ApiClient, client_id, with_for_update=True)
    if client is None or client.revoked_at is not None:
        return False
    client.revoked_at = now
    client.revoked_by = revoked_by
    record(
        session,
        actor=revoked_by,
        action="api_client.revoked",
        now=now,
        target_type="api_client",
        target_id=client.public_id,
        details={"name": client.name},
    )
    return True


def all_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.revoked_at.is_not(None),
                                                           ApiClient.name)))  # fmt: skip


def active_client(session: Session, public_id: str) -> ApiClient | None:
    """The client that names itself `public_id`, unless revoked."""
    return session.scalar(
        select(ApiClient).where(ApiClient.public_id == public_id, ApiClient.revoked_at.is_(None))
    )


def count_request(session: Session, client_id: int, now: dt.datetime) -> int:
    """Count one request in the client's current one-minute window and return the count so
    far. One UPDATE: parallel requests in any number of web processes each get their own
    number, so no window lets more through than the limit."""
    window = now.replace(second=0, microsecond=0)
    fresh = (ApiClient.window_started_at.is_(None)) | (ApiClient.window_started_at != window)
    return session.execute(
        update(ApiClient)
        .where(ApiClient.id == client_id)
        .values(
            window_count=case((fresh, 1), else_=ApiClient.window_count + 1),
            window_started_at=window,
            last_used_at=now,
        )
        .returning(ApiClient.window_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def seconds_to_next_window(now: dt.datetime) -> int:
    return 60 - now.second
