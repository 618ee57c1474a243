"""``allowed_next`` tells the truth for checks and decisions: walked through every state
reachable by officers' moves, every move it lists is accepted (with the evidence it needs),
every other one refused with 409. The mentor's ``allowed_decisions`` is walked the same way."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from governance.vetting import states

from ..walk import Workflow
from .conftest import PDF, SECOND_OFFICER, Vetting


def ext() -> str:
    return f"walk-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("check_type", ["identity_verification", "background_check"])
async def test_checks_allowed_next_tells_the_truth(
    vetting: Vetting, client: httpx.AsyncClient, check_type: str
) -> None:
    mentor = await vetting.register(ext())
    requirements = (await vetting.dossier(mentor["id"]))["requirements"]
    requirement = next(r for r in requirements if r["check_type"] == check_type)
    # Where passing needs four eyes, the pass is the second officer's (officer-a did the rest).
    passer = SECOND_OFFICER if requirement["four_eyes"] else "officer-a"

    async def fresh() -> str:
        check = await vetting.record(mentor["id"], requirement["check_type"])
        for index in range(requirement["documents_required"]):
            assert (await vetting.upload(check["id"], PDF + f"{uuid.uuid4()}{index}".encode())).status_code == 201
        return str(check["id"])

    async def read(check_id: str) -> tuple[Any, list[str]]:
        dossier = await vetting.dossier(mentor["id"])
        check = next(c for c in dossier["checks"] if c["id"] == check_id)
        return check["state"], list(check["allowed_next"])

    async def move(check_id: str, target: str) -> int:
        sub = passer if target == "passed" else "officer-a"
        first = await vetting.move(check_id, target, sub=sub, justification="not applicable to this role")
        if target == "waived" and first.status_code == 202:  # a second officer grants it
            granted = await vetting.move(check_id, target, sub=SECOND_OFFICER)
            assert granted.status_code == 200, granted.text
        return first.status_code

    async def refuse(check_id: str, target: str) -> list[int]:
        # One read for both: had the first refusal moved the check, the second would be 412.
        etag = (await client.get(f"/api/v1/checks/{check_id}", headers=vetting.officer())).headers["etag"]
        subs = ("officer-a", SECOND_OFFICER)
        return [(await vetting.move(check_id, target, sub=sub, if_match=etag)).status_code for sub in subs]

    seen = await Workflow(targets=states.CHECK_STATES, fresh=fresh, read=read, move=move, refused=refuse).explore()
    # Expiry is the expiry job's move, never an officer's: it is not offered.
    assert set(seen) == set(states.CHECK_STATES) - {"expired"}


async def test_decisions_allowed_next_tells_the_truth(vetting: Vetting, client: httpx.AsyncClient) -> None:
    ready = {"met": True}

    async def fresh() -> str:
        mentor = await vetting.register(ext())
        if ready["met"]:
            await vetting.pass_everything(mentor["id"])
        return str(mentor["id"])

    async def read(mentor_id: str) -> tuple[Any, list[str]]:
        dossier = await vetting.dossier(mentor_id)
        return dossier["mentor"]["status"], list(dossier["allowed_decisions"])

    async def propose(mentor_id: str, action: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/mentors/{mentor_id}/decisions",
            json={"action": action, "rationale": "walked in the test"},
            headers=vetting.officer(),
        )

    async def move(mentor_id: str, action: str) -> int:
        proposed = await propose(mentor_id, action)
        if proposed.status_code != 201:
            return proposed.status_code
        decision = proposed.json()
        assert decision["allowed_next"] == ["confirmed", "rejected", "withdrawn"]
        confirm = f"/api/v1/decisions/{decision['id']}/confirm"
        confirmed = await client.post(confirm, headers=vetting.officer(SECOND_OFFICER))
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["allowed_next"] == []
        again = await client.post(confirm, headers=vetting.officer("officer-c"))
        assert again.status_code == 409 and again.json()["allowed_next"] == []
        return confirmed.status_code

    async def refused(mentor_id: str, action: str) -> list[int]:
        return [(await propose(mentor_id, action)).status_code]

    walk = Workflow(targets=states.DECISION_ACTIONS, fresh=fresh, read=read, move=move, refused=refused)
    seen = await walk.explore()
    assert set(seen) == {"onboarding", "approved", "suspended", "revoked"}
    ready["met"] = False  # a mentor whose checks are not done yet: approval is not offered
    unready = await walk.explore()
    assert unready["onboarding"] == ["revoke"]


async def test_a_proposals_allowed_next_tells_the_truth(vetting: Vetting, client: httpx.AsyncClient) -> None:
    endpoints = {"confirmed": "confirm", "rejected": "reject", "withdrawn": "withdraw"}
    # Who may make each move: four eyes for confirming and rejecting, the proposer to withdraw.
    movers = {"confirmed": SECOND_OFFICER, "rejected": SECOND_OFFICER, "withdrawn": "officer-a"}

    async def fresh() -> tuple[str, str]:
        mentor = await vetting.register(ext())
        proposed = await client.post(
            f"/api/v1/mentors/{mentor['id']}/decisions",
            json={"action": "revoke", "rationale": "walked in the test"},
            headers=vetting.officer(),
        )
        assert proposed.status_code == 201, proposed.text
        return str(mentor["id"]), str(proposed.json()["id"])

    async def read(ids: tuple[str, str]) -> tuple[Any, list[str]]:
        mentor_id, decision_id = ids
        decision = next(d for d in (await vetting.dossier(mentor_id))["decisions"] if d["id"] == decision_id)
        return decision["state"], list(decision["allowed_next"])

    async def attempt(ids: tuple[str, str], target: str, sub: str) -> int:
        path = f"/api/v1/decisions/{ids[1]}/{endpoints[target]}"
        body = {"reasons": "not enough to revoke"} if target == "rejected" else None
        return (await client.post(path, json=body, headers=vetting.officer(sub))).status_code

    async def move(ids: tuple[str, str], target: str) -> int:
        return await attempt(ids, target, movers[target])

    async def refused(ids: tuple[str, str], target: str) -> list[int]:
        return [await attempt(ids, target, movers[target])]

    seen = await Workflow(targets=endpoints, fresh=fresh, read=read, move=move, refused=refused).explore()
    assert seen == {
        "proposed": ["confirmed", "rejected", "withdrawn"],
        "confirmed": [],
        "rejected": [],
        "withdrawn": [],
    }
