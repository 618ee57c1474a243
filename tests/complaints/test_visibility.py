"""What each reader sees of a case file: staff see everything; the complainant, a party to
a dispute or the platform see what is addressed to them and what they wrote, never staff's
internal notes, reasons, votes or approvals still awaiting a second approver."""

from __future__ import annotations

from typing import Any

from .conftest import Api, new_id
from .test_disputes import _attest, _move

INTERNAL_NOTE = "internal: the mentor has two earlier complaints"
ANSWER = "We are looking into it and will reply within five days"
OWN_NOTE = "I attach the chat log"
SEVERITY_REASON = "internal: complainant is a minor"
MOVE_REASON = "internal: waiting on the mentor's manager"
OWN_REASON = "I settled it with the mentor"


async def _note(api: Api, complaint: dict[str, Any], role: str, sub: str, body: str, to_complainant: bool) -> None:
    response = await api.call(
        "POST", f"/complaints/{complaint['id']}/notes", role, sub, {"body": body, "to_complainant": to_complainant}
    )
    assert response.status_code == 201, response.text


async def test_a_complainant_sees_notes_to_them_and_their_own_and_staff_see_everything(api: Api) -> None:
    mentee = "mentee-" + new_id()
    filed = await api.call(
        "POST",
        "/complaints",
        "support_agent",
        "agent-1",
        {
            "category": "session_quality",
            "description": "The mentor was rude",
            "complainant_id": mentee,
            "severity": "high",
            "severity_reason": SEVERITY_REASON,
        },
    )
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    await _note(api, complaint, "support_agent", "agent-1", INTERNAL_NOTE, to_complainant=False)
    await _note(api, complaint, "support_agent", "agent-1", ANSWER, to_complainant=True)
    await _note(api, complaint, "mentee", mentee, OWN_NOTE, to_complainant=False)
    moved = await api.move(complaint, "acknowledged", reason=MOVE_REASON)
    assert moved.status_code == 200, moved.text

    own = await api.call("GET", f"/complaints/{complaint['id']}", "mentee", mentee)
    assert own.status_code == 200
    assert [n["body"] for n in own.json()["notes"]] == [ANSWER, OWN_NOTE]
    assert own.json()["severity_reason"] is None
    assert [e["reason"] for e in own.json()["history"]] == [None, None]
    for internal in (INTERNAL_NOTE, SEVERITY_REASON, MOVE_REASON):
        assert internal not in own.text

    for role in ("support_agent", "compliance_officer"):
        staff = (await api.call("GET", f"/complaints/{complaint['id']}", role, "staff-1")).json()
        assert [n["body"] for n in staff["notes"]] == [INTERNAL_NOTE, ANSWER, OWN_NOTE]
        assert staff["severity_reason"] == SEVERITY_REASON
        assert staff["history"][-1]["reason"] == MOVE_REASON

    # A complainant's own move answers with the same view: their reason, not staff's.
    withdrawn = await api.move(complaint, "withdrawn", role="mentee", sub=mentee, reason=OWN_REASON)
    assert withdrawn.status_code == 200, withdrawn.text
    assert [n["body"] for n in withdrawn.json()["notes"]] == [ANSWER, OWN_NOTE]
    assert [e["reason"] for e in withdrawn.json()["history"]] == [None, None, OWN_REASON]
    for internal in (INTERNAL_NOTE, SEVERITY_REASON, MOVE_REASON):
        assert internal not in withdrawn.text

    # The system's reasons are addressed to everyone.
    safeguarding = await api.file(sub=mentee, category="safeguarding", description="Inappropriate messages")
    [_, escalated] = safeguarding["history"]
    assert (escalated["to_state"], escalated["actor"]) == ("escalated", "system")
    assert escalated["reason"] == "safeguarding: immediate"


async def test_parties_to_a_dispute_do_not_see_a_tier_deliberating_and_staff_do(api: Api) -> None:
    mentor, candidate = new_id(), "cand-" + new_id()
    attestation = await _attest(api, mentor, candidate)
    opened = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "mentee", candidate, {"reason": "Score is wrong"}
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert (await _move(api, dispute, "l2_review", "mentee", candidate)).status_code == 200
    # Revocation takes two officers: the first vote leaves the tier deliberating.
    first = await _move(api, dispute, "revoked", "compliance_officer", "officer-a")
    assert first.json()["state"] == "l2_review"
    assert [v["decider"] for v in first.json()["votes"]] == ["officer-a"]

    for role, sub in (("mentee", candidate), ("mentor", mentor), ("platform", "platform-1")):
        party = await api.call("GET", f"/disputes/{dispute['id']}", role, sub)
        assert party.status_code == 200, party.text
        assert party.json()["votes"] == [], f"{role} sees the deliberation"
        assert party.json()["reason"] == "Score is wrong"
    for role in ("support_agent", "compliance_officer"):
        staff = (await api.call("GET", f"/disputes/{dispute['id']}", role, "staff-1")).json()
        assert [(v["decider"], v["outcome"]) for v in staff["votes"]] == [("officer-a", "revoked")]


async def test_a_mentee_does_not_see_a_refund_awaiting_its_second_approver_and_staff_do(api: Api) -> None:
    mentee, session = "mentee-" + new_id(), "s-" + new_id()
    await api.paid(session, mentee, 50_000)
    body = {"session_id": session, "amount_minor": 20_000, "currency": "EUR", "reason": "The session never happened"}
    created = await api.call("POST", "/refunds", "support_agent", "agent-0", body, {"Idempotency-Key": new_id()})
    assert created.status_code == 201, created.text
    refund = created.json()

    async def approve(role: str, sub: str) -> dict[str, Any]:
        current = await api.call("GET", f"/refunds/{refund['id']}", role, sub)
        moved = await api.call(
            "POST",
            f"/refunds/{refund['id']}/transitions",
            role,
            sub,
            {"to": "approved", "reasons": f"{sub} checked the payment"},
            {"If-Match": current.headers["etag"]},
        )
        assert moved.status_code == 200, moved.text
        return dict(moved.json())

    assert (await approve("support_agent", "agent-1"))["approved_by"] == ["agent-1"]
    own = (await api.call("GET", f"/refunds/{refund['id']}", "mentee", mentee)).json()
    assert (own["state"], own["approved_by"]) == ("requested", [])
    [listed] = (await api.call("GET", "/refunds", "mentee", mentee)).json()["items"]
    assert listed["approved_by"] == []
    assert own["reason"] == "The session never happened", "the reason is addressed to the mentee"
    staff = (await api.call("GET", f"/refunds/{refund['id']}", "compliance_officer", "officer-1")).json()
    assert staff["approved_by"] == ["agent-1"]

    await approve("compliance_officer", "officer-1")
    decided = (await api.call("GET", f"/refunds/{refund['id']}", "mentee", mentee)).json()
    assert (decided["state"], decided["approved_by"]) == ("approved", ["agent-1", "officer-1"])
