"""Helpers for privacy tests: mentees, the platform and a compliance officer driving the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from ..complaints.conftest import api  # noqa: F401 (complaints hold mentee data too)
from ..conftest import AuthHeaders
from ..vetting.conftest import vetting  # noqa: F401 (a mentor is a data subject too)

SHARE = "share_attestations_with_employers"
RECRUITERS = "share_profile_with_recruiters"
ANALYTICS = "product_analytics"


def new_mentee() -> str:
    return f"mentee-{uuid.uuid4().hex[:10]}"


class Privacy:
    """Drives the privacy API as mentees, the platform and compliance officers do."""

    def __init__(self, client: httpx.AsyncClient, auth: AuthHeaders) -> None:
        self.client = client
        self.auth = auth

    def mentee(self, mentee_id: str) -> dict[str, str]:
        return self.auth("mentee", sub=mentee_id)

    def officer(self, sub: str = "officer-a") -> dict[str, str]:
        return self.auth("compliance_officer", sub=sub)

    def platform(self) -> dict[str, str]:
        return self.auth("platform", sub="platform-1")

    async def put(
        self, mentee_id: str, gpc: bool = False, headers: dict[str, str] | None = None, **body: Any
    ) -> httpx.Response:
        headers = dict(headers or self.mentee(mentee_id))
        if gpc:
            headers["Sec-GPC"] = "1"
        return await self.client.put(f"/api/v1/privacy/mentees/{mentee_id}/preferences", json=body, headers=headers)

    async def choose(self, mentee_id: str, **preferences: str) -> dict[str, Any]:
        response = await self.put(mentee_id, preferences=preferences)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def permission(self, mentee_id: str, purpose: str) -> dict[str, Any]:
        response = await self.client.get(
            f"/api/v1/privacy/mentees/{mentee_id}/permissions", params={"purpose": purpose}, headers=self.platform()
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def history(self, mentee_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/api/v1/privacy/mentees/{mentee_id}/preferences/history", headers=self.mentee(mentee_id)
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def file(self, mentee_id: str, kind: str, description: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": kind}
        if description:
            body["description"] = description
        response = await self.client.post("/api/v1/privacy/requests", json=body, headers=self.mentee(mentee_id))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def etag(self, request_id: str) -> str:
        response = await self.client.get(f"/api/v1/privacy/requests/{request_id}", headers=self.officer())
        assert response.status_code == 200, response.text
        return response.headers["etag"]

    async def move(
        self,
        request_id: str,
        to: str,
        headers: dict[str, str] | None = None,
        if_match: str | None = "current",
        **extra: Any,
    ) -> httpx.Response:
        """Move a request, sending the ETag it has now (``if_match="current"``), the one
        given, or none (``None``)."""
        sent = dict(headers or self.officer())
        if if_match == "current":
            sent["If-Match"] = await self.etag(request_id)
        elif if_match is not None:
            sent["If-Match"] = if_match
        return await self.client.post(
            f"/api/v1/privacy/requests/{request_id}/transitions", json={"to": to, **extra}, headers=sent
        )

    async def complete(self, request_id: str) -> dict[str, Any]:
        assert (await self.move(request_id, "in_progress")).status_code == 200
        done = await self.move(request_id, "completed")
        assert done.status_code == 200, done.text
        return dict(done.json())

    async def audit(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/audit/entries", params={"limit": "500", **params}, headers=self.auth("auditor")
        )
        assert response.status_code == 200
        return list(response.json()["items"])


@pytest.fixture
def privacy(client: httpx.AsyncClient, auth: AuthHeaders) -> Privacy:
    return Privacy(client, auth)
