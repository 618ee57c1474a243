"""Helpers for the complaints tests: callers by role and small HTTP shortcuts."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ..conftest import AuthHeaders


class Api:
    """Calls as a given caller; ``sub`` defaults to a fresh subject per role."""

    def __init__(self, client: httpx.AsyncClient, auth: AuthHeaders) -> None:
        self.client = client
        self.auth = auth

    async def call(
        self, method: str, path: str, role: str, sub: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        all_headers = {**self.auth(role, sub=sub), **(headers or {})}
        return await self.client.request(method, "/api/v1" + path, json=json, headers=all_headers)

    async def file(self, sub: str = "mentee-1", **body: Any) -> dict[str, Any]:
        body.setdefault("category", "session_quality")
        body.setdefault("description", "The mentor did not show up")
        response = await self.call("POST", "/complaints", "mentee", sub, body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def paid(self, session_id: str, mentee_id: str, amount_minor: int = 50_000) -> None:
        """The platform reports what the mentee paid for a session: the ceiling for refunds."""
        body = {"mentee_id": mentee_id, "amount_minor": amount_minor, "currency": "EUR"}
        response = await self.call("PUT", f"/sessions/{session_id}/payment", "platform", "platform-1", body)
        assert response.status_code == 200, response.text

    async def move(
        self, complaint: dict[str, Any], to: str, role: str = "support_agent", sub: str = "agent-1", **body: Any
    ) -> httpx.Response:
        current = await self.call("GET", f"/complaints/{complaint['id']}", role, sub)
        headers = {"If-Match": current.headers.get("etag", '"0"')}
        if role == "mentee":  # the mentee reads their own complaint too
            headers = {"If-Match": current.headers["etag"]}
        return await self.call(
            "POST", f"/complaints/{complaint['id']}/transitions", role, sub, {"to": to, **body}, headers
        )


@pytest.fixture
def api(client: httpx.AsyncClient, auth: AuthHeaders) -> Api:
    return Api(client, auth)


def new_id() -> str:
    return str(uuid.uuid4())
