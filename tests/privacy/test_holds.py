"""Erasure and legal holds: a case under a hold stays readable by the staff working it until
the hold ends; everything else of the subject is erased at once; the sweep finishes the job."""

from __future__ import annotations

from typing import Any

import httpx

from governance.audit import service as audit_service
from governance.bootstrap import Services
from governance.core.clock import ManualClock
from governance.privacy import retention

from ..complaints.conftest import Api
from .conftest import Privacy, new_mentee

REASON = "Jane Example was charged twice: the mentor never joined the call"
ABOUT_ME = "Please correct my surname, it is Example-Smith"


async def _refund(api: Api, mentee: str) -> dict[str, Any]:
    session = f"s-{mentee}"
    await api.paid(session, mentee, 5_000)
    body = {"session_id": session, "amount_minor": 500, "currency": "EUR", "reason": REASON}
    requested = await api.call("POST", "/refunds", "support_agent", "agent-1", body, {"Idempotency-Key": mentee})
    assert requested.status_code == 201, requested.text
    return dict(requested.json())


async def _read_refund(api: Api, refund: dict[str, Any]) -> httpx.Response:
    read = await api.call("GET", f"/refunds/{refund['id']}", "support_agent", "agent-2")
    assert read.status_code == 200, read.text
    return read


async def test_an_open_refund_stays_readable_through_an_erasure_until_its_hold_ends_and_the_sweep(
    services: Services, api: Api, privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentee = new_mentee()
    refund = await _refund(api, mentee)
    answered = await privacy.file(mentee, "rectification", ABOUT_ME)
    await privacy.complete(answered["id"])
    erasure = await client.post(
        "/api/v1/privacy/requests", json={"type": "erasure", "mentee_id": mentee}, headers=privacy.platform()
    )
    assert erasure.status_code == 201, erasure.text

    certificate = (await privacy.complete(erasure.json()["id"]))["certificate"]

    # The certificate says what was kept, why, and until when.
    [kept] = certificate["kept_under_hold"]
    assert (kept["record_type"], kept["record_id"]) == ("refund", refund["id"])
    assert kept["why"] == "refund in progress (requested)"
    assert kept["until"] == "until the case closes"
    assert kept["personal_text_kept"] is True
    assert certificate["key_shredded"] is True
    # The agent working the refund still reads its reason; everything else is gone at once.
    assert (await _read_refund(api, refund)).json()["reason"] == REASON
    other = await client.get(f"/api/v1/privacy/requests/{answered['id']}", headers=privacy.officer())
    assert other.json()["description"] is None
    # A sweep while the hold lasts leaves the case's key alone.
    during = await retention.sweep(services.privacy, clock.now(), dry_run=False)
    assert (await _read_refund(api, refund)).json()["reason"] == REASON
    assert not await privacy.audit(action="privacy.erasure.hold_ended", resource_id=refund["id"])
    assert during.dry_run is False

    current = await _read_refund(api, refund)
    denied = await api.call(
        "POST",
        f"/refunds/{refund['id']}/transitions",
        "support_agent",
        "agent-2",
        {"to": "denied", "reasons": "the mentor did join; recording attached"},
        {"If-Match": current.headers["etag"]},
    )
    assert denied.status_code == 200, denied.text
    assert denied.json()["reason"] == REASON, "still held until the sweep runs"
    dry = await retention.sweep(services.privacy, clock.now(), dry_run=True)
    assert dry.held_keys_destroyed >= 1
    assert (await _read_refund(api, refund)).json()["reason"] == REASON, "a dry run destroys nothing"

    swept = await retention.sweep(services.privacy, clock.now(), dry_run=False)

    assert swept.held_keys_destroyed >= 1
    after = (await _read_refund(api, refund)).json()
    assert after["reason"] is None
    assert (after["amount_minor"], after["state"]) == (500, "denied"), "the financial record is kept"
    [ended] = await privacy.audit(action="privacy.erasure.hold_ended", resource_id=refund["id"])
    assert ended["details"]["mentee_id"] == mentee
    log_key = services.log_key
    assert (await audit_service.verify(log_key)).ok


async def test_a_mentee_without_open_cases_is_erased_whole_and_the_certificate_keeps_nothing_under_hold(
    api: Api, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    refund = await _refund(api, mentee)
    current = await _read_refund(api, refund)
    denied = await api.call(
        "POST",
        f"/refunds/{refund['id']}/transitions",
        "support_agent",
        "agent-2",
        {"to": "denied", "reasons": "outside the window"},
        {"If-Match": current.headers["etag"]},
    )
    assert denied.status_code == 200, denied.text
    erasure = await privacy.file(mentee, "erasure")
    certificate = (await privacy.complete(erasure["id"]))["certificate"]
    assert certificate["kept_under_hold"] == [] and certificate["legal_holds"] == []
    assert (await _read_refund(api, refund)).json()["reason"] is None
