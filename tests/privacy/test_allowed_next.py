"""A data request's ``allowed_next`` tells the truth: walked from ``received`` through every
reachable state (and past the first month, when an extension can no longer be told in
time), every move it lists is accepted, every other one refused with 409."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from governance.core.clock import ManualClock
from governance.core.durations import Duration
from governance.privacy.requests import TRANSITIONS

from ..walk import Workflow
from .conftest import Privacy, new_mentee

LATER = "_later"


async def test_data_requests_allowed_next_tells_the_truth(privacy: Privacy, clock: ManualClock) -> None:
    mentees: dict[str, str] = {}

    async def fresh() -> str:
        mentee = new_mentee()
        filed = await privacy.file(mentee, "rectification")
        mentees[filed["id"]] = mentee
        return str(filed["id"])

    async def read(request_id: str) -> tuple[Any, list[str]]:
        seen = await privacy.client.get(f"/api/v1/privacy/requests/{request_id}", headers=privacy.officer())
        body = seen.json()
        late = clock.now() >= Duration(months=1).add_to(datetime.fromisoformat(body["received_at"]))
        return (body["state"], late), list(body["allowed_next"])

    async def move(request_id: str, target: str) -> int:
        if target == LATER:
            clock.advance(timedelta(days=32))
            return 200
        body = {"extension": "P1M", "reason": "held in several systems", "reason_code": "manifestly_unfounded"}
        return (await privacy.move(request_id, target, **body)).status_code

    async def refused(request_id: str, target: str) -> list[int]:
        body = {"extension": "P1M", "reason": "r", "reason_code": "manifestly_unfounded"}
        # One read for both: had the first refusal moved the request, the second would be 412.
        etag = await privacy.etag(request_id)
        as_staff = await privacy.move(request_id, target, if_match=etag, **body)
        as_requester = await privacy.move(
            request_id, target, privacy.mentee(mentees[request_id]), if_match=etag, **body
        )
        return [as_staff.status_code, as_requester.status_code]

    seen = await Workflow(
        targets=[s for s in TRANSITIONS if s != "received"],
        fresh=fresh,
        read=read,
        move=move,
        refused=refused,
        detours=lambda key: [LATER] if key == ("received", False) else [],
    ).explore()
    assert {state for state, _ in seen} == set(TRANSITIONS)
    assert "extended" not in seen[("received", True)], "too late to extend"
