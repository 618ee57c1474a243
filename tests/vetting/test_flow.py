"""The vetting journey end to end through the API, as the issue's acceptance describes it."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta

import httpx
import msgspec
import pytest
from litestar.exceptions import LitestarException

from governance import bootstrap
from governance.app import application
from governance.audit import service as audit_service
from governance.bootstrap import Services
from governance.core.cache import COMMIT_CHECK_SECONDS
from governance.core.clock import ManualClock
from governance.settings import Settings
from governance.vetting import expiry
from governance.vetting.service import Vetting as VettingService

from ..conftest import AuthHeaders
from .conftest import PDF, SECOND_OFFICER, Vetting


def ext() -> str:
    return f"ext-{uuid.uuid4().hex[:10]}"


async def test_register_vet_and_approve_with_four_eyes(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(ext())
    assert mentor["status"] == "onboarding"
    assert mentor["email"].endswith("@example.org")
    dossier = await vetting.dossier(mentor["id"])
    required = {r["check_type"] for r in dossier["requirements"]}
    # A UK contractor: enhanced DBS check and a professional credential on top of the rest.
    assert {"background_check", "professional_credential", "reference"} <= required
    assert {g["check_type"] for g in dossier["missing_for_approval"]} == required

    early = await client.post(
        f"/api/v1/mentors/{mentor['id']}/decisions",
        json={"action": "approve", "rationale": "too early"},
        headers=vetting.officer(),
    )
    assert early.status_code == 409
    assert {m["check_type"] for m in early.json()["missing"]} == required

    await vetting.pass_everything(mentor["id"])
    proposed = await client.post(
        f"/api/v1/mentors/{mentor['id']}/decisions",
        json={"action": "approve", "rationale": "every check passed"},
        headers=vetting.officer(),
    )
    assert proposed.status_code == 201
    decision_id = proposed.json()["id"]
    queue = await client.get("/api/v1/vetting/decisions", params={"state": "proposed"}, headers=vetting.officer())
    assert decision_id in {d["id"] for d in queue.json()["items"]}

    own = await client.post(f"/api/v1/decisions/{decision_id}/confirm", headers=vetting.officer())
    assert own.status_code == 403
    assert own.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/api/v1/mentors/{mentor['id']}", headers=vetting.officer())).json()[
        "status"
    ] == "onboarding"

    second = await client.post(f"/api/v1/decisions/{decision_id}/confirm", headers=vetting.officer(SECOND_OFFICER))
    assert second.status_code == 200
    assert second.json()["state"] == "confirmed"
    assert second.json()["confirmed_by"] == SECOND_OFFICER
    again = await client.post(f"/api/v1/decisions/{decision_id}/confirm", headers=vetting.officer("officer-c"))
    assert again.status_code == 409

    read = await client.get(f"/api/v1/mentors/{mentor['id']}", headers=vetting.mentor(mentor["id"]))
    assert read.json()["status"] == "approved"
    await audit_service.number_queued()  # the sequencer's round, before the dossier cites entries by number
    dossier = await vetting.dossier(mentor["id"])
    assert dossier["missing_for_approval"] == []
    assert all(r["met"] for r in dossier["requirements"])
    assert [d["action"] for d in dossier["decisions"]] == ["approve"]

    refused = await vetting.audit(action="vetting.decision.confirm_refused", resource_id=decision_id)
    assert [e["outcome"] for e in refused] == ["denied"]
    confirmed = await vetting.audit(action="vetting.decision.confirmed", resource_id=decision_id)
    assert confirmed[0]["seq"] == dossier["decisions"][0]["audit"]["latest"]


async def test_every_fact_in_the_dossier_points_at_its_audit_entry(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(ext(), jurisdiction="FR", engagement="volunteer")
    check = await vetting.record(mentor["id"], "interview")
    await vetting.move(check["id"], "in_review")
    await vetting.move(check["id"], "passed")
    await audit_service.number_queued()  # the sequencer's round, before the dossier cites entries by number
    dossier = await vetting.dossier(mentor["id"])
    [shown] = dossier["checks"]
    recorded = await client.get(f"/api/v1/audit/entries/{shown['audit']['recorded']}", headers=vetting.auth("auditor"))
    latest = await client.get(f"/api/v1/audit/entries/{shown['audit']['latest']}", headers=vetting.auth("auditor"))
    assert recorded.json()["action"] == "vetting.check.recorded"
    assert recorded.json()["resource"] == {"type": "check", "id": shown["id"]}
    assert latest.json()["details"]["to"] == "passed"
    # No personal data in the log: the details of the check (certificate numbers...) are not there.
    assert "001234567890" not in msgspec.json.encode([recorded.json(), latest.json()]).decode()


async def test_documents_are_checked_by_content_and_rejections_store_nothing(
    services: Services, vetting: Vetting, client: httpx.AsyncClient, data_dir: object
) -> None:
    mentor = await vetting.register(ext())
    check = await vetting.record(mentor["id"], "identity_verification")
    documents_before = await vetting.audit(action="vetting.document.uploaded")
    objects = services.store.root  # type: ignore[attr-defined]
    files_before = sorted(p for p in objects.rglob("*") if p.is_file())

    renamed = await vetting.upload(check["id"], b"just some text, not a PDF\n", "passport.pdf")
    assert renamed.status_code == 415
    assert renamed.headers["content-type"].startswith("application/problem+json")
    assert await vetting.audit(action="vetting.document.uploaded") == documents_before
    assert sorted(p for p in objects.rglob("*") if p.is_file()) == files_before
    assert (await vetting.dossier(mentor["id"]))["checks"][0]["documents"] == []

    good = await vetting.upload(check["id"], PDF, "passport scan.pdf")
    assert good.status_code == 201
    document = good.json()
    assert document["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert document["media_type"] == "application/pdf"
    stored = [p for p in objects.rglob("*") if p.is_file() and p not in files_before]
    assert len(stored) == 1
    assert stored[0].name == document["sha256"], "content-addressed key"
    assert PDF not in stored[0].read_bytes(), "stored encrypted under the mentor's key"

    duplicate = await vetting.upload(check["id"], PDF, "again.pdf")
    assert duplicate.status_code == 409

    download = await client.get(f"/api/v1/documents/{document['id']}", headers=vetting.officer())
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert "passport%20scan.pdf" in download.headers["content-disposition"]
    downloads = await vetting.audit(action="vetting.document.downloaded", resource_id=document["id"])
    assert [e["details"]["sha256"] for e in downloads] == [document["sha256"]]

    other = await vetting.register(ext())
    assert (
        await client.get(f"/api/v1/documents/{document['id']}", headers=vetting.mentor(mentor["id"]))
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/documents/{document['id']}", headers=vetting.mentor(other["id"]))
    ).status_code == 403


async def test_a_document_over_the_limit_answers_413_and_stores_nothing(
    database: Settings, clock: ManualClock, auth: AuthHeaders
) -> None:
    small = msgspec.structs.replace(database, max_document_bytes=1024)
    transport = httpx.ASGITransport(app=application(bootstrap.build(small, clock=clock)))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        vetting = Vetting(client, auth)
        mentor = await vetting.register(ext())
        check = await vetting.record(mentor["id"], "identity_verification")
        before = await vetting.audit(action="vetting.document.uploaded")
        response = await vetting.upload(check["id"], PDF + b"0" * 2048)
        assert response.status_code == 413
        assert response.json()["max_bytes"] == 1024
        assert await vetting.audit(action="vetting.document.uploaded") == before


async def test_a_mentor_reads_their_own_dossier_without_internal_notes(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.register(ext())
    other = await vetting.register(ext())
    await vetting.record(mentor["id"], "interview", notes="internal: candidate hesitant on ethics questions")
    staff = await vetting.dossier(mentor["id"])
    assert staff["checks"][0]["notes"].startswith("internal:")
    own = await vetting.dossier(mentor["id"], headers=vetting.mentor(mentor["id"]))
    assert "notes" not in own["checks"][0]
    assert own["checks"][0]["details"]["interviewer"] == "officer-a"
    theirs = await client.get(f"/api/v1/mentors/{other['id']}/dossier", headers=vetting.mentor(mentor["id"]))
    assert theirs.status_code == 403
    denied = await vetting.audit(action="access.denied", actor=mentor["id"])
    assert denied[-1]["details"]["path_params"]["mentor_id"] == other["id"]


async def test_dossier_etag_and_conditional_reads(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(ext())
    url = f"/api/v1/mentors/{mentor['id']}/dossier"
    first = await client.get(url, headers=vetting.officer())
    etag = first.headers["etag"]
    same = await client.get(url, headers={**vetting.officer(), "If-None-Match": etag})
    assert same.status_code == 304
    await vetting.record(mentor["id"], "interview")
    changed = await client.get(url, headers={**vetting.officer(), "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert len(changed.json()["checks"]) == 1


async def test_moving_the_clock_past_expiry_lapses_the_mentor(
    services: Services, vetting: Vetting, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentor = await vetting.approved_mentor(ext())
    dossier = await vetting.dossier(mentor["id"])
    soonest = min(c["expires_at"] for c in dossier["checks"])
    service: VettingService = services.vetting

    clock.advance(timedelta(days=366))
    # Before the job runs the dossier already says the check is no longer current.
    assert any(not c["current"] for c in (await vetting.dossier(mentor["id"]))["checks"])
    result = await expiry.run(service, clock.now())
    assert result.checks_expired >= 1
    assert result.mentors_lapsed >= 1

    lapsed = await client.get(f"/api/v1/mentors/{mentor['id']}", headers=vetting.officer())
    assert lapsed.json()["status"] == "lapsed"
    expired = [c for c in (await vetting.dossier(mentor["id"]))["checks"] if c["state"] == "expired"]
    assert expired and all(c["expires_at"] <= clock.now().isoformat().replace("+00:00", "Z") for c in expired)
    assert soonest in {c["expires_at"] for c in expired}
    entries = await vetting.audit(action="vetting.mentor.status_changed", resource_id=mentor["id"])
    assert entries[-1]["actor"] == {"sub": "system", "roles": ["system"]}
    assert entries[-1]["details"]["to"] == "lapsed"
    assert (await audit_service.verify(services.log_key)).ok  # type: ignore[attr-defined]

    # A second run finds nothing left to do.
    again = await expiry.run(service, clock.now())
    assert (again.checks_expired, again.mentors_lapsed) == (0, 0)


async def test_documents_go_to_s3_when_a_bucket_is_configured(
    database: Settings, s3_bucket: Settings, clock: ManualClock, auth: AuthHeaders
) -> None:
    services = bootstrap.build(s3_bucket, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application(services)), base_url="http://testserver"
    ) as client:
        vetting = Vetting(client, auth)
        mentor = await vetting.register(ext())
        check = await vetting.record(mentor["id"], "identity_verification")
        uploaded = await vetting.upload(check["id"], PDF)
        assert uploaded.status_code == 201
        sha256 = uploaded.json()["sha256"]
        store = services.store
        key = f"vetting/documents/{mentor['id']}/{sha256}"
        head = store._client.head_object(Bucket=s3_bucket.s3_bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ServerSideEncryption"] == "AES256"
        assert PDF not in await store.get(key), "encrypted under the mentor's key"
        download = await client.get(f"/api/v1/documents/{uploaded.json()['id']}", headers=vetting.officer())
        assert download.content == PDF


async def test_a_change_made_by_another_process_reaches_the_cached_dossier(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    """Another worker or a cron command changes the database without telling this process."""
    from governance.vetting.tables import Check, Mentor

    mentor = await vetting.register(ext())
    check = await vetting.record(mentor["id"], "interview")
    first = await vetting.dossier(mentor["id"])
    assert first["checks"][0]["state"] == "pending"
    # What another process's transition writes: the row and the version, no notice here.
    await Check.update({Check.state: "in_review"}).where(Check.id == uuid.UUID(check["id"]))
    await Mentor.update({Mentor.version: Mentor.version + 1}).where(Mentor.id == uuid.UUID(mentor["id"]))
    await asyncio.sleep(COMMIT_CHECK_SECONDS * 2)  # seen within that bound
    second = await vetting.dossier(mentor["id"])
    assert second["checks"][0]["state"] == "in_review"


async def test_a_document_altered_in_storage_is_refused_and_audited(
    services: Services, vetting: Vetting, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.register(ext())
    check = await vetting.record(mentor["id"], "identity_verification")
    big = PDF + bytes(200_000)  # several segments
    document = (await vetting.upload(check["id"], big)).json()
    store = services.store
    path = store.root / "vetting" / "documents" / mentor["id"] / document["sha256"]
    sealed = bytearray(path.read_bytes())
    sealed[-40] ^= 0xFF  # inside the last segment
    path.write_bytes(bytes(sealed))
    received = bytearray()
    # The first segments were sent before the altered one was found: the only honest move
    # left is to cut the stream (a server drops the connection; the test transport raises).
    with pytest.raises(LitestarException, match="after response started"):
        async with client.stream("GET", f"/api/v1/documents/{document['id']}", headers=vetting.officer()) as response:
            async for chunk in response.aiter_bytes():
                received += chunk
    assert bytes(received) != big and len(received) < len(big), "the client never holds the altered document"
    corrupted = await vetting.audit(action="vetting.document.corrupted", resource_id=document["id"])
    assert [e["outcome"] for e in corrupted] == ["failure"]


async def test_the_dossier_shows_attestation_quality_and_follows_other_mentors(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.register(ext())
    other = await vetting.register(ext())
    candidate = f"candidate-{uuid.uuid4().hex[:8]}"

    async def attest(mentor_id: str, score: int) -> None:
        body = {
            "mentor_id": mentor_id,
            "candidate_id": candidate,
            "competency": "system-design",
            "score": score,
            "rubric_version": "2026.1",
            "session_date": "2026-11-01",
            "token_sha256": hashlib.sha256(f"{mentor_id}{score}".encode()).hexdigest(),
        }
        response = await client.post("/api/v1/attestations", json=body, headers=vetting.auth("platform"))
        assert response.status_code == 201, response.text

    await attest(mentor["id"], 4)
    quality = (await vetting.dossier(mentor["id"]))["attestation_quality"]
    assert (quality["comparisons"], quality["leniency"]) == (0, None)
    # Another mentor's attestation of the same candidate changes this mentor's agreement.
    await attest(other["id"], 1)
    quality = (await vetting.dossier(mentor["id"]))["attestation_quality"]
    assert (quality["comparisons"], quality["leniency"]) == (1, None)
    standalone = await client.get(f"/api/v1/mentors/{mentor['id']}/attestation-quality", headers=vetting.officer())
    assert standalone.json() == quality
