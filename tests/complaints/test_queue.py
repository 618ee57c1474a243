"""The support queue by SLA deadline (``?sort=due``): soonest first, undated last, paged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from governance.core.clock import ManualClock

from .conftest import Api, new_id


async def _queue(api: Api, agent: str, limit: int, sort: str = "due") -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        path = f"/complaints?assignee={agent}&sort={sort}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await api.call("GET", path, "support_agent", agent)
        assert response.status_code == 200, response.text
        seen += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return seen


async def test_the_queue_by_due_date_puts_the_soonest_first_and_undated_last_across_pages(
    api: Api, clock: ManualClock
) -> None:
    agent = "agent-" + new_id()

    async def filed(severity: str, *moves: dict[str, Any], tick: bool = True) -> str:
        if tick:
            clock.advance(timedelta(minutes=1))
        complaint = (
            await api.call(
                "POST",
                "/complaints",
                "support_agent",
                agent,
                {
                    "category": "other",
                    "description": "x",
                    "complainant_id": "mentee-" + new_id(),
                    "severity": severity,
                    "severity_reason": "triage",
                },
            )
        ).json()
        assert (await api.move(complaint, "acknowledged", sub=agent)).status_code == 200
        for move in moves:
            moved = await api.move(complaint, sub=agent, **move)
            assert moved.status_code == 200, moved.text
        return str(complaint["id"])

    resolve = {"to": "resolved", "outcome": "not_upheld", "reasons": "Checked"}
    low = await filed("low")
    clock.advance(timedelta(minutes=5))
    closed = await filed("high", {"to": "investigating"}, resolve, {"to": "closed"})
    paused = await filed("medium", {"to": "investigating"}, {"to": "awaiting_complainant"})
    medium = [await filed("medium"), await filed("medium", tick=False)]  # the same deadline: ties go by id
    clock.advance(timedelta(minutes=5))
    critical = await filed("critical")
    resolved = await filed("low", {"to": "investigating"}, resolve)

    everything = await _queue(api, agent, 500)
    dated = [c for c in everything if c["next_due"] is not None]
    undated = [c for c in everything if c["next_due"] is None]
    assert {c["id"] for c in dated} == {low, critical, *medium}
    assert {c["id"] for c in undated} == {closed, paused, resolved}
    expected = [
        *sorted(dated, key=lambda c: (c["next_due"], c["id"])),
        *sorted(undated, key=lambda c: (c["received_at"], c["id"])),
    ]
    assert everything == expected, "dated soonest first, then undated oldest first"
    assert everything[0]["id"] == critical, "the case closest to breaching leads the queue"
    assert [c["id"] for c in everything[-3:]] == [closed, paused, resolved]
    for limit in (1, 2, 3, 4, 5):  # page edges before, at and after the boundary
        assert await _queue(api, agent, limit) == expected, f"limit={limit}"
    assert await _queue(api, agent, 2, sort="received") == sorted(
        everything, key=lambda c: (c["received_at"], c["id"]), reverse=True
    )


async def test_a_cursor_keeps_its_order(api: Api) -> None:
    agent = "agent-" + new_id()
    for _ in range(3):
        complaint = await api.file(sub="mentee-" + new_id())
        assert (await api.move(complaint, "acknowledged", sub=agent)).status_code == 200
    by_due = (await api.call("GET", f"/complaints?assignee={agent}&sort=due&limit=1", "support_agent", agent)).json()
    newest = (await api.call("GET", f"/complaints?assignee={agent}&limit=1", "support_agent", agent)).json()
    crossed = [
        await api.call("GET", f"/complaints?assignee={agent}&cursor={by_due['next_cursor']}", "support_agent", agent),
        await api.call(
            "GET", f"/complaints?assignee={agent}&sort=due&cursor={newest['next_cursor']}", "support_agent", agent
        ),
    ]
    for response in crossed:
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "cursor"
    unknown = await api.call("GET", "/complaints?sort=severity", "support_agent", agent)
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "sort"
