"""A processing system calling the API through Flask's test client, signing every request the
way a real one does (api/signing.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from api.clients import SecretBox, add_client
from api.models import ApiScope
from api.signing import signed_headers
from intake.runtime import Runtime


@dataclass
class System:
    """One API client: its id, secret and the test client it calls through."""

    http: Any
    runtime: Runtime
    public_id: str
    secret: str

    def headers(self, method: str, target: str, body: bytes = b"", **kwargs) -> dict[str, str]:
        stamp = int(self.runtime.clock.now().timestamp())
        return signed_headers(self.public_id, self.secret, method, target, body, timestamp=stamp,
                              **kwargs)  # fmt: skip

    def get(self, target: str):
        return self.http.get(target, headers=self.headers("GET", target))

    def post(self, target: str, payload: Any):
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self.http.post(
            target,
            data=body,
            content_type="application/json",
            headers=self.headers("POST", target, body),
        )

    def event(self, code: str, payload: dict[str, Any]):
        return self.post(f"/api/v1/dossiers/{code}/events", payload)


def make_system(
    http, runtime: Runtime, name: str = "motcua", scope: ApiScope = ApiScope.WRITE, **kwargs
) -> System:
    box = SecretBox(runtime.settings.api_secrets_key)
    with runtime.sessions() as session, session.begin():
        new = add_client(session, box, name, scope, created_by="test", now=runtime.clock.now(),
                         **kwargs)  # fmt: skip
        public_id = new.client.public_id
    return System(http, runtime, public_id, new.secret)


def status_event(event_id: str, status: str | int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "status",
        "status": status,
        "at": "2026-12-01T09:30:00+07:00",
        "actor": {
            "name": "Nguyễn Văn Bình",
            "title": "Chuyên viên",
            "department": "Chi cục Thủy sản",
        },
        **fields,
    }
