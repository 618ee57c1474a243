"""What a mentor sees of their own dossier: what was decided about them, never staff's
deliberation (internal notes, proposals awaiting a second officer, waivers not yet granted)."""

from __future__ import annotations

import uuid

import httpx

from .conftest import SECOND_OFFICER, Vetting

NOTE = "internal: references sounded rehearsed"
PROPOSAL = "internal: suspend while the complaint is investigated"
JUSTIFICATION = "internal: equivalent check held by the partner school"


async def test_a_mentor_does_not_see_staff_deliberation_in_their_dossier_and_staff_do(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.approved_mentor(f"ext-{uuid.uuid4().hex[:10]}")
    check = await vetting.record(mentor["id"], "interview", notes=NOTE)
    assert (await vetting.move(check["id"], "in_review")).status_code == 200
    asked = await vetting.move(check["id"], "waived", justification=JUSTIFICATION)
    assert asked.status_code == 202, asked.text
    proposed = await client.post(
        f"/api/v1/mentors/{mentor['id']}/decisions",
        json={"action": "suspend", "rationale": PROPOSAL},
        headers=vetting.officer(),
    )
    assert proposed.status_code == 201, proposed.text

    own = await client.get(f"/api/v1/mentors/{mentor['id']}/dossier", headers=vetting.mentor(mentor["id"]))
    assert own.status_code == 200
    [waiting] = [c for c in own.json()["checks"] if c["id"] == check["id"]]
    assert "notes" not in waiting
    assert waiting["waiver_request"] is None
    assert [d["action"] for d in own.json()["decisions"]] == ["approve"]
    for internal in (NOTE, PROPOSAL, JUSTIFICATION):
        assert internal not in own.text

    for role in ("compliance_officer", "support_agent"):
        staff = await client.get(f"/api/v1/mentors/{mentor['id']}/dossier", headers=vetting.auth(role, sub="s-1"))
        [seen] = [c for c in staff.json()["checks"] if c["id"] == check["id"]]
        assert seen["notes"] == NOTE
        assert seen["waiver_request"]["justification"] == JUSTIFICATION
        assert [(d["action"], d["rationale"]) for d in staff.json()["decisions"]][-1] == ("suspend", PROPOSAL)

    # Once decided, it is the mentor's to know.
    assert (await vetting.move(check["id"], "waived", sub=SECOND_OFFICER)).status_code == 200
    confirmed = await client.post(
        f"/api/v1/decisions/{proposed.json()['id']}/confirm", headers=vetting.officer(SECOND_OFFICER)
    )
    assert confirmed.status_code == 200, confirmed.text
    after = await client.get(f"/api/v1/mentors/{mentor['id']}/dossier", headers=vetting.mentor(mentor["id"]))
    [waived] = [c for c in after.json()["checks"] if c["id"] == check["id"]]
    assert waived["waiver_request"]["justification"] == JUSTIFICATION
    assert [(d["action"], d["rationale"]) for d in after.json()["decisions"]][-1] == ("suspend", PROPOSAL)
    assert "notes" not in waived
