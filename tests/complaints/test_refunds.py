"""Refunds: bounded by what was paid, four eyes above the threshold, Idempotency-Key exactly once."""

from __future__ import annotations

import asyncio

import httpx

from governance.core.tables import IdempotencyKey

from ..conftest import AuthHeaders
from .conftest import Api, new_id


async def _paid(api: Api, session_id: str, amount: int = 50_000, mentee: str = "mentee-r") -> None:
    await api.paid(session_id, mentee, amount)


async def _refund(api: Api, body: dict, key: str, role: str = "support_agent", sub: str = "agent-0") -> httpx.Response:
    # Requested by agent-0, so that agent-1 (the moves' default) may approve it.
    return await api.call("POST", "/refunds", role, sub, body, {"Idempotency-Key": key})


async def _move(api: Api, refund: dict, to: str, role: str = "support_agent", sub: str = "agent-1", **body: object):
    if to in ("approved", "denied"):  # a decision states its reasons unless the test says otherwise
        body.setdefault("reasons", f"{sub} looked at the complaint")
    current = await api.call("GET", f"/refunds/{refund['id']}", role, sub)
    return await api.call(
        "POST",
        f"/refunds/{refund['id']}/transitions",
        role,
        sub,
        {"to": to, **body},
        {"If-Match": current.headers["etag"]},
    )


async def test_a_refund_above_the_threshold_needs_a_second_different_approver(api: Api) -> None:
    session = "s-" + new_id()
    await _paid(api, session)
    created = await _refund(
        api, {"session_id": session, "amount_minor": 20_000, "currency": "EUR", "reason": "upheld"}, new_id()
    )
    assert created.status_code == 201, created.text
    refund = created.json()
    assert refund["approvals_needed"] == 2 and refund["state"] == "requested"
    first = await _move(api, refund, "approved", sub="agent-1")
    assert first.status_code == 200
    assert first.json()["state"] == "requested" and first.json()["approved_by"] == ["agent-1"]
    again = await _move(api, refund, "approved", sub="agent-1")
    assert again.status_code == 403
    assert again.json()["type"] == "/problems/four-eyes"
    second = await _move(api, refund, "approved", role="compliance_officer", sub="officer-1")
    assert second.json()["state"] == "approved"
    early = await _move(api, refund, "issued", sub="agent-1", payment_reference="pay-1")
    assert early.status_code == 403, "only the platform reports the payout"
    issued = await _move(api, refund, "issued", role="platform", sub="platform-1", payment_reference="pay-1")
    assert issued.json()["state"] == "issued" and issued.json()["payment_reference"] == "pay-1"
    final = await _move(api, refund, "failed", role="platform", sub="platform-1", reason="x")
    assert final.status_code == 409 and final.json()["allowed_next"] == []


async def test_a_small_refund_needs_one_approval(api: Api) -> None:
    session = "s-" + new_id()
    await _paid(api, session)
    refund = (
        await _refund(api, {"session_id": session, "amount_minor": 500, "currency": "EUR", "reason": "r"}, new_id())
    ).json()
    assert refund["approvals_needed"] == 1
    assert (await _move(api, refund, "approved")).json()["state"] == "approved"


async def test_refunds_never_exceed_what_was_paid(api: Api) -> None:
    session = "s-" + new_id()
    await _paid(api, session, amount=1_000)
    body = {"session_id": session, "amount_minor": 600, "currency": "EUR", "reason": "partial"}
    assert (await _refund(api, body, new_id())).status_code == 201
    too_much = await _refund(api, body, new_id())
    assert too_much.status_code == 400
    assert too_much.json()["errors"][0]["field"] == "amount_minor"
    assert too_much.json()["refundable_minor"] == 400
    wrong_currency = await _refund(api, {**body, "amount_minor": 100, "currency": "USD"}, new_id())
    assert wrong_currency.json()["errors"][0]["field"] == "currency"
    unknown = await _refund(api, {**body, "session_id": "s-never-paid"}, new_id())
    assert unknown.status_code == 409
    payment = await api.call(
        "PUT", f"/sessions/{session}/payment", "platform", "p", {"mentee_id": "m", "amount_minor": 5, "currency": "EUR"}
    )
    assert payment.status_code == 409, "a reported payment is not rewritten"


async def test_a_refund_linked_to_a_complaint_takes_its_session(api: Api) -> None:
    session = "s-" + new_id()
    await _paid(api, session, mentee="mentee-linked")
    complaint = await api.file(sub="mentee-linked", category="billing", session_id=session)
    created = await _refund(
        api, {"complaint_id": complaint["id"], "amount_minor": 100, "currency": "EUR", "reason": "r"}, new_id()
    )
    assert created.status_code == 201, created.text
    assert created.json()["session_id"] == session
    assert created.json()["mentee_id"] == "mentee-linked"
    mine = await api.call("GET", "/refunds", "mentee", "mentee-linked")
    assert [r["id"] for r in mine.json()["items"]] == [created.json()["id"]]
    assert (await api.call("GET", f"/refunds/{created.json()['id']}", "mentee", "mentee-linked")).status_code == 200
    assert (await api.call("GET", f"/refunds/{created.json()['id']}", "mentee", "mentee-else")).status_code == 403
    other = await api.call("GET", "/refunds", "mentee", "mentee-else")
    assert other.json()["items"] == []


async def test_the_same_key_replays_and_another_body_is_refused(api: Api) -> None:
    session = "s-" + new_id()
    await _paid(api, session)
    key = new_id()
    body = {"session_id": session, "amount_minor": 300, "currency": "EUR", "reason": "r"}
    first = await _refund(api, body, key)
    replay = await _refund(api, {"reason": "r", "currency": "EUR", "amount_minor": 300, "session_id": session}, key)
    assert replay.status_code == first.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    different = await _refund(api, {**body, "amount_minor": 301}, key)
    assert different.status_code == 422
    another_caller = await _refund(api, body, key, sub="agent-2")
    assert another_caller.status_code == 201 and another_caller.json()["id"] != first.json()["id"], (
        "keys are per caller"
    )
    missing = await api.call("POST", "/refunds", "support_agent", "agent-1", body)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_twenty_concurrent_posts_with_one_key_create_exactly_one_refund(
    api: Api, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    session = "s-" + new_id()
    await _paid(api, session)
    key = new_id()
    body = {"session_id": session, "amount_minor": 700, "currency": "EUR", "reason": "r"}
    responses = await asyncio.gather(*(_refund(api, body, key, role="platform", sub="platform-1") for _ in range(20)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    listed = await client.get(f"/api/v1/refunds?session_id={session}", headers=auth("compliance_officer"))
    assert len(listed.json()["items"]) == 1
    assert await IdempotencyKey.count().where(IdempotencyKey.idempotency_key == key) == 1
    found = await client.get(
        "/api/v1/audit/entries",
        params={"action": "refund.requested", "resource_id": responses[0].json()["id"]},
        headers=auth("auditor"),
    )
    assert len(found.json()["items"]) == 1


async def test_approvals_and_denials_carry_their_reasons(api: Api) -> None:
    import hashlib

    import msgspec

    from governance.complaints.tables import Refund

    session, mentee = "s-" + new_id(), "mentee-" + new_id()
    await _paid(api, session, mentee=mentee)
    body = {"session_id": session, "amount_minor": 20_000, "currency": "EUR", "reason": "never happened"}
    refund = (await _refund(api, body, new_id())).json()
    for missing in (None, ""):
        refused = await _move(api, refund, "approved", sub="agent-1", reasons=missing)
        assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "reasons", refused.text
    first = await _move(api, refund, "approved", sub="agent-1", reasons="the mentor confirmed the no-show")
    assert [(a["approver"], a["reasons"]) for a in first.json()["approvals"]] == [
        ("agent-1", "the mentor confirmed the no-show")
    ]
    waiting = (await api.call("GET", f"/refunds/{refund['id']}", "mentee", mentee)).json()
    assert waiting["approvals"] == [], "an approval awaiting its second is staff's deliberation"
    second = await _move(api, refund, "approved", role="compliance_officer", sub="officer-1", reasons="policy 4.2")
    assert second.json()["state"] == "approved"
    seen = (await api.call("GET", f"/refunds/{refund['id']}", "mentee", mentee)).json()
    assert [a["reasons"] for a in seen["approvals"]] == ["the mentor confirmed the no-show", "policy 4.2"]
    row = await Refund.select(Refund.approvals).where(Refund.id == refund["id"]).first()
    sealed = [a["reasons"] for a in msgspec.json.decode(row["approvals"])]
    entries = (
        await api.call("GET", f"/audit/entries?resource_id={refund['id']}&action=refund.", "auditor", "aud")
    ).json()["items"]
    bound = [e["details"].get("reasons_sha256") for e in entries if e["action"] != "refund.requested"]
    assert bound == [hashlib.sha256(s.encode()).hexdigest() for s in sealed]
    assert "policy 4.2" not in msgspec.json.encode(entries).decode()

    other = "s-" + new_id()
    await _paid(api, other, mentee=mentee)
    denied_refund = (await _refund(api, {**body, "session_id": other}, new_id())).json()
    unexplained = await _move(api, denied_refund, "denied", reasons=None)
    assert unexplained.status_code == 400 and unexplained.json()["errors"][0]["field"] == "reasons"
    denied = await _move(api, denied_refund, "denied", reasons="the session took place")
    assert denied.json()["state"] == "denied" and denied.json()["failure_reason"] == "the session took place"
    [entry] = (
        await api.call("GET", f"/audit/entries?resource_id={denied_refund['id']}&action=refund.denied", "auditor", "a")
    ).json()["items"]
    assert len(entry["details"]["reasons_sha256"]) == 64


async def test_the_requester_never_approves_their_own_refund(api: Api) -> None:
    for amount, needed in ((500, 1), (20_000, 2)):
        session = "s-" + new_id()
        await _paid(api, session)
        body = {"session_id": session, "amount_minor": amount, "currency": "EUR", "reason": "r"}
        refund = (await _refund(api, body, new_id(), sub="agent-9")).json()
        assert refund["approvals_needed"] == needed
        own = await _move(api, refund, "approved", sub="agent-9")
        assert own.status_code == 403, own.text
        assert own.headers["content-type"].startswith("application/problem+json")
        assert own.json()["type"] == "/problems/four-eyes" and own.json()["requested_by"] == "agent-9"
        after = (await api.call("GET", f"/refunds/{refund['id']}", "support_agent", "agent-1")).json()
        assert (after["state"], after["approved_by"], after["version"]) == ("requested", [], refund["version"])
        if needed == 2:
            assert (await _move(api, refund, "approved", sub="agent-1")).json()["state"] == "requested"
            again = await _move(api, refund, "approved", role="compliance_officer", sub="agent-9")
            assert again.status_code == 403, "nor as the second of two approvers"
        assert (await _move(api, refund, "denied", sub="agent-9", reasons="withdrawn")).status_code == 200, (
            "the requester may still deny (withdraw) their own request"
        )
        entries = (
            await api.call(
                "GET", f"/audit/entries?resource_id={refund['id']}&action=refund.approval_refused", "auditor", "a"
            )
        ).json()["items"]
        assert [(e["actor"]["sub"], e["outcome"], e["details"]["reason"]) for e in entries] == [
            ("agent-9", "denied", "requester cannot approve")
        ] * (1 if needed == 1 else 2)
