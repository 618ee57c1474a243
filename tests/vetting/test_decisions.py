"""Decisions: four eyes, the decision table through the API, revocation is final."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from governance.bootstrap import Services
from governance.core.clock import ManualClock
from governance.vetting import expiry
from governance.vetting.service import Vetting as VettingService

from .conftest import SECOND_OFFICER, Vetting


def ext() -> str:
    return f"ext-{uuid.uuid4().hex[:10]}"


async def _propose(client: httpx.AsyncClient, vetting: Vetting, mentor_id: str, action: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/mentors/{mentor_id}/decisions",
        json={"action": action, "rationale": "reasons"},
        headers=vetting.officer(),
    )


async def _status(client: httpx.AsyncClient, vetting: Vetting, mentor_id: str) -> str:
    return str((await client.get(f"/api/v1/mentors/{mentor_id}", headers=vetting.officer())).json()["status"])


async def test_suspend_reinstate_and_revoke_is_final(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.approved_mentor(ext())
    assert (await _propose(client, vetting, mentor["id"], "reinstate")).status_code == 409
    await vetting.decide(mentor["id"], "suspend")
    assert await _status(client, vetting, mentor["id"]) == "suspended"
    await vetting.decide(mentor["id"], "reinstate")
    assert await _status(client, vetting, mentor["id"]) == "approved"
    await vetting.decide(mentor["id"], "revoke")
    assert await _status(client, vetting, mentor["id"]) == "revoked"
    for action in ("approve", "reinstate", "suspend", "revoke"):
        refused = await _propose(client, vetting, mentor["id"], action)
        assert refused.status_code == 409
        assert refused.json()["allowed"] == []
        assert "final" in refused.json()["detail"]
    new_check = await client.post(
        f"/api/v1/mentors/{mentor['id']}/checks", json={"check_type": "interview"}, headers=vetting.officer()
    )
    assert new_check.status_code == 409


async def test_a_newer_proposal_supersedes_an_unconfirmed_one(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.approved_mentor(ext())
    first = (await _propose(client, vetting, mentor["id"], "suspend")).json()
    second = (await _propose(client, vetting, mentor["id"], "revoke")).json()
    stale = await client.post(f"/api/v1/decisions/{first['id']}/confirm", headers=vetting.officer(SECOND_OFFICER))
    assert stale.status_code == 409
    confirmed = await client.post(f"/api/v1/decisions/{second['id']}/confirm", headers=vetting.officer(SECOND_OFFICER))
    assert confirmed.status_code == 200
    states = {d["id"]: d["state"] for d in (await vetting.dossier(mentor["id"]))["decisions"]}
    assert states[first["id"]] == "superseded"
    assert states[second["id"]] == "confirmed"


async def test_a_lapsed_mentor_is_approved_again_by_renewal(
    services: Services, vetting: Vetting, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentor = await vetting.approved_mentor(ext(), jurisdiction="FR", engagement="volunteer")
    service: VettingService = services.vetting
    clock.advance(timedelta(days=366))
    await expiry.run(service, clock.now())
    assert await _status(client, vetting, mentor["id"]) == "lapsed"
    dossier = await vetting.dossier(mentor["id"])
    lapsed_types = {g["check_type"] for g in dossier["missing_for_approval"]}
    assert lapsed_types, "what lapsed is named"
    for requirement in dossier["requirements"]:
        if requirement["check_type"] in lapsed_types:
            renewal = clock.now().date().isoformat()  # a new certificate, issued after the old one ran out
            await vetting.pass_check(
                mentor["id"], requirement["check_type"], requirement["documents_required"], issued_on=renewal
            )
    assert await _status(client, vetting, mentor["id"]) == "approved"
    summary = (await client.get("/api/v1/vetting/summary", headers=vetting.officer())).json()
    assert summary["mentors_by_status"]["approved"] >= 1


async def test_approval_is_rechecked_at_confirmation(
    vetting: Vetting, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentor = await vetting.register(ext(), jurisdiction="FR", engagement="volunteer")
    await vetting.pass_everything(mentor["id"])
    proposal = (await _propose(client, vetting, mentor["id"], "approve")).json()
    clock.advance(timedelta(days=400))  # every pass ran out before the second officer looked
    late = await client.post(f"/api/v1/decisions/{proposal['id']}/confirm", headers=vetting.officer(SECOND_OFFICER))
    assert late.status_code == 409
    assert late.json()["missing"]
    assert await _status(client, vetting, mentor["id"]) == "onboarding"


async def test_decisions_accept_an_idempotency_key(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(ext(), jurisdiction="FR", engagement="volunteer")
    await vetting.pass_everything(mentor["id"])
    url = f"/api/v1/mentors/{mentor['id']}/decisions"
    body = {"action": "approve", "rationale": "every check passed"}
    headers = {**vetting.officer(), "Idempotency-Key": "approve-once-" + mentor["id"]}
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other_body = await client.post(url, json={**body, "rationale": "different"}, headers=headers)
    assert other_body.status_code == 422
    proposals = await vetting.audit(action="vetting.decision.proposed", resource_id=first.json()["id"])
    assert len(proposals) == 1

    confirm = f"/api/v1/decisions/{first.json()['id']}/confirm"
    key = {**vetting.officer(SECOND_OFFICER), "Idempotency-Key": "confirm-" + mentor["id"]}
    confirmed = await client.post(confirm, headers=key)
    retried = await client.post(confirm, headers=key)
    assert confirmed.status_code == retried.status_code == 200
    assert retried.json() == confirmed.json()
    without_key = await client.post(confirm, headers=vetting.officer(SECOND_OFFICER))
    assert without_key.status_code == 409, "without a key a second confirmation is refused as closed"
    own = await client.post(confirm, headers={**vetting.officer(), "Idempotency-Key": "mine"})
    assert own.status_code == 403


async def test_decisions_and_waivers_bind_their_reasons_into_the_log(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    import hashlib

    from governance.vetting.tables import Check, Decision

    mentor = await vetting.register(ext())
    unexplained = await client.post(
        f"/api/v1/mentors/{mentor['id']}/decisions", json={"action": "revoke"}, headers=vetting.officer()
    )
    assert unexplained.status_code == 400 and "rationale" in unexplained.text
    proposed = await _propose(client, vetting, mentor["id"], "revoke")
    decision_id = proposed.json()["id"]
    confirmed = await client.post(f"/api/v1/decisions/{decision_id}/confirm", headers=vetting.officer(SECOND_OFFICER))
    assert confirmed.status_code == 200
    row = await Decision.select(Decision.rationale).where(Decision.id == decision_id).first()
    digest = hashlib.sha256(row["rationale"].encode()).hexdigest()
    entries = await vetting.audit(resource_id=decision_id)
    assert [(e["action"], e["details"]["reasons_sha256"]) for e in entries] == [
        ("vetting.decision.proposed", digest),
        ("vetting.decision.confirmed", digest),
    ]
    assert all("reasons" not in e["details"].values() for e in entries), "the rationale itself stays out"

    other = await vetting.register(ext())
    check = await vetting.record(other["id"], "interview")
    assert (await vetting.move(check["id"], "in_review")).status_code == 200
    asked = await vetting.move(check["id"], "waived", justification="interviewed for the same role in 2025")
    assert asked.status_code == 202
    granted = await vetting.move(check["id"], "waived", sub=SECOND_OFFICER)
    assert granted.status_code == 200, granted.text
    stored = await Check.select(Check.justification).where(Check.id == check["id"]).first()
    digest = hashlib.sha256(stored["justification"].encode()).hexdigest()
    waiver = [e for e in await vetting.audit(resource_id=check["id"]) if e["details"].get("to") == "waived"]
    assert [e["details"]["reasons_sha256"] for e in waiver] == [digest]
    [asked_entry] = await vetting.audit(resource_id=check["id"], action="vetting.check.waiver_requested")
    assert asked_entry["details"]["reasons_sha256"] == digest


async def test_a_second_officer_rejects_a_proposal_with_reasons(vetting: Vetting, client: httpx.AsyncClient) -> None:
    import hashlib

    from governance.vetting.tables import Decision

    mentor = await vetting.register(ext())
    decision = (await _propose(client, vetting, mentor["id"], "revoke")).json()
    reject = f"/api/v1/decisions/{decision['id']}/reject"
    own = await client.post(reject, json={"reasons": "on second thought"}, headers=vetting.officer())
    assert own.status_code == 403 and own.json()["type"] == "/problems/four-eyes"
    [refusal] = await vetting.audit(resource_id=decision["id"], action="vetting.decision.reject_refused")
    assert refusal["outcome"] == "denied"
    for body in ({}, {"reasons": ""}, {"reasons": "x" * 10_001}):
        bad = await client.post(reject, json=body, headers=vetting.officer(SECOND_OFFICER))
        assert bad.status_code == 400, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "reasons" in bad.text
    words = "The complaint behind this was withdrawn; nothing to revoke for"
    key = {"Idempotency-Key": f"reject-{decision['id']}"}
    rejected = await client.post(reject, json={"reasons": words}, headers={**vetting.officer(SECOND_OFFICER), **key})
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["state"], body["closed_by"], body["closing_reasons"], body["allowed_next"]) == (
        "rejected",
        SECOND_OFFICER,
        words,
        [],
    )
    replay = await client.post(reject, json={"reasons": words}, headers={**vetting.officer(SECOND_OFFICER), **key})
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == body
    assert await _status(client, vetting, mentor["id"]) == "onboarding", "a rejected proposal changes nothing"
    late = await client.post(f"/api/v1/decisions/{decision['id']}/confirm", headers=vetting.officer("officer-c"))
    assert late.status_code == 409 and late.json()["allowed_next"] == []
    row = await Decision.select(Decision.closing_reasons).where(Decision.id == decision["id"]).first()
    [entry] = await vetting.audit(resource_id=decision["id"], action="vetting.decision.rejected")
    assert entry["details"]["reasons_sha256"] == hashlib.sha256(row["closing_reasons"].encode()).hexdigest()
    assert words not in str(entry)
    # Answered at once, the rejection cites its entry by id; once the sequencer has numbered
    # it (the search above waits for that), the decision cites it by number.
    assert body["audit"]["latest_entry_id"] is not None
    [reread] = (await vetting.dossier(mentor["id"]))["decisions"]
    assert reread["audit"]["latest"] == entry["seq"]
    assert reread["audit"]["latest_entry_id"] == body["audit"]["latest_entry_id"]
    # The mentor sees confirmed decisions only; a rejected proposal was staff's deliberation.
    seen = await vetting.dossier(mentor["id"], vetting.mentor(mentor["id"]))
    assert seen["decisions"] == []


async def test_only_the_proposer_withdraws_a_proposal(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.approved_mentor(ext())
    decision = (await _propose(client, vetting, mentor["id"], "suspend")).json()
    withdraw = f"/api/v1/decisions/{decision['id']}/withdraw"
    other = await client.post(withdraw, headers=vetting.officer(SECOND_OFFICER))
    assert other.status_code == 403 and other.json()["type"] == "/problems/not-the-proposer"
    [refusal] = await vetting.audit(resource_id=decision["id"], action="vetting.decision.withdraw_refused")
    assert refusal["actor"]["sub"] == SECOND_OFFICER
    key = {"Idempotency-Key": f"withdraw-{decision['id']}"}
    withdrawn = await client.post(withdraw, headers={**vetting.officer(), **key})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["state"], withdrawn.json()["closed_by"]) == ("withdrawn", "officer-a")
    again = await client.post(withdraw, headers={**vetting.officer(), **key})
    assert again.json() == withdrawn.json(), "a retried withdrawal answers the first time's"
    assert (await client.post(withdraw, headers=vetting.officer())).status_code == 409
    confirm = await client.post(f"/api/v1/decisions/{decision['id']}/confirm", headers=vetting.officer(SECOND_OFFICER))
    assert confirm.status_code == 409
    assert await _status(client, vetting, mentor["id"]) == "approved"
    queue = await client.get("/api/v1/vetting/decisions", params={"state": "proposed"}, headers=vetting.officer())
    assert decision["id"] not in [d["id"] for d in queue.json()["items"]]
    closed = await client.get("/api/v1/vetting/decisions", params={"state": "withdrawn"}, headers=vetting.officer())
    assert decision["id"] in [d["id"] for d in closed.json()["items"]]
    [entry] = await vetting.audit(resource_id=decision["id"], action="vetting.decision.withdrawn")
    assert entry["details"]["proposed_by"] == "officer-a"
