"""Helpers for vetting tests: register a mentor and walk checks the way officers do."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ..conftest import AuthHeaders

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
OFFICER = "officer-a"
SECOND_OFFICER = "officer-b"
# Check types the shipped requirements pass only with four eyes (``four_eyes = true``).
FOUR_EYES = frozenset({"background_check"})
# Values that satisfy every detail the requirements file asks for.
DETAILS = {
    "method": "document and video check",
    "level": "enhanced",
    "certificate_number": "001234567890",
    "issuing_body": "DBS",
    "credential": "ICF PCC",
    "referee_relationship": "former manager",
    "interviewer": "officer-a",
    "code_version": "2026.1",
    "course": "Safeguarding adults and children",
    "provider": "NSPCC",
    # The certificates' own date: today, so that a pass is valid for the check type's whole term.
    "issued_on": datetime.now(UTC).date().isoformat(),
}


class Vetting:
    """Drives the vetting API as a platform and two compliance officers would."""

    def __init__(self, client: httpx.AsyncClient, auth: AuthHeaders) -> None:
        self.client = client
        self.auth = auth

    def officer(self, sub: str = OFFICER) -> dict[str, str]:
        return self.auth("compliance_officer", sub=sub)

    def mentor(self, mentor_id: str) -> dict[str, str]:
        return self.auth("mentor", sub=mentor_id)

    async def register(
        self, external_id: str, jurisdiction: str = "GB", engagement: str = "contractor"
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/mentors",
            json={
                "external_id": external_id,
                "display_name": f"Mentor {external_id}",
                "email": f"{external_id}@example.org",
                "jurisdiction": jurisdiction,
                "engagement_type": engagement,
                "specialties": ["interview practice"],
            },
            headers=self.auth("platform", sub="platform-1"),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def dossier(self, mentor_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/mentors/{mentor_id}/dossier", headers=headers or self.officer())
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def record(self, mentor_id: str, check_type: str, **extra: Any) -> dict[str, Any]:
        body = {"check_type": check_type, "details": extra.pop("details", DETAILS), **extra}
        response = await self.client.post(f"/api/v1/mentors/{mentor_id}/checks", json=body, headers=self.officer())
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def upload(
        self, check_id: str, content: bytes = PDF, name: str = "evidence.pdf", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/checks/{check_id}/documents",
            files={"file": (name, content, "application/pdf")},
            headers=headers or self.officer(),
        )

    async def move(
        self, check_id: str, to: str, sub: str = OFFICER, if_match: str | None = "current", **extra: Any
    ) -> httpx.Response:
        """Move a check, sending the ETag it has now (``if_match="current"``), the one given, or none."""
        headers = self.officer(sub)
        if if_match == "current":
            read = await self.client.get(f"/api/v1/checks/{check_id}", headers=headers)
            headers = {**headers, "If-Match": read.headers.get("etag", '"0"')}
        elif if_match is not None:
            headers = {**headers, "If-Match": if_match}
        return await self.client.post(
            f"/api/v1/checks/{check_id}/transitions", json={"to": to, **extra}, headers=headers
        )

    async def pass_check(
        self, mentor_id: str, check_type: str, documents: int, issued_on: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Record, document, review and pass a check; ``issued_on`` dates its evidence (default today)."""
        check = await self.record(
            mentor_id, check_type, details={**DETAILS, "issued_on": issued_on or DETAILS["issued_on"]}
        )
        for index in range(documents):
            uploaded = await self.upload(check["id"], PDF + str(index).encode(), f"{check_type}-{index}.pdf")
            assert uploaded.status_code == 201, uploaded.text
        assert (await self.move(check["id"], "in_review")).status_code == 200
        passer = SECOND_OFFICER if check_type in FOUR_EYES else OFFICER
        passed = await self.move(check["id"], "passed", sub=passer, **extra)
        assert passed.status_code == 200, passed.text
        return dict(passed.json()["check"])

    async def pass_everything(self, mentor_id: str, **extra: Any) -> list[dict[str, Any]]:
        """Record and pass every check the mentor's dossier requires, with documents."""
        dossier = await self.dossier(mentor_id)
        passed = []
        for requirement in dossier["requirements"]:
            for _ in range(requirement["count"]):
                passed.append(
                    await self.pass_check(
                        mentor_id, requirement["check_type"], requirement["documents_required"], **extra
                    )
                )
        return passed

    async def decide(
        self, mentor_id: str, action: str, proposer: str = OFFICER, confirmer: str = SECOND_OFFICER
    ) -> dict[str, Any]:
        proposed = await self.client.post(
            f"/api/v1/mentors/{mentor_id}/decisions",
            json={"action": action, "rationale": f"{action}: rationale recorded in the test"},
            headers=self.officer(proposer),
        )
        assert proposed.status_code == 201, proposed.text
        confirmed = await self.client.post(
            f"/api/v1/decisions/{proposed.json()['id']}/confirm", headers=self.officer(confirmer)
        )
        assert confirmed.status_code == 200, confirmed.text
        return dict(confirmed.json())

    async def approved_mentor(self, external_id: str, **register: Any) -> dict[str, Any]:
        mentor = await self.register(external_id, **register)
        await self.pass_everything(mentor["id"])
        await self.decide(mentor["id"], "approve")
        return mentor

    async def audit(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/audit/entries", params={"limit": "500", **params}, headers=self.auth("auditor")
        )
        assert response.status_code == 200
        return list(response.json()["items"])


@pytest.fixture
def vetting(client: httpx.AsyncClient, auth: AuthHeaders) -> Vetting:
    return Vetting(client, auth)
