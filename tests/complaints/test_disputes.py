"""Attestations and their disputes: L1 -> L2 -> L3, four-eyes revocation, public status, agreement."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

import httpx
import msgspec

from governance.bootstrap import Services
from governance.core.clock import ManualClock

from .conftest import Api, new_id


async def _attest(api: Api, mentor: str, candidate: str, score: int = 3, **extra: Any) -> dict[str, Any]:
    body = {
        "mentor_id": mentor,
        "candidate_id": candidate,
        "competency": extra.pop("competency", "system-design"),
        "score": score,
        "rubric_version": "2026.1",
        "session_date": extra.pop("session_date", "2026-11-01"),
        "token_sha256": hashlib.sha256(f"token-{mentor}-{candidate}-{score}".encode()).hexdigest(),
        **extra,
    }
    response = await api.call("POST", "/attestations", "platform", "platform-1", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _move(api: Api, dispute: dict[str, Any], to: str, role: str, sub: str, **body: Any) -> httpx.Response:
    """Move as ``sub``; a vote states reasons unless the test says otherwise."""
    if to in ("decided", "revoked"):
        body.setdefault("reasons", f"{sub} weighed the evidence")
    current = await api.call("GET", f"/disputes/{dispute['id']}", role, sub)
    assert current.status_code == 200, current.text
    return await api.call(
        "POST",
        f"/disputes/{dispute['id']}/transitions",
        role,
        sub,
        {"to": to, **body},
        {"If-Match": current.headers["etag"]},
    )


async def test_a_dispute_walks_three_tiers_and_ends_revoked(
    api: Api, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate)
    opened = await api.call(
        "POST",
        f"/attestations/{attestation['id']}/disputes",
        "mentee",
        candidate,
        {"reason": "Score is wrong", "evidence": ["doc-1"]},
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["tier"] == "L1" and dispute["decide_due"] is not None and dispute["opened_as"] == "candidate"
    status = (await client.get(f"/api/v1/attestations/{attestation['id']}/status")).json()
    assert status["status"] == "disputed"
    # L1: support upholds; the candidate appeals to L2.
    l1 = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="upheld")
    assert l1.json()["state"] == "decided" and l1.json()["appeal_until"] is not None
    assert (await client.get(f"/api/v1/attestations/{attestation['id']}/status")).json()["status"] == "valid"
    appeal = await _move(api, dispute, "l2_review", "mentee", candidate)
    assert appeal.status_code == 200, appeal.text
    assert appeal.json()["tier"] == "L2"
    # L2: an officer upholds; the candidate appeals to the L3 panel.
    l2 = await _move(api, dispute, "decided", "compliance_officer", "officer-1", outcome="upheld")
    assert l2.json()["state"] == "decided" and l2.json()["tier_deciders"]["L2"] == ["officer-1"]
    await _move(api, dispute, "l3_review", "mentee", candidate)
    ineligible = await _move(api, dispute, "revoked", "compliance_officer", "officer-1")
    assert ineligible.status_code == 403 and ineligible.json()["type"] == "/problems/panel-ineligible"
    one = await _move(api, dispute, "revoked", "compliance_officer", "officer-2")
    assert one.json()["state"] == "l3_review" and len(one.json()["votes"]) == 1, "one vote does not revoke"
    clock.advance(timedelta(hours=1))
    two = await _move(api, dispute, "revoked", "compliance_officer", "officer-3")
    assert two.status_code == 200, two.text
    final = two.json()
    assert final["state"] == "revoked" and final["allowed_next"] == []
    assert [e["tier"] for e in final["history"]] == ["L1", "L1", "L2", "L2", "L3", "L3"]
    public = (await client.get(f"/api/v1/attestations/{attestation['id']}/status")).json()
    assert public["status"] == "revoked"
    assert public["since"] == final["closed_at"]
    history = (await api.call("GET", f"/attestations/{attestation['id']}", "mentor", mentor)).json()["history"]
    assert [h["status"] for h in history] == ["valid", "disputed", "valid", "disputed", "valid", "disputed", "revoked"]
    # The published escalation path is the one that ran.
    policy = (await client.get("/api/v1/escalation-policy")).json()
    assert [t["tier"] for t in policy["dispute_tiers"]] == ["L1", "L2", "L3"]
    assert [t["decided_by"] for t in policy["dispute_tiers"]] == [
        "support_agent",
        "compliance_officer",
        "compliance_officer",
    ]
    assert policy["dispute_tiers"][2]["deciders"] == 2
    # Revoked is final.
    again = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "again"}
    )
    assert again.status_code == 409
    after = await _move(api, dispute, "withdrawn", "mentee", candidate)
    assert after.status_code == 409


async def test_revocation_at_l2_needs_a_second_officer(api: Api) -> None:
    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate)
    dispute = (
        await api.call(
            "POST",
            f"/attestations/{attestation['id']}/disputes",
            "support_agent",
            "agent-1",
            {"reason": "employer says fake"},
        )
    ).json()
    assert dispute["opened_as"] == "support"
    escalated = await _move(api, dispute, "l2_review", "support_agent", "agent-1")
    assert escalated.json()["tier"] == "L2"
    first = await _move(api, dispute, "revoked", "compliance_officer", "officer-a")
    assert first.json()["state"] == "l2_review"
    same = await _move(api, dispute, "revoked", "compliance_officer", "officer-a")
    assert same.json()["state"] == "l2_review", "the same officer twice is still one pair of eyes"
    second = await _move(api, dispute, "revoked", "compliance_officer", "officer-b")
    assert second.json()["state"] == "revoked"
    assert sorted(second.json()["tier_deciders"]["L2"]) == ["officer-a", "officer-b"]


async def test_an_amendment_gives_a_new_score_and_version(api: Api, client: httpx.AsyncClient) -> None:
    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate, score=2)
    dispute = (
        await api.call(
            "POST", f"/attestations/{attestation['id']}/disputes", "mentor", mentor, {"reason": "I mis-scored"}
        )
    ).json()
    assert dispute["opened_as"] == "mentor"
    missing = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="amended")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "new_score"
    revoke_at_l1 = await _move(api, dispute, "revoked", "support_agent", "agent-1")
    assert revoke_at_l1.status_code == 409
    assert revoke_at_l1.json()["allowed_next"] == ["decided", "l2_review", "withdrawn"]
    officer_at_l1 = await _move(api, dispute, "decided", "compliance_officer", "officer-1", outcome="upheld")
    assert officer_at_l1.status_code == 403, "L1 is support's review"
    amended = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="amended", new_score=4)
    assert amended.json()["outcome"] == "amended"
    read = await api.call("GET", f"/attestations/{attestation['id']}", "mentee", candidate)
    view = read.json()
    assert (view["status"], view["score"], view["version"]) == ("amended", 4, 2)
    assert read.headers["etag"] == '"2"', "a versioned record answers its version as its ETag"
    digest = hashlib.sha256(f"token-{mentor}-{candidate}-2".encode()).hexdigest()
    status = (await client.get(f"/api/v1/attestations/{attestation['id']}/status", params={"digest": digest})).json()
    assert status == {"status": "amended", "since": view["status_since"], "digest_matches": True}
    wrong = (await client.get(f"/api/v1/attestations/{attestation['id']}/status", params={"digest": "0" * 64})).json()
    assert wrong["digest_matches"] is False


async def test_disputes_belong_to_their_parties(api: Api) -> None:
    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate)
    stranger = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "mentee", "cand-stranger", {"reason": "x"}
    )
    assert stranger.status_code == 403
    dispute = (
        await api.call("POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "x"})
    ).json()
    assert (await api.call("GET", f"/disputes/{dispute['id']}", "mentee", candidate)).status_code == 200
    assert (await api.call("GET", f"/disputes/{dispute['id']}", "mentor", mentor)).status_code == 200
    assert (await api.call("GET", f"/disputes/{dispute['id']}", "mentor", new_id())).status_code == 403
    assert (await api.call("GET", f"/attestations/{attestation['id']}", "mentor", new_id())).status_code == 403
    mine = (await api.call("GET", "/disputes", "mentor", mentor)).json()["items"]
    assert [d["id"] for d in mine] == [dispute["id"]]
    assert (await api.call("GET", "/disputes", "mentee", "cand-stranger")).json()["items"] == []
    twice = await api.call("POST", f"/attestations/{attestation['id']}/disputes", "mentor", mentor, {"reason": "y"})
    assert twice.status_code == 409 and twice.json()["dispute_id"] == dispute["id"]
    withdrawn = await _move(api, dispute, "withdrawn", "mentee", candidate)
    assert withdrawn.json()["state"] == "withdrawn"
    view = (await api.call("GET", f"/attestations/{attestation['id']}", "mentee", candidate)).json()
    assert view["status"] == "valid"


async def test_an_appeal_after_the_window_is_refused(api: Api, clock: ManualClock) -> None:
    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate)
    dispute = (
        await api.call("POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "x"})
    ).json()
    await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="upheld")
    clock.advance(timedelta(days=15))
    late = await _move(api, dispute, "l2_review", "mentee", candidate)
    assert late.status_code == 409 and late.json()["type"] == "/problems/appeal-window-closed"


async def test_the_public_status_is_minimal_unauthenticated_and_rate_limited(
    api: Api, client: httpx.AsyncClient
) -> None:
    attestation = await _attest(api, new_id(), "cand-" + new_id())
    first = await client.get(f"/api/v1/attestations/{attestation['id']}/status")
    assert first.status_code == 200
    assert set(first.json()) == {"status", "since", "digest_matches"}
    assert first.headers["ratelimit-limit"] == "60"
    assert (await client.get(f"/api/v1/attestations/{new_id()}/status")).status_code == 404
    assert (await client.get(f"/api/v1/attestations/{attestation['id']}/status?digest=xyz")).status_code == 400
    codes = [(await client.get(f"/api/v1/attestations/{attestation['id']}/status")).status_code for _ in range(60)]
    assert codes[-1] == 429
    assert (await client.get("/api/v1/escalation-policy")).status_code == 200, "the limit is the status route's own"


async def test_the_agreement_score(api: Api) -> None:
    mentor, other, candidate = new_id(), new_id(), "cand-" + new_id()
    await _attest(api, mentor, candidate, score=3)
    await _attest(api, other, candidate, score=4, session_date="2026-10-01")  # replaced by their later score
    await _attest(api, other, candidate, score=1, session_date=str(date(2026, 11, 20)))
    await _attest(api, other, candidate, score=3, session_date="2026-01-01")  # too long ago
    disputed = await _attest(api, mentor, "cand-" + new_id(), score=2)
    dispute = (
        await api.call("POST", f"/attestations/{disputed['id']}/disputes", "mentor", mentor, {"reason": "x"})
    ).json()
    await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="amended", new_score=3)
    own = await api.call("GET", f"/mentors/{mentor}/attestation-quality", "mentor", mentor)
    assert own.status_code == 200
    assert own.json() == {
        "mentor_id": mentor,
        "window_days": 90,
        "comparisons": 1,  # against the other mentor's latest score within 90 days: 1
        "minimum_comparisons": 5,
        "leniency": None,  # not enough data
        "disputed_attestations": 1,
        "amended_or_revoked": 1,
        "amended_or_revoked_share": 1.0,
    }
    assert (await api.call("GET", f"/mentors/{mentor}/attestation-quality", "mentor", other)).status_code == 403


async def test_every_tier_decision_carries_its_reasons(services: Services, api: Api, client: httpx.AsyncClient) -> None:
    from governance.complaints.tables import Dispute
    from governance.core.crypto import Keyring

    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate)
    dispute = (
        await api.call("POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "low"})
    ).json()
    for missing in ({"reasons": None}, {"reasons": ""}):
        refused = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="upheld", **missing)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == ["reasons"]
    too_long = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="upheld", reasons="x" * 2001)
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "reasons"
    words = "The recording shows the candidate answered two of five questions"
    l1 = await _move(api, dispute, "decided", "support_agent", "agent-1", outcome="upheld", reasons=words)
    assert l1.status_code == 200, l1.text
    for role, sub in (("mentee", candidate), ("mentor", mentor), ("support_agent", "agent-2")):
        seen = (await api.call("GET", f"/disputes/{dispute['id']}", role, sub)).json()
        [decision] = seen["decisions"]
        assert (decision["tier"], decision["outcome"], decision["deciders"]) == ("L1", "upheld", ["agent-1"])
        assert decision["reasons"] == [words], f"{role} is told why"
    # The audit entry binds the stored reasons by their hash, never holds the words.
    row = await Dispute.select(Dispute.decisions).where(Dispute.id == dispute["id"]).first()
    [sealed] = msgspec.json.decode(row["decisions"])[0]["reasons"]
    entries = (
        await api.call("GET", "/audit/entries?action=dispute.decided&resource_id=" + dispute["id"], "auditor", "aud")
    ).json()["items"]
    [entry] = entries
    assert entry["details"]["reasons_sha256"] == hashlib.sha256(sealed.encode()).hexdigest()
    assert words not in msgspec.json.encode(entry).decode()
    # L2: a vote's reasons are the deciders' deliberation until the tier decides.
    await _move(api, dispute, "l2_review", "mentee", candidate)
    first = await _move(api, dispute, "revoked", "compliance_officer", "officer-a", reasons="the token was forged")
    assert [v["reasons"] for v in first.json()["votes"]] == ["the token was forged"]
    party = (await api.call("GET", f"/disputes/{dispute['id']}", "mentee", candidate)).json()
    assert party["votes"] == [] and len(party["decisions"]) == 1
    second = await _move(api, dispute, "revoked", "compliance_officer", "officer-b", reasons="forged, says the issuer")
    final = (await api.call("GET", f"/disputes/{dispute['id']}", "mentee", candidate)).json()
    assert second.status_code == 200 and final["state"] == "revoked"
    assert final["decisions"][1]["reasons"] == ["the token was forged", "forged, says the issuer"]
    # Erasing the candidate shreds the reasons with everything else of theirs.
    keyring: Keyring = services.keyring
    assert await keyring.shred(candidate)
    erased = (await api.call("GET", f"/disputes/{dispute['id']}", "support_agent", "agent-2")).json()
    assert [d["reasons"] for d in erased["decisions"]] == [[None], [None, None]]
    verified = await api.call("GET", "/audit/verify", "auditor", "aud")
    assert verified.json()["ok"] is True
