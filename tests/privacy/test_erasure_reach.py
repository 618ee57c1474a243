"""Erasure reaches every copy: a stored idempotent response, replayed after the subject's
erasure, answers as the erased record reads now, and its row never held the plaintext; an
export file, staff's reasons, dispute evidence, a mentor's specialties and an extension's
reason are stored under the subject's key, so what survives is unreadable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from governance.bootstrap import Services
from governance.complaints.tables import Complaint, ComplaintEvent, Dispute
from governance.core.crypto import SubjectErased
from governance.core.tables import IdempotencyKey
from governance.privacy.tables import DataRequest
from governance.vetting.tables import Mentor

from ..complaints.conftest import Api
from ..complaints.test_disputes import _attest
from ..complaints.test_disputes import _move as _dispute_move
from ..vetting.conftest import SECOND_OFFICER, Vetting
from .conftest import Privacy, new_mentee

DESCRIPTION = "Everything you hold on me, Jane Example of 1 Privet Drive"
REASON = "Refund: the mentor mocked Jane Example's stammer"
RATIONALE = "Approved: Ada Lovelace showed her passport in person"


async def _stored(key: str) -> list[dict[str, Any]]:
    """The rows of a client's key as the database holds them, every column."""
    rows: list[dict[str, Any]] = await IdempotencyKey.raw(
        "SELECT * FROM idempotency_key WHERE idempotency_key = {}", key
    )
    return rows


def _holds(row: dict[str, Any], text: str) -> bool:
    return any(text in str(value) for value in row.values())


async def _erase(privacy: Privacy, client: httpx.AsyncClient, subject: str) -> None:
    filed = await client.post(
        "/api/v1/privacy/requests", json={"type": "erasure", "mentee_id": subject}, headers=privacy.platform()
    )
    assert filed.status_code == 201, filed.text
    done = await privacy.complete(filed.json()["id"])
    assert done["certificate"]["key_shredded"] is True


async def test_a_refund_request_replayed_after_the_mentees_erasure_holds_no_reason(
    api: Api, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    session = f"s-{mentee}"
    await api.paid(session, mentee, 5_000)
    key = f"refund-{mentee}"
    body = {"session_id": session, "amount_minor": 500, "currency": "EUR", "reason": REASON}

    async def request(payload: dict[str, Any]) -> httpx.Response:
        return await api.call("POST", "/refunds", "support_agent", "agent-1", payload, {"Idempotency-Key": key})

    first = await request(body)
    assert first.status_code == 201, first.text
    assert first.json()["reason"] == REASON
    before = await request(body)
    assert (before.headers["idempotent-replayed"], before.json()) == ("true", first.json())
    [row] = await _stored(key)
    assert not _holds(row, REASON), "the stored response is sealed, not plaintext"
    # Decided: no longer a legal hold, so the erasure reaches its reason at once.
    current = await api.call("GET", f"/refunds/{first.json()['id']}", "support_agent", "agent-2")
    denied = await api.call(
        "POST",
        f"/refunds/{first.json()['id']}/transitions",
        "support_agent",
        "agent-2",
        {"to": "denied", "reasons": "outside the refund window"},
        {"If-Match": current.headers["etag"]},
    )
    assert denied.status_code == 200, denied.text

    await _erase(privacy, client, mentee)

    replay = await request(body)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"], "a replay, not a second refund"
    assert replay.json()["reason"] is None
    assert (replay.json()["amount_minor"], replay.json()["mentee_id"]) == (500, mentee)
    assert replay.headers["etag"] == f'"{replay.json()["version"]}"'
    assert REASON not in replay.text
    assert (await request({**body, "amount_minor": 501})).status_code == 422
    [row] = await _stored(key)
    assert not _holds(row, REASON)
    listed = await api.call("GET", f"/refunds?session_id={session}", "support_agent", "agent-1")
    assert [r["id"] for r in listed.json()["items"]] == [first.json()["id"]]


async def test_vetting_decisions_replayed_after_the_mentors_erasure_hold_no_rationale(
    vetting: Vetting, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}", jurisdiction="FR", engagement="volunteer")
    await vetting.pass_everything(mentor["id"])
    propose_key, confirm_key = f"propose-{mentor['id']}", f"confirm-{mentor['id']}"
    body = {"action": "approve", "rationale": RATIONALE}

    async def propose(payload: dict[str, Any]) -> httpx.Response:
        return await client.post(
            f"/api/v1/mentors/{mentor['id']}/decisions",
            json=payload,
            headers={**vetting.officer(), "Idempotency-Key": propose_key},
        )

    async def confirm(decision_id: str) -> httpx.Response:
        return await client.post(
            f"/api/v1/decisions/{decision_id}/confirm",
            headers={**vetting.officer(SECOND_OFFICER), "Idempotency-Key": confirm_key},
        )

    proposed = await propose(body)
    assert proposed.status_code == 201, proposed.text
    confirmed = await confirm(proposed.json()["id"])
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["rationale"] == RATIONALE
    for key in (propose_key, confirm_key):
        [row] = await _stored(key)
        assert not _holds(row, RATIONALE)

    await _erase(privacy, client, mentor["id"])

    replayed_proposal = await propose(body)
    assert (replayed_proposal.status_code, replayed_proposal.headers["idempotent-replayed"]) == (201, "true")
    assert replayed_proposal.json()["id"] == proposed.json()["id"]
    assert replayed_proposal.json()["rationale"] is None
    replayed_confirmation = await confirm(proposed.json()["id"])
    assert (replayed_confirmation.status_code, replayed_confirmation.headers["idempotent-replayed"]) == (200, "true")
    assert (replayed_confirmation.json()["state"], replayed_confirmation.json()["rationale"]) == ("confirmed", None)
    for replay in (replayed_proposal, replayed_confirmation):
        assert RATIONALE not in replay.text
    assert (await propose({**body, "rationale": "another"})).status_code == 422
    for key in (propose_key, confirm_key):
        [row] = await _stored(key)
        assert not _holds(row, RATIONALE)
    assert len(await vetting.audit(action="vetting.decision.confirmed", resource_id=proposed.json()["id"])) == 1


async def test_an_export_file_is_stored_under_the_mentees_key_and_a_surviving_copy_cannot_be_read(
    services: Services, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    access = await privacy.file(mentee, "access", DESCRIPTION)
    await privacy.complete(access["id"])
    download = await client.get(f"/api/v1/privacy/requests/{access['id']}/export", headers=privacy.mentee(mentee))
    assert download.status_code == 200
    [request] = download.json()["modules"]["privacy"]["data_requests"]
    assert request["description"] == DESCRIPTION
    stored = await services.privacy.store.get(f"privacy/exports/{access['id']}.json")
    assert DESCRIPTION.encode() not in stored
    assert mentee.encode() not in stored, "the file as stored is ciphertext, not JSON"

    await _erase(privacy, client, mentee)

    # A copy that outlives the deletion (an object version, a backup) is sealed under a shredded key.
    cipher = await services.keyring.cipher(mentee)

    async def surviving_copy() -> AsyncIterator[bytes]:
        yield stored

    with pytest.raises(SubjectErased):
        [part async for part in cipher.open_segments(surviving_copy(), f"privacy-export:{access['id']}".encode())]
    gone = await client.get(f"/api/v1/privacy/requests/{access['id']}/export", headers=privacy.mentee(mentee))
    assert gone.status_code == 404


async def test_staff_reasons_and_dispute_evidence_about_a_mentee_are_stored_under_their_key(
    api: Api, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    severity, move, evidence = (
        "Jane Example is 15 and was contacted at home",
        "Waiting for Jane's mother to call back",
        "https://drive.example/jane-example-report-card.pdf",
    )
    filed = await api.call(
        "POST",
        "/complaints",
        "support_agent",
        "agent-1",
        {
            "category": "session_quality",
            "description": "x",
            "complainant_id": mentee,
            "severity": "critical",
            "severity_reason": severity,
        },
    )
    assert filed.status_code == 201, filed.text
    complaint = filed.json()
    assert (await api.move(complaint, "acknowledged", reason=move)).status_code == 200
    attestation = await _attest(api, new_mentee(), mentee)
    opened = await api.call(
        "POST", f"/attestations/{attestation['id']}/disputes", "mentee", mentee, {"reason": "r", "evidence": [evidence]}
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    assert dispute["evidence"] == [evidence]
    staff = (await api.call("GET", f"/complaints/{complaint['id']}", "support_agent", "agent-1")).json()
    assert (staff["severity_reason"], staff["history"][-1]["reason"]) == (severity, move)

    [complaint_row] = await Complaint.raw("SELECT * FROM complaint WHERE id = {}", complaint["id"])
    event_rows = await ComplaintEvent.raw("SELECT * FROM complaint_event WHERE complaint_id = {}", complaint["id"])
    [dispute_row] = await Dispute.raw("SELECT * FROM dispute WHERE id = {}", dispute["id"])
    for row in (complaint_row, *event_rows, dispute_row):
        for text in (severity, move, evidence):
            assert not _holds(row, text), f"{text!r} stored in clear"
    # As a move's reason was stored before reasons were sealed: erasure clears it too.
    await ComplaintEvent.update({ComplaintEvent.reason: "Jane's older note"}).where(
        (ComplaintEvent.complaint_id == complaint["id"]) & (ComplaintEvent.to_state == "received")
    )
    # Withdrawn: no longer legal holds, so the erasure reaches their text at once.
    assert (await api.move(complaint, "withdrawn", role="mentee", sub=mentee)).status_code == 200
    assert (await _dispute_move(api, dispute, "withdrawn", "mentee", mentee)).status_code == 200

    await _erase(privacy, client, mentee)

    after = (await api.call("GET", f"/complaints/{complaint['id']}", "support_agent", "agent-1")).json()
    assert after["severity_reason"] is None
    assert [e["reason"] for e in after["history"]] == [None, None, None]
    assert (await api.call("GET", f"/disputes/{dispute['id']}", "support_agent", "agent-1")).json()["evidence"] == []
    event_rows = await ComplaintEvent.raw("SELECT * FROM complaint_event WHERE complaint_id = {}", complaint["id"])
    assert not any(_holds(row, "Jane") for row in event_rows)


async def test_a_mentors_specialties_and_an_extension_reason_are_stored_under_the_subjects_key(
    vetting: Vetting, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    assert mentor["specialties"] == ["interview practice"]
    [row] = await Mentor.raw("SELECT * FROM vetting_mentor WHERE id = {}", mentor["id"])
    assert not _holds(row, "interview practice")

    mentee = new_mentee()
    reason = "Jane Example's sessions are spread over three platforms"
    request = await privacy.file(mentee, "access")
    extended = await privacy.move(request["id"], "extended", extension="P1M", reason=reason)
    assert extended.status_code == 200, extended.text
    own = await client.get(f"/api/v1/privacy/requests/{request['id']}", headers=privacy.mentee(mentee))
    assert own.json()["extension_reason"] == reason, "the requester is told why"
    [row] = await DataRequest.raw("SELECT * FROM privacy_data_request WHERE id = {}", request["id"])
    assert not _holds(row, reason)
    # As specialties were stored before they were sealed: erasure clears them too.
    await Mentor.update({Mentor.specialties: '["Jane\'s old profile"]'}).where(Mentor.id == mentor["id"])

    # Withdrawn: an open request would be a legal hold keeping its own key.
    withdrawn = await privacy.move(request["id"], "withdrawn", headers=privacy.mentee(mentee))
    assert withdrawn.status_code == 200, withdrawn.text

    await _erase(privacy, client, mentor["id"])
    await _erase(privacy, client, mentee)

    after = (await client.get(f"/api/v1/mentors/{mentor['id']}", headers=vetting.officer())).json()
    assert after["specialties"] == []
    [row] = await Mentor.raw("SELECT * FROM vetting_mentor WHERE id = {}", mentor["id"])
    assert not _holds(row, "Jane")
    read = await client.get(f"/api/v1/privacy/requests/{request['id']}", headers=privacy.officer())
    assert read.json()["extension_reason"] is None
