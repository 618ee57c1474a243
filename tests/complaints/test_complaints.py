"""Complaints over HTTP: filing, the state machine with If-Match, SLA pauses and breaches, ownership."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from governance.bootstrap import Services
from governance.core.clock import ManualClock

from ..conftest import AuthHeaders
from .conftest import Api, new_id


async def _audit(client: httpx.AsyncClient, auth: AuthHeaders, resource_id: str) -> list[dict]:
    response = await client.get(
        "/api/v1/audit/entries", params={"resource_id": resource_id, "limit": 500}, headers=auth("auditor")
    )
    assert response.status_code == 200
    return list(response.json()["items"])


async def test_a_complaint_is_worked_from_filing_to_closing(
    api: Api, client: httpx.AsyncClient, auth: AuthHeaders, clock: ManualClock
) -> None:
    filed = await api.file(sub="mentee-walk", category="billing", description="Charged twice", session_id="s-walk")
    assert filed["state"] == "received"
    assert filed["severity"] == "medium"
    assert filed["description"] == "Charged twice"
    assert filed["sla"]["acknowledge_due"] is not None
    for to in ("acknowledged", "investigating", "awaiting_complainant"):
        response = await api.move(filed, to)
        assert response.status_code == 200, response.text
    paused = response.json()
    assert paused["sla"]["paused"] is True
    assert paused["sla"]["resolve_due"] is None
    clock.advance(timedelta(days=3))
    # The complainant answers with a note: the clock runs again.
    note = await api.call(
        "POST", f"/complaints/{filed['id']}/notes", "mentee", "mentee-walk", {"body": "Receipt attached"}
    )
    assert note.status_code == 201, note.text
    resumed = (await api.call("GET", f"/complaints/{filed['id']}", "mentee", "mentee-walk")).json()
    assert resumed["state"] == "investigating"
    assert resumed["sla"]["paused"] is False
    assert resumed["sla"]["resolve_due"] is not None
    resolved = await api.move(
        filed, "resolved", outcome="upheld", remedies=["refund", "apology"], reasons="Double charge"
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["outcome"] == "upheld"
    assert body["resolution_reasons"] == "Double charge"
    assert body["appeal_until"] is not None
    closed = await api.move(filed, "closed")
    assert closed.json()["state"] == "closed"
    states = [e["to_state"] for e in closed.json()["history"]]
    assert states == [
        "received",
        "acknowledged",
        "investigating",
        "awaiting_complainant",
        "investigating",
        "resolved",
        "closed",
    ]
    entries = await _audit(client, auth, filed["id"])
    actions = [e["action"] for e in entries]
    assert actions[0] == "complaint.filed"
    assert actions.count("complaint.transitioned") == 6
    assert "Charged twice" not in str(entries), "audit details never hold the plaintext description"


async def test_transitions_need_if_match_and_a_stale_one_is_refused(api: Api) -> None:
    filed = await api.file(sub="mentee-etag")
    path = f"/complaints/{filed['id']}/transitions"
    missing = await api.call("POST", path, "support_agent", "agent-1", {"to": "acknowledged"})
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    ok = await api.call("POST", path, "support_agent", "agent-1", {"to": "acknowledged"}, {"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    stale = await api.call("POST", path, "support_agent", "agent-1", {"to": "investigating"}, {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"2"'
    garbled = await api.call("POST", path, "support_agent", "agent-1", {"to": "investigating"}, {"If-Match": "*"})
    assert garbled.status_code == 400
    after = (await api.call("GET", f"/complaints/{filed['id']}", "support_agent", "agent-1")).json()
    assert after["state"] == "acknowledged" and after["version"] == 2


async def test_an_illegal_transition_answers_409_with_the_allowed_states(api: Api) -> None:
    filed = await api.file(sub="mentee-409")
    response = await api.move(filed, "closed")
    assert response.status_code == 409
    problem = response.json()
    assert problem["allowed_next"] == ["acknowledged", "escalated", "withdrawn"]
    assert "acknowledged" in problem["detail"]


async def test_resolving_needs_an_outcome_and_reasons_and_changes_nothing_without(api: Api) -> None:
    filed = await api.file(sub="mentee-400")
    await api.move(filed, "acknowledged")
    await api.move(filed, "investigating")
    response = await api.move(filed, "resolved", reasons="fine")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "outcome"
    response = await api.move(filed, "resolved", outcome="upheld")
    assert response.json()["errors"][0]["field"] == "reasons"
    assert (await api.call("GET", f"/complaints/{filed['id']}", "support_agent", "a")).json()[
        "state"
    ] == "investigating"


async def test_only_the_complainant_withdraws_and_staff_cannot_act_for_them(api: Api) -> None:
    filed = await api.file(sub="mentee-wd")
    by_agent = await api.move(filed, "withdrawn")
    assert by_agent.status_code == 403
    by_owner = await api.move(filed, "withdrawn", role="mentee", sub="mentee-wd")
    assert by_owner.status_code == 200
    assert by_owner.json()["state"] == "withdrawn"


async def test_a_mentee_reads_their_own_complaint_and_not_anothers(api: Api) -> None:
    filed = await api.file(sub="mentee-own")
    mine = await api.call("GET", f"/complaints/{filed['id']}", "mentee", "mentee-own")
    assert mine.status_code == 200
    theirs = await api.call("GET", f"/complaints/{filed['id']}", "mentee", "mentee-other")
    assert theirs.status_code == 403
    acting = await api.call(
        "POST",
        f"/complaints/{filed['id']}/transitions",
        "mentee",
        "mentee-other",
        {"to": "withdrawn"},
        {"If-Match": '"1"'},
    )
    assert acting.status_code == 403
    listed = await api.call("GET", "/complaints", "mentee", "mentee-other")
    assert listed.status_code == 200
    assert all(item["complainant_id"] == "mentee-other" for item in listed.json()["items"])
    assert filed["id"] not in {item["id"] for item in listed.json()["items"]}
    own_list = await api.call("GET", "/complaints", "mentee", "mentee-own")
    assert [item["id"] for item in own_list.json()["items"]] == [filed["id"]]


async def test_a_mentee_files_only_for_themselves(api: Api) -> None:
    response = await api.call(
        "POST",
        "/complaints",
        "mentee",
        "mentee-x",
        {"category": "other", "description": "x", "complainant_id": "mentee-y"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "complainant_id"
    platform = await api.call(
        "POST", "/complaints", "platform", "platform-1", {"category": "other", "description": "x"}
    )
    assert platform.status_code == 400
    assert platform.json()["errors"][0]["field"] == "complainant_id"


async def test_safeguarding_escalates_at_once_as_system(api: Api, client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    filed = await api.file(sub="mentee-sg", category="safeguarding", description="Worrying messages")
    assert filed["state"] == "escalated"
    assert filed["severity"] == "critical"
    assert filed["history"][-1]["actor"] == "system"
    entries = await _audit(client, auth, filed["id"])
    assert [e["action"] for e in entries] == ["complaint.filed", "complaint.escalated"]
    assert entries[1]["actor"]["sub"] == "system"


async def test_a_missed_deadline_flags_and_escalates_once(
    services: Services, api: Api, client: httpx.AsyncClient, auth: AuthHeaders, clock: ManualClock
) -> None:
    from governance.complaints.scan import run_scan

    filed = await api.file(sub="mentee-breach", category="other")
    complaints = services.complaints
    await run_scan(complaints, clock.now())
    assert (await api.call("GET", f"/complaints/{filed['id']}", "support_agent", "a")).json()["sla"][
        "breached"
    ] is False
    clock.advance(timedelta(days=10))  # past the two-working-day acknowledgement target, whatever the weekday
    first = await run_scan(complaints, clock.now())
    again = await run_scan(complaints, clock.now())
    assert first.complaints_flagged >= 1
    after = (await api.call("GET", f"/complaints/{filed['id']}", "support_agent", "a")).json()
    assert after["state"] == "escalated"
    assert after["sla"]["breached"] is True
    assert "acknowledge" in after["sla"]["breaches"]
    assert after["sla"]["acknowledge_due"] is None
    entries = await _audit(client, auth, filed["id"])
    assert [e["action"] for e in entries].count("complaint.sla_breached") == 1, "a breach is flagged once"
    assert again.complaints_flagged == 0
    breached = await api.call("GET", "/complaints?breached=true&state=escalated", "support_agent", "a")
    assert filed["id"] in {item["id"] for item in breached.json()["items"]}


async def test_a_resolved_complaint_can_be_reopened_within_the_window_only(api: Api, clock: ManualClock) -> None:
    filed = await api.file(sub="mentee-appeal")
    for to in ("acknowledged", "investigating"):
        await api.move(filed, to)
    await api.move(filed, "resolved", outcome="not_upheld", reasons="Session took place")
    reopened = await api.move(filed, "reopened", role="mentee", sub="mentee-appeal")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["sla"]["resolve_due"] is not None
    await api.move(filed, "investigating")
    await api.move(filed, "resolved", outcome="not_upheld", reasons="Still")
    clock.advance(timedelta(days=31))
    late = await api.move(filed, "reopened", role="mentee", sub="mentee-appeal")
    assert late.status_code == 409
    assert late.json()["type"] == "/problems/appeal-window-closed"


async def test_a_bad_cursor_and_a_bad_filter_name_the_parameter(api: Api) -> None:
    bad = await api.call("GET", "/complaints?cursor=nonsense", "support_agent", "a")
    assert bad.status_code == 400
    wrong_state = await api.call("GET", "/complaints?state=lost", "support_agent", "a")
    assert wrong_state.status_code == 400
    assert "state" in wrong_state.text


async def test_lists_page_through_every_complaint_once(api: Api) -> None:
    ids = {(await api.file(sub="mentee-pages", category="privacy"))["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        path = "/complaints?category=privacy&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.call("GET", path, "compliance_officer", "o")).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids <= set(seen)
    assert len(seen) == len(set(seen))


async def test_an_unknown_complaint_is_404_for_staff(api: Api) -> None:
    response = await api.call("GET", f"/complaints/{new_id()}", "support_agent", "a")
    assert response.status_code == 404


async def test_no_audit_entry_no_change(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from governance.audit import service as audit

    filed = await api.file(sub="mentee-atomic")

    async def refuse(**kwargs: object) -> None:
        raise OSError("audit log unavailable")

    monkeypatch.setattr(audit, "record_change", refuse)
    response = await api.move(filed, "acknowledged")
    assert response.status_code == 500
    monkeypatch.undo()
    after = (await api.call("GET", f"/complaints/{filed['id']}", "support_agent", "a")).json()
    assert (after["state"], after["version"], len(after["history"])) == ("received", 1, 1)
