"""What a reviewer looks for in a bundle made through the API: the reasons of its decisions,
the policies in force, kept due dates, the mentors never approved, and the sign-off."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from governance.audit.policies import POLICY_FILES
from governance.evidence.registers import when

from ..complaints.conftest import Api
from ..conftest import AuthHeaders
from ..vetting.conftest import SECOND_OFFICER, Vetting
from .conftest import OFFICER, Bundles, Platform, pdf_text, sha256

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def flat(pages: list[str]) -> str:
    return " ".join(" ".join(pages).split())


def section(text: str, heading: str, until: str) -> str:
    """The text from the last ``heading`` (the contents page names it first) up to ``until``."""
    return text.rsplit(heading, 1)[1].split(until, 1)[0]


async def _decisions(client: httpx.AsyncClient, auth: AuthHeaders) -> dict[str, Any]:
    """A waiver granted on a justification, a refund denied, a dispute decided, each with reasons;
    and a dispute whose candidate is then erased."""
    vetting, api = Vetting(client, auth), Api(client, auth)
    applicant = await vetting.register(
        f"ext-{uuid.uuid4().hex[:8]}-applicant", jurisdiction="FR", engagement="volunteer"
    )
    check = await vetting.record(applicant["id"], "interview")
    for target, sub in (("in_review", "officer-a"), ("waived", "officer-a"), ("waived", SECOND_OFFICER)):
        moved = await vetting.move(check["id"], target, sub=sub, justification="Interview held by the partner school")
        assert moved.status_code in {200, 202}, moved.text
    session = "s-" + uuid.uuid4().hex[:8]
    await api.paid(session, "mentee-review", 3_000)
    refund = await api.call(
        "POST",
        "/refunds",
        "support_agent",
        "agent-0",
        {"session_id": session, "amount_minor": 1_000, "currency": "EUR", "reason": "late start"},
        {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    current = await api.call("GET", f"/refunds/{refund.json()['id']}", "support_agent", "agent-1")
    denied = await api.call(
        "POST",
        f"/refunds/{refund.json()['id']}/transitions",
        "support_agent",
        "agent-1",
        {"to": "denied", "reasons": "The session started on time according to the platform log"},
        {"If-Match": current.headers["etag"]},
    )
    assert denied.status_code == 200, denied.text
    disputes = []
    for candidate, words in (
        ("cand-review-" + uuid.uuid4().hex[:6], "Two of five answers were heard on the recording"),
        ("cand-erased-" + uuid.uuid4().hex[:6], "A reason the candidate's erasure must remove"),
    ):
        attestation = await api.call(
            "POST",
            "/attestations",
            "platform",
            "platform-1",
            {
                "mentor_id": str(uuid.uuid4()),
                "candidate_id": candidate,
                "competency": "system-design",
                "score": 2,
                "rubric_version": "2026.1",
                "session_date": "2026-11-01",
                "token_sha256": sha256(uuid.uuid4().bytes),
            },
        )
        assert attestation.status_code == 201, attestation.text
        dispute = await api.call(
            "POST", f"/attestations/{attestation.json()['id']}/disputes", "mentee", candidate, {"reason": "too low"}
        )
        assert dispute.status_code == 201, dispute.text
        current = await api.call("GET", f"/disputes/{dispute.json()['id']}", "support_agent", "agent-1")
        decided = await api.call(
            "POST",
            f"/disputes/{dispute.json()['id']}/transitions",
            "support_agent",
            "agent-1",
            {"to": "decided", "outcome": "upheld", "reasons": words},
            {"If-Match": current.headers["etag"]},
        )
        assert decided.status_code == 200, decided.text
        disputes.append((candidate, dispute.json()["id"], words))
    return {"applicant": applicant, "check": check, "refund": refund.json(), "disputes": disputes}


async def test_a_reviewer_finds_what_the_bundle_was_missing(
    bundles: Bundles, platform: Platform, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    made = await _decisions(client, auth)
    erased_candidate, erased_dispute, erased_words = made["disputes"][1]
    assert await bundles.evidence.vetting.keyring.shred(erased_candidate)
    ready = await bundles.ready()
    text = flat(pdf_text((await bundles.download(ready["id"])).content))

    # The reasons of every decision listed, under the register that lists it.
    vetting_reasons = section(text, "Reasons for vetting decisions and waivers", "Complaints and refunds register")
    assert "approve: rationale recorded in the test" in vetting_reasons
    assert "Interview held by the partner school" in vetting_reasons
    complaint_reasons = section(text, "Reasons for complaint resolutions and refund decisions", "Disputes register")
    assert "double charge confirmed" in complaint_reasons
    assert "refund denied" in complaint_reasons and made["refund"]["id"] in complaint_reasons
    assert "The session started on time according to the platform log" in complaint_reasons
    dispute_reasons = section(text, "Reasons for dispute decisions", "Privacy: consent changes")
    _, kept_dispute, kept_words = made["disputes"][0]
    assert kept_dispute in dispute_reasons and kept_words in dispute_reasons
    assert erased_dispute in dispute_reasons, "an erased subject's decision stays listed"
    assert erased_words not in text and "[erased" in dispute_reasons

    # A never-approved mentor is in their own section, with their waiver.
    never = section(text, "Mentors registered but never approved", "Reasons for vetting decisions")
    assert made["applicant"]["external_id"] in never
    assert platform.mentors[2]["external_id"] in never
    assert platform.mentors[0]["external_id"] not in never

    # A resolved complaint keeps its resolve deadline in the register.
    resolved = (
        await client.get(f"/api/v1/complaints/{platform.complaints[1]['id']}", headers=auth("compliance_officer"))
    ).json()
    assert resolved["state"] == "resolved"
    from governance.complaints.tables import Complaint

    row = (
        await Complaint.select(Complaint.resolve_deadline_at, Complaint.resolve_due_at)
        .where(Complaint.id == uuid.UUID(resolved["id"]))
        .first()
    )
    assert row["resolve_due_at"] is None and row["resolve_deadline_at"] is not None
    register = section(text, "Complaints and refunds register", "Refunds Refund")
    complaint_row = register.split(resolved["id"], 1)[1][:200]
    assert "upheld" in complaint_row and when(row["resolve_deadline_at"]) in complaint_row

    # Each policy file in force, by the SHA-256 of its exact bytes, and its text in the appendix.
    in_force = section(text, "Policies in force during the period", "Audit log checkpoint")
    texts = section(text, "Appendix: policy texts", "Sign-off")
    for name in POLICY_FILES:
        data = (POLICIES / name).read_bytes()
        assert name in in_force
        assert hashlib.sha256(data).hexdigest() in in_force.replace(" ", "")
        assert hashlib.sha256(data).hexdigest() in texts.replace(" ", "")
    assert 'working_days = ["mon", "tue", "wed", "thu", "fri"]' in texts  # sla.toml, verbatim
    assert "[categories.session_recordings]" in texts  # retention.toml

    # The sign-off: who asked, as what, when; then the checkpoint binding the bundle.
    requested = [e for e in await bundles.audit(resource_id=ready["id"]) if e["action"] == "evidence.bundle.requested"]
    sign_off = text.rsplit("Sign-off", 1)[1]
    assert f"Officer {OFFICER}" in sign_off
    assert f"Role(s) when requesting {', '.join(requested[0]['actor']['roles'])}" in sign_off
    assert "compliance_officer" in sign_off
    requested_at = ready["requested_at"].replace("+00:00", "Z")
    assert f"Requested at {requested_at[:19]}" in sign_off
    assert f"Request in the audit log entry {requested[0]['seq']}" in sign_off
    assert sign_off.index("Officer") < sign_off.index("Bound by checkpoint")
    assert f"Tree size {ready['checkpoint_size']}" in sign_off
    checkpoint = (await bundles.download(ready["id"], "manifest")).json()["checkpoint"]
    assert checkpoint["root_hash"] in sign_off.replace(" ", "")
    signature = next(line for line in checkpoint["note"].splitlines() if line.startswith("\u2014 "))
    assert re.sub(r"\s", "", signature) in sign_off.replace(" ", "")
