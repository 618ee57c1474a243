"""Evidence bundles through the API: requested, produced by a worker, stored, downloaded,
and bound into the audit log; bad requests change nothing; crashed workers are taken over."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from governance.audit import service as audit_service
from governance.bootstrap import Services
from governance.core.storage import ObjectStoreError
from governance.evidence import jobs
from governance.evidence.registers import percent
from governance.evidence.render import SECTION_TITLES
from governance.evidence.tables import EvidenceBundle
from governance.evidence.worker import work_once

from ..conftest import AuthHeaders
from .conftest import Bundles, Platform, pdf_text, sha256


async def test_a_bundle_binds_its_pdf_and_manifest_into_the_log(
    services: Services, bundles: Bundles, platform: Platform, client: httpx.AsyncClient
) -> None:
    asked = await bundles.ask()
    assert asked.status_code == 202, asked.text
    bundle = asked.json()
    assert bundle["state"] == "queued" and bundle["progress"] == 0 and bundle["requested_by"] == "officer-e"
    assert bundle["sections"] == ["summary", "vetting", "complaints", "disputes", "privacy", "audit"]
    assert await bundles.work()
    ready = await bundles.get(bundle["id"])
    assert ready["state"] == "ready" and ready["progress"] == 1 and ready["attempts"] == 1
    assert ready["pages"] > 1 and ready["failure_reason"] is None

    pdf = await bundles.download(bundle["id"])
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert sha256(pdf.content) == ready["pdf_sha256"]
    assert pdf.headers["repr-digest"] == f"sha-256=:{base64.b64encode(bytes.fromhex(ready['pdf_sha256'])).decode()}:"
    manifest_response = await bundles.download(bundle["id"], "manifest")
    assert sha256(manifest_response.content) == ready["manifest_sha256"]
    manifest = manifest_response.json()
    assert manifest["format"] == "governance-evidence-manifest/1"
    assert manifest["bundle_id"] == bundle["id"] and manifest["pdf"]["sha256"] == ready["pdf_sha256"]
    assert manifest["pdf"]["pages"] == ready["pages"] and manifest["pdf"]["size"] == len(pdf.content)
    assert manifest["checkpoint"]["tree_size"] == ready["checkpoint_size"]
    # Every document of every check is vouched for by its hash, and the checkpoint too.
    listed = {a["sha256"] for a in manifest["artifacts"] if a["kind"] == "vetting_document"}
    documents = {d["sha256"] for check in platform.checks for d in check.get("documents", [])}
    assert documents and documents <= listed
    checkpoint = [a for a in manifest["artifacts"] if a["kind"] == "checkpoint"]
    assert checkpoint[0]["sha256"] == sha256(manifest["checkpoint"]["note"].encode())

    # The log says which bytes were made ready, and who downloaded them.
    entries = await bundles.audit(resource_id=bundle["id"])
    actions = [e["action"] for e in entries]
    assert actions[:5] == [
        "evidence.bundle.requested",
        "evidence.bundle.rendering",
        "evidence.bundle.sealed",
        "evidence.bundle.uploading",
        "evidence.bundle.ready",
    ]
    sealed_entry, ready_entry = entries[2], entries[4]
    assert ready_entry["details"]["pdf_sha256"] == sha256(pdf.content)
    assert ready_entry["details"]["manifest_sha256"] == sha256(manifest_response.content)
    # The ready entry names the seal the files carry, whose digest is the manifest's contents'.
    assert ready_entry["details"]["sealed_seq"] == sealed_entry["seq"] == manifest["seal"]["entry_seq"]
    assert sealed_entry["details"]["contents_sha256"] == manifest["seal"]["contents_sha256"]
    downloads = [e for e in entries if e["action"] == "evidence.bundle.downloaded"]
    assert [(d["details"]["file"], d["actor"]["sub"]) for d in downloads] == [("pdf", "tester"), ("manifest", "tester")]
    # The ready entry is in the tree an auditor verifies.
    verified = await audit_service.verify(services.log_key)  # type: ignore[attr-defined]
    assert verified.ok and verified.size > ready_entry["seq"]
    assert pdf_text(pdf.content, pages=1)[0].count(bundle["id"]) >= 1


async def test_figures_in_the_pdf_are_the_api_summaries(
    bundles: Bundles, platform: Platform, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    ready = await bundles.ready()
    text = " ".join(" ".join(pdf_text((await bundles.download(ready["id"])).content)).split())
    params = {"period_start": ready["period_start"], "period_end": ready["period_end"]}
    complaints = (await client.get("/api/v1/complaints/summary", params=params, headers=auth("auditor"))).json()
    privacy = (await client.get("/api/v1/privacy/summary", params=params, headers=auth("auditor"))).json()
    vetting = (await client.get("/api/v1/vetting/summary", headers=auth("auditor"))).json()
    # Other tests share the database: the seeded records are among the figures.
    assert complaints["complaints_received"] >= len(platform.complaints)
    assert complaints["by_category"]["billing"] >= 2 and complaints["by_outcome"]["upheld"] >= 1
    assert vetting["mentors_by_status"]["approved"] >= 2 and privacy["data_requests_received"] >= 2
    sla, refunds, disputes = complaints["sla"], complaints["refunds"], complaints["disputes"]
    by_status = " ".join(f"{status} {n}" for status, n in vetting["mentors_by_status"].items())
    for figure in (
        f"Share fully vetted and current: {percent(vetting['share_fully_vetted_and_current'])}",
        f"Active mentors (approved or lapsed) {vetting['active_mentors']}",
        f"Active, fully vetted and current {vetting['active_fully_vetted_and_current']}",
        f"Mentors by status {by_status}",
        f"Complaints received: {complaints['complaints_received']}",
        f"SLA attainment: {percent(sla['attainment'])} ({sla['met']} of {sla['judged']} judged",
        "Complaints by category " + " ".join(f"{c} {n}" for c, n in complaints["by_category"].items()),
        "Complaints by outcome " + " ".join(f"{o} {n}" for o, n in complaints["by_outcome"].items()),
        f"Refunds requested: {refunds['requested']}",
        "Refunds by state " + " ".join(f"{state} {n}" for state, n in refunds["by_state"].items()),
        f"Disputes opened: {disputes['opened']}; breached a deadline: {disputes['breached']}",
        "Disputes by outcome " + " ".join(f"{o} {n}" for o, n in disputes["by_outcome"].items()),
        "Disputes by highest tier reached " + " ".join(f"{t} {n}" for t, n in disputes["by_tier"].items()),
        f"Data requests answered on time: {privacy['data_requests_answered_on_time']} of "
        f"{privacy['data_requests_closed']} closed ({percent(privacy['share_answered_on_time'])})",
        f"Data requests received {privacy['data_requests_received']}",
    ):
        assert figure in text, figure
    for heading in SECTION_TITLES.values():
        assert heading in text, heading
    active, rest = text.split("Mentors registered but never approved", 1)
    never_approved = rest.split("Reasons for vetting decisions and waivers", 1)[0]
    for mentor in platform.mentors[:2]:
        assert mentor["external_id"] in active
        assert mentor["external_id"] not in never_approved
    onboarding = platform.mentors[2]["external_id"]
    assert onboarding not in active, "a mentor still onboarding is not in the register of active mentors"
    assert onboarding in never_approved, "but is listed among the mentors never approved"
    for record in (*platform.complaints, *platform.refunds, *platform.disputes, *platform.data_requests):
        assert record["id"] in text, record
    hashes = {d["sha256"] for check in platform.checks for d in check.get("documents", [])}
    assert hashes and all(h in text.replace(" ", "") for h in hashes)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period_start": "2026-02-01", "period_end": "2026-01-01"}, "period_end"),
        ({"period_end": "2999-01-01"}, "period_end"),
        ("tomorrow", "period_end"),
        ({"period_start": "2020-01-01"}, "period_end"),
        ({"title": ""}, "title"),
        ({"sections": ["vetting", "gossip"]}, "sections"),
        ({"mentor_ids": []}, "mentor_ids"),
        ({"mentor_ids": ["not-a-uuid"]}, "mentor_ids"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_request_names_the_field_and_queues_nothing(
    bundles: Bundles, body: dict[str, Any] | str, field: str
) -> None:
    future = body == "tomorrow"
    if future:  # in the period's limits, but evidence is of what happened
        tomorrow = bundles.clock.now().date() + timedelta(days=1)
        body = {"period_start": tomorrow.replace(day=1).isoformat(), "period_end": tomorrow.isoformat()}
    before = await bundles.audit(action="evidence.")
    bundles_before = await EvidenceBundle.count()
    response = await bundles.ask(**body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert field in json.dumps(problem), problem
    assert not future or "must not be after today" in json.dumps(problem)
    assert await EvidenceBundle.count() == bundles_before
    assert await bundles.audit(action="evidence.") == before


async def test_who_may_ask_follow_and_download(bundles: Bundles, client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    for role in ("auditor", "support_agent", "mentee", "mentor", "platform", "admin"):
        assert (await bundles.ask(role=role)).status_code == 403, role
    ready = await bundles.ready(sections=["audit"])
    for role, status in (("auditor", 200), ("compliance_officer", 200), ("support_agent", 403), ("admin", 403)):
        listed = await client.get("/api/v1/evidence/bundles", headers=auth(role))
        assert listed.status_code == status, role
        assert (await bundles.download(ready["id"], role=role)).status_code == status, role
    retried = await client.post(f"/api/v1/evidence/bundles/{ready['id']}/retry", headers=auth("auditor"))
    assert retried.status_code == 403


async def test_only_a_failed_bundle_is_retried_and_only_a_ready_one_downloaded(
    bundles: Bundles, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    queued = await bundles.queued(sections=["audit"])
    early = await bundles.download(queued["id"])
    assert early.status_code == 409 and early.json()["state"] == "queued"
    retry = await client.post(f"/api/v1/evidence/bundles/{queued['id']}/retry", headers=auth("compliance_officer"))
    # Rendering is the worker's move, not one a client may ask for.
    assert retry.status_code == 409 and retry.json()["allowed_next"] == [] == queued["allowed_next"]
    missing = await client.get(f"/api/v1/evidence/bundles/{queued['id'][:-4]}0000", headers=auth("auditor"))
    assert missing.status_code == 404


async def test_listing_is_newest_first_with_cursors_and_a_state_filter(
    bundles: Bundles, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    made = []
    for n in range(3):
        made.append((await bundles.queued(title=f"bundle {n}", sections=["audit"]))["id"])
        bundles.clock.advance(timedelta(seconds=1))
    assert await bundles.work()  # the oldest first
    assert (await bundles.get(made[0]))["state"] == "ready"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/evidence/bundles", params=params, headers=auth("auditor"))).json()
        assert len(page["items"]) <= 2
        seen.extend(b["id"] for b in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "no bundle on two pages"
    assert [i for i in seen if i in made] == made[::-1], "newest request first"
    ready = (await client.get("/api/v1/evidence/bundles", params={"state": "ready"}, headers=auth("auditor"))).json()
    assert {b["state"] for b in ready["items"]} == {"ready"}
    assert made[0] in [b["id"] for b in ready["items"]] and made[1] not in [b["id"] for b in ready["items"]]


async def test_a_worker_that_died_is_taken_over_after_its_lease(bundles: Bundles) -> None:
    queued = await bundles.queued(sections=["audit"])
    lease = bundles.evidence.lease
    claimed = await jobs.claim("dead-worker", bundles.clock.now(), lease, uuid.UUID(queued["id"]))
    assert claimed is not None and str(claimed.id) == queued["id"]
    # The dead worker never comes back; while its lease runs, nobody else touches the bundle.
    assert not await bundles.work("worker-2")
    assert (await bundles.get(queued["id"]))["state"] == "rendering"
    bundles.clock.advance(lease + timedelta(seconds=1))
    assert await bundles.work("worker-2")
    done = await bundles.get(queued["id"])
    assert done["state"] == "ready" and done["attempts"] == 2
    rendering = [e for e in await bundles.audit(resource_id=queued["id"]) if e["action"] == "evidence.bundle.rendering"]
    assert rendering[1]["details"]["taken_over_from"] == {"worker": "dead-worker", "state": "rendering"}


async def test_a_worker_killed_while_rendering_is_recovered(bundles: Bundles, monkeypatch: pytest.MonkeyPatch) -> None:
    queued = await bundles.queued(sections=["audit"])
    rendering = asyncio.Event()
    real_render = jobs.render_in_subprocess

    async def render_forever(*args: Any, **kwargs: Any) -> Any:
        rendering.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(jobs, "render_in_subprocess", render_forever)
    worker = asyncio.create_task(bundles.work("doomed"))
    await asyncio.wait_for(rendering.wait(), 30)
    worker.cancel()  # the process dies mid-render: nothing is written on its way out
    with pytest.raises(asyncio.CancelledError):
        await worker
    stuck = await bundles.get(queued["id"])
    assert stuck["state"] == "rendering" and stuck["failure_reason"] is None
    monkeypatch.setattr(jobs, "render_in_subprocess", real_render)
    bundles.clock.advance(bundles.evidence.lease + timedelta(seconds=1))
    assert await bundles.work("survivor")
    assert (await bundles.get(queued["id"]))["state"] == "ready"


async def test_a_bundle_whose_workers_keep_dying_is_failed_not_retried_forever(bundles: Bundles) -> None:
    queued = await bundles.queued(sections=["audit"])
    lease = bundles.evidence.lease
    for n in range(3):
        assert await jobs.claim(f"dies-{n}", bundles.clock.now(), lease, uuid.UUID(queued["id"])) is not None
        bundles.clock.advance(lease + timedelta(seconds=1))
    assert not await bundles.work("worker-4")
    failed = await bundles.get(queued["id"])
    assert failed["state"] == "failed" and "stopped 3 times" in failed["failure_reason"]


async def test_a_worker_that_lost_its_lease_stops_without_writing(
    bundles: Bundles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stalls past its lease, B takes over; A's heartbeat notices and A stops, writing nothing."""
    queued = await bundles.queued(sections=["audit"])
    quick = dataclasses.replace(bundles.evidence, lease=timedelta(seconds=0.3))
    stalled = asyncio.Event()
    real_render = jobs.render_in_subprocess

    async def stall(*args: Any, **kwargs: Any) -> Any:
        stalled.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(jobs, "render_in_subprocess", stall)
    slow = asyncio.create_task(work_once(quick, "worker-a", bundles.clock))
    await asyncio.wait_for(stalled.wait(), 30)
    monkeypatch.setattr(jobs, "render_in_subprocess", real_render)
    bundles.clock.advance(timedelta(seconds=1))
    taken = await jobs.claim("worker-b", bundles.clock.now(), quick.lease, uuid.UUID(queued["id"]))
    assert taken is not None
    assert await asyncio.wait_for(slow, 30) is True, "A returns quietly: the job is B's now"
    assert (await bundles.get(queued["id"]))["state"] == "rendering"
    await jobs.produce(bundles.evidence, taken, "worker-b", bundles.clock)
    done = await bundles.get(queued["id"])
    assert done["state"] == "ready" and done["attempts"] == 2
    actions = [e["action"] for e in await bundles.audit(resource_id=queued["id"])]
    assert actions.count("evidence.bundle.ready") == 1 and "evidence.bundle.failed" not in actions


async def test_the_heartbeat_of_a_finished_job_is_not_a_takeover(bundles: Bundles) -> None:
    ready = await bundles.ready(sections=["audit"])
    now, lease = bundles.clock.now(), bundles.evidence.lease
    assert await jobs.heartbeat(uuid.UUID(ready["id"]), "worker-1", 1.0, now, lease)
    assert not await jobs.heartbeat(uuid.UUID(ready["id"]), "someone-else", 1.0, now, lease)


async def test_a_download_the_store_cannot_serve_answers_a_problem_not_a_500(
    bundles: Bundles, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = await bundles.ready(sections=["audit"])
    store = bundles.evidence.store

    async def unreachable(*args: Any, **kwargs: Any) -> str | None:
        raise ObjectStoreError("presigning of evidence/x/bundle.pdf in s3://b failed: Could not connect")

    with monkeypatch.context() as patched:
        patched.setattr(store, "presigned_url", unreachable)
        down = await bundles.download(ready["id"])
    assert down.status_code == 503 and down.json()["type"] == "/problems/object-store-unavailable"
    await store.delete(f"evidence/{ready['id']}/manifest.json")
    gone = await bundles.download(ready["id"], "manifest")
    assert gone.status_code == 410 and gone.headers["content-type"].startswith("application/problem+json")
    assert (await bundles.download(ready["id"])).status_code == 200, "the PDF is still there"
    downloads = [e for e in await bundles.audit(resource_id=ready["id"]) if e["action"].endswith("downloaded")]
    assert [d["details"]["file"] for d in downloads] == ["pdf"], "only the download that happened is audited"


async def test_a_mentor_filter_naming_nobody_is_refused(bundles: Bundles, platform: Platform) -> None:
    known = platform.mentors[0]["id"]
    nobody = "00000000-0000-4000-8000-000000000001"
    before = await bundles.audit(action="evidence.")
    bundles_before = await EvidenceBundle.count()
    response = await bundles.ask(mentor_ids=[known, nobody])
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["unknown"] == [nobody]
    assert problem["errors"][0]["field"] == "mentor_ids"
    assert known not in problem["detail"]
    assert await EvidenceBundle.count() == bundles_before
    assert await bundles.audit(action="evidence.") == before
    assert (await bundles.ask(mentor_ids=[known])).status_code == 202
