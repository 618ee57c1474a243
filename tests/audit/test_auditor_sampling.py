"""The accreditor samples what an evidence bundle lists: dossiers, documents, disputes and
attestations, read only, each read in the log."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import httpx
import pytest

from ..conftest import AuthHeaders
from ..vetting.conftest import PDF, Vetting

AUDITOR = "accreditor-1"


async def _entries(client: httpx.AsyncClient, auth: AuthHeaders, action: str, resource_id: str) -> list[Any]:
    found = await client.get(
        "/api/v1/audit/entries",
        params={"action": action, "resource_id": resource_id},
        headers=auth("compliance_officer"),
    )
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


@pytest.fixture
async def sampled(client: httpx.AsyncClient, auth: AuthHeaders) -> dict[str, str]:
    """One record of each kind a bundle's registers name."""
    vetting = Vetting(client, auth)
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:12]}")
    check = await vetting.record(mentor["id"], "identity_verification")
    uploaded = await vetting.upload(check["id"], PDF + uuid.uuid4().hex.encode(), "passport.pdf")
    assert uploaded.status_code == 201, uploaded.text
    candidate = f"cand-{uuid.uuid4().hex[:12]}"
    attestation = await client.post(
        "/api/v1/attestations",
        json={
            "mentor_id": mentor["id"],
            "candidate_id": candidate,
            "competency": "system-design",
            "score": 3,
            "rubric_version": "2026.1",
            "session_date": "2026-11-01",
            "token_sha256": hashlib.sha256(candidate.encode()).hexdigest(),
        },
        headers=auth("platform", sub="platform-1"),
    )
    assert attestation.status_code == 201, attestation.text
    dispute = await client.post(
        f"/api/v1/attestations/{attestation.json()['id']}/disputes",
        json={"reason": "the score ignores the second exercise"},
        headers=auth("mentee", sub=candidate),
    )
    assert dispute.status_code == 201, dispute.text
    return {
        "mentor": mentor["id"],
        "document": uploaded.json()["id"],
        "document_sha256": uploaded.json()["sha256"],
        "attestation": attestation.json()["id"],
        "dispute": dispute.json()["id"],
    }


READS = [
    ("/api/v1/mentors/{mentor}/dossier", "vetting.dossier.read", "mentor"),
    ("/api/v1/documents/{document}", "vetting.document.downloaded", "document"),
    ("/api/v1/disputes/{dispute}", "dispute.read", "dispute"),
    ("/api/v1/attestations/{attestation}", "attestation.read", "attestation"),
]


@pytest.mark.parametrize(("path", "action", "key"), READS, ids=[r[2] for r in READS])
async def test_the_auditor_reads_a_sample_and_each_read_is_audited(
    client: httpx.AsyncClient, auth: AuthHeaders, sampled: dict[str, str], path: str, action: str, key: str
) -> None:
    before = await _entries(client, auth, action, sampled[key])
    response = await client.get(path.format(**sampled), headers=auth("auditor", sub=AUDITOR))
    assert response.status_code == 200, response.text
    if key == "document":
        assert response.headers["repr-digest"] == (
            "sha-256=:" + base64.b64encode(bytes.fromhex(sampled["document_sha256"])).decode() + ":"
        )
    after = await _entries(client, auth, action, sampled[key])
    [entry] = [e for e in after if e not in before]
    assert entry["actor"] == {"sub": AUDITOR, "roles": ["auditor"]}
    assert entry["resource"]["id"] == sampled[key]


async def test_the_auditor_reads_as_a_party_not_as_staff(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    vetting = Vetting(client, auth)
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:12]}")
    await vetting.record(mentor["id"], "interview", notes="Hesitant about the safeguarding scenario")
    path = f"/api/v1/mentors/{mentor['id']}/dossier"
    staff = (await client.get(path, headers=auth("compliance_officer"))).json()
    seen = (await client.get(path, headers=auth("auditor"))).json()
    assert staff["checks"][0]["notes"] == "Hesitant about the safeguarding scenario"
    assert "notes" not in seen["checks"][0], "internal notes are staff's"


async def test_staff_reads_are_not_entries(
    client: httpx.AsyncClient, auth: AuthHeaders, sampled: dict[str, str]
) -> None:
    before = await _entries(client, auth, "dispute.read", sampled["dispute"])
    read = await client.get(f"/api/v1/disputes/{sampled['dispute']}", headers=auth("support_agent"))
    assert read.status_code == 200
    assert await _entries(client, auth, "dispute.read", sampled["dispute"]) == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/mentors/{mentor}/checks", {"check_type": "identity_verification", "details": {}}),
        ("POST", "/api/v1/mentors/{mentor}/decisions", {"decision": "approve", "rationale": "x"}),
        ("POST", "/api/v1/disputes/{dispute}/transitions", {"to": "withdrawn"}),
        ("POST", "/api/v1/attestations/{attestation}/disputes", {"reason": "x"}),
    ],
)
async def test_the_auditor_never_writes(
    client: httpx.AsyncClient,
    auth: AuthHeaders,
    sampled: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    response = await client.request(method, path.format(**sampled), json=body, headers=auth("auditor"))
    assert response.status_code == 403
