"""Helpers for evidence tests: a platform's worth of records made through the API, and a
compliance officer asking for bundles while a worker (driven by the test) produces them."""

from __future__ import annotations

import copy
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from governance import bootstrap
from governance.app import application
from governance.bootstrap import Services
from governance.core.clock import ManualClock
from governance.evidence.service import Evidence
from governance.evidence.tables import EvidenceBundle
from governance.evidence.worker import work_once
from governance.settings import Settings

from ..complaints.conftest import Api
from ..conftest import AuthHeaders
from ..privacy.conftest import Privacy
from ..vetting.conftest import Vetting

OFFICER = "officer-e"


class Bundles:
    """Drives the bundle API as a compliance officer and an auditor would."""

    def __init__(self, client: httpx.AsyncClient, auth: AuthHeaders, clock: ManualClock, evidence: Evidence) -> None:
        self.client = client
        self.evidence = evidence
        self.auth = auth
        self.clock = clock

    def body(self, **overrides: Any) -> dict[str, Any]:
        today = self.clock.now().date()
        return {
            "period_start": today.replace(day=1).isoformat(),
            "period_end": today.isoformat(),
            "title": "Accreditation evidence",
            **overrides,
        }

    async def ask(self, role: str = "compliance_officer", sub: str = OFFICER, **body: Any) -> httpx.Response:
        return await self.client.post(
            "/api/v1/evidence/bundles", json=self.body(**body), headers=self.auth(role, sub=sub)
        )

    async def queued(self, **body: Any) -> dict[str, Any]:
        response = await self.ask(**body)
        assert response.status_code == 202, response.text
        return dict(response.json())

    async def get(self, bundle_id: str, role: str = "auditor") -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/evidence/bundles/{bundle_id}", headers=self.auth(role))
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def work(self, worker: str = "worker-1") -> bool:
        return await work_once(self.evidence, worker, self.clock)

    async def ready(self, **body: Any) -> dict[str, Any]:
        bundle = await self.queued(**body)
        assert await self.work()
        done = await self.get(bundle["id"])
        assert done["state"] == "ready", done
        return done

    async def download(self, bundle_id: str, file: str = "pdf", role: str = "auditor") -> httpx.Response:
        return await self.client.get(
            f"/api/v1/evidence/bundles/{bundle_id}/download", params={"file": file}, headers=self.auth(role)
        )

    async def audit(self, **params: str) -> list[dict[str, Any]]:
        response = await self.client.get(
            "/api/v1/audit/entries", params={"limit": "500", **params}, headers=self.auth("auditor")
        )
        assert response.status_code == 200, response.text
        return list(response.json()["items"])


@pytest.fixture
async def quiet_queue(database: Settings) -> None:
    """No bundle of an earlier test waits in the queue (the database lives for the whole run),
    so the worker a test drives claims only that test's bundles."""
    await EvidenceBundle.update(
        {EvidenceBundle.state: "failed", EvidenceBundle.failure_reason: "left by an earlier test"}
    ).where(EvidenceBundle.state.is_in(["queued", "rendering", "uploading"]))


@pytest.fixture
def bundles(
    client: httpx.AsyncClient, auth: AuthHeaders, clock: ManualClock, services: Services, quiet_queue: None
) -> Bundles:
    return Bundles(client, auth, clock, services.evidence)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf_text(data: bytes, pages: int | None = None) -> list[str]:
    """The text of every page (or of the first ``pages``), as an auditor's PDF reader extracts it."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages[:pages]]


@dataclass
class Platform:
    """What the seeded platform holds, as the API answered when it was made."""

    mentors: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    complaints: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    data_requests: list[dict[str, Any]] = field(default_factory=list)


async def seed(client: httpx.AsyncClient, auth: AuthHeaders) -> Platform:
    """Two approved mentors (every check passed, with documents), one still onboarding;
    complaints in three categories, one resolved and refunded; a dispute decided at L1;
    consent choices; a data request completed and one still open."""
    vetting, api, privacy = Vetting(client, auth), Api(client, auth), Privacy(client, auth)
    platform = Platform()
    for n in range(2):
        mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:8]}-{n}")
        platform.checks.extend(await vetting.pass_everything(mentor["id"]))
        await vetting.decide(mentor["id"], "approve")
        platform.mentors.append(mentor)
    platform.mentors.append(await vetting.register(f"ext-{uuid.uuid4().hex[:8]}-onboarding"))
    first = platform.mentors[0]["id"]
    for category in ("session_quality", "billing", "billing", "mentor_conduct"):
        platform.complaints.append(await api.file(sub="mentee-seed", category=category, mentor_id=first))
    complaint = platform.complaints[1]
    for to, extra in (("acknowledged", {}), ("investigating", {})):
        moved = await api.move(complaint, to, **extra)
        assert moved.status_code == 200, moved.text
    resolved = await api.move(
        complaint, "resolved", outcome="upheld", remedies=["refund"], reasons="double charge confirmed"
    )
    assert resolved.status_code == 200, resolved.text
    session = "s-" + uuid.uuid4().hex[:8]
    await api.paid(session, "mentee-seed", 4_000)
    refund = await api.call(
        "POST",
        "/refunds",
        "support_agent",
        "agent-1",
        {
            "session_id": session,
            "complaint_id": complaint["id"],
            "amount_minor": 2_500,
            "currency": "EUR",
            "reason": "double charge",
        },
        {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    platform.refunds.append(refund.json())
    attestation = await api.call(
        "POST",
        "/attestations",
        "platform",
        "platform-1",
        {
            "mentor_id": first,
            "candidate_id": "cand-seed",
            "competency": "system-design",
            "score": 2,
            "rubric_version": "2026.1",
            "session_date": "2026-11-01",
            "token_sha256": sha256(uuid.uuid4().bytes),
        },
    )
    assert attestation.status_code == 201, attestation.text
    dispute = await api.call(
        "POST", f"/attestations/{attestation.json()['id']}/disputes", "mentee", "cand-seed", {"reason": "too low"}
    )
    assert dispute.status_code == 201, dispute.text
    platform.disputes.append(dispute.json())
    await privacy.choose("mentee-seed", share_profile_with_recruiters="opt_in")
    done = await privacy.file("mentee-seed", "access")
    platform.data_requests.append(await privacy.complete(done["id"]))
    platform.data_requests.append(await privacy.file("mentee-other", "erasure"))
    return platform


@pytest.fixture(scope="session")
def seeded() -> dict[str, Platform]:
    """The run's seeded platform, once made (see ``platform``)."""
    return {}


@pytest.fixture
async def platform(client: httpx.AsyncClient, auth: AuthHeaders, seeded: dict[str, Platform]) -> Platform:
    """The seeded platform, made by the first test of the run that asks for it and found again by
    the others: they only read it, and the database lives for the whole run (seeding costs more
    than most of these tests). Each test gets its own copy of what the API answered."""
    if "platform" not in seeded:
        seeded["platform"] = await seed(client, auth)
    return copy.deepcopy(seeded["platform"])


@pytest.fixture
async def bundles_in_s3(
    database: Settings, locked_bucket: Settings, clock: ManualClock, auth: AuthHeaders, quiet_queue: None
) -> AsyncIterator[Bundles]:
    """Bundles stored in an S3 bucket with Object Lock (moto, over real HTTP)."""
    services = bootstrap.build(locked_bucket, clock=clock)
    transport = httpx.ASGITransport(app=application(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Bundles(client, auth, clock, services.evidence)
