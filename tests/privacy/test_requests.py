"""Data subject requests through the API: states, due dates, extension, exports and erasure."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import httpx
from click.testing import CliRunner

from governance.audit import service as audit_service
from governance.bootstrap import Services
from governance.cli import main
from governance.core.clock import ManualClock
from governance.core.durations import parse_duration
from governance.privacy.tables import DataRequest
from governance.settings import Settings

from ..vetting.conftest import Vetting
from .conftest import SHARE, Privacy, new_mentee

DESCRIPTION = "Please send me everything, I am Jane Example of 1 Privet Drive"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_request_is_due_in_one_calendar_month_and_listed_when_overdue(
    privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentee = new_mentee()
    filed = await privacy.file(mentee, "access")
    assert filed["state"] == "received"
    assert instant(filed["due_at"]) == parse_duration("P1M").add_to(instant(filed["received_at"]))
    assert filed["allowed_next"] == ["withdrawn"], "the requester may only withdraw"

    overdue = await client.get("/api/v1/privacy/requests", params={"overdue": "true"}, headers=privacy.officer())
    assert filed["id"] not in {r["id"] for r in overdue.json()["items"]}
    clock.advance(timedelta(days=32))
    overdue = await client.get(
        "/api/v1/privacy/requests", params={"overdue": "true", "limit": "500"}, headers=privacy.officer()
    )
    assert filed["id"] in {r["id"] for r in overdue.json()["items"]}
    assert all(r["overdue"] for r in overdue.json()["items"])


async def test_a_mentee_sees_only_their_own_requests(privacy: Privacy, client: httpx.AsyncClient) -> None:
    mentee, other = new_mentee(), new_mentee()
    mine = await privacy.file(mentee, "access", DESCRIPTION)
    theirs = await privacy.file(other, "erasure")
    listed = await client.get("/api/v1/privacy/requests", params={"limit": "500"}, headers=privacy.mentee(mentee))
    assert [r["id"] for r in listed.json()["items"]] == [mine["id"]]
    assert listed.json()["items"][0]["description"] == DESCRIPTION
    stranger = await client.get(f"/api/v1/privacy/requests/{theirs['id']}", headers=privacy.mentee(mentee))
    assert stranger.status_code == 403
    withdraw = await privacy.move(theirs["id"], "withdrawn", headers=privacy.mentee(mentee))
    assert withdraw.status_code == 403
    for_someone = await client.post(
        "/api/v1/privacy/requests", json={"type": "access", "mentee_id": other}, headers=privacy.mentee(mentee)
    )
    assert for_someone.status_code == 403
    # The description is personal: the audit log holds references only.
    [entry] = await privacy.audit(action="privacy.request.received", resource_id=mine["id"])
    assert DESCRIPTION not in str(entry)


async def test_the_platform_files_for_a_mentee_and_must_name_them(privacy: Privacy, client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/v1/privacy/requests", json={"type": "objection"}, headers=privacy.platform())
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "mentee_id"
    mentee = new_mentee()
    filed = await client.post(
        "/api/v1/privacy/requests", json={"type": "objection", "mentee_id": mentee}, headers=privacy.platform()
    )
    assert filed.status_code == 201
    assert filed.json()["mentee_id"] == mentee


async def test_one_extension_of_at_most_two_months_with_a_reason_before_the_month_ends(
    privacy: Privacy, clock: ManualClock
) -> None:
    mentee = new_mentee()
    filed = await privacy.file(mentee, "portability")
    received = instant(filed["received_at"])
    no_reason = await privacy.move(filed["id"], "extended", extension="P2M")
    assert no_reason.status_code == 422
    too_long = await privacy.move(filed["id"], "extended", extension="P3M", reason="many systems")
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "extension"
    extended = await privacy.move(filed["id"], "extended", extension="P2M", reason="data held in many systems")
    assert extended.status_code == 200, extended.text
    body = extended.json()
    assert instant(body["due_at"]) == parse_duration("P3M").add_to(received)
    assert body["extension_reason"] == "data held in many systems"
    seen = await privacy.client.get(f"/api/v1/privacy/requests/{filed['id']}", headers=privacy.mentee(mentee))
    assert seen.json()["extension_reason"] == "data held in many systems", "the requester is told why"
    again = await privacy.move(filed["id"], "extended", extension="P1M", reason="more")
    assert again.status_code == 409
    assert "extended" not in again.json()["allowed"]

    late = await privacy.file(mentee, "access")
    clock.advance(timedelta(days=32))
    refused = await privacy.move(late["id"], "extended", extension="P1M", reason="too late now")
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/extension-too-late"
    [entry] = await privacy.audit(action="privacy.request.extended", resource_id=filed["id"])
    assert entry["details"]["told_to_requester"] is True
    row = await DataRequest.select(DataRequest.extension_reason).where(DataRequest.id == filed["id"]).first()
    assert entry["details"]["reasons_sha256"] == hashlib.sha256(row["extension_reason"].encode()).hexdigest()


async def test_rejection_needs_a_reason_code_and_closed_requests_do_not_move(privacy: Privacy) -> None:
    mentee = new_mentee()
    filed = await privacy.file(mentee, "rectification")
    assert (await privacy.move(filed["id"], "rejected")).status_code == 422
    unexplained = await privacy.move(filed["id"], "rejected", reason_code="manifestly_unfounded")
    assert unexplained.status_code == 422, "a code alone does not tell the requester why"
    assert unexplained.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in unexplained.json()["errors"]] == ["reason"]
    words = "The same rectification was asked for and made last week"
    rejected = await privacy.move(filed["id"], "rejected", reason_code="manifestly_unfounded", reason=words)
    assert rejected.status_code == 200
    assert rejected.json()["reason_code"] == "manifestly_unfounded"
    assert rejected.json()["rejection_reason"] == words
    told = await privacy.client.get(f"/api/v1/privacy/requests/{filed['id']}", headers=privacy.mentee(mentee))
    assert told.json()["rejection_reason"] == words, "the requester is told why"
    row = await DataRequest.select(DataRequest.rejection_reason).where(DataRequest.id == filed["id"]).first()
    [entry] = await privacy.audit(action="privacy.request.rejected", resource_id=filed["id"])
    assert entry["details"]["reasons_sha256"] == hashlib.sha256(row["rejection_reason"].encode()).hexdigest()
    assert words not in str(entry)
    assert rejected.json()["closed_at"] is not None
    reopened = await privacy.move(filed["id"], "in_progress")
    assert reopened.status_code == 409
    assert reopened.json()["allowed"] == []


async def test_the_requester_may_withdraw_but_not_complete(privacy: Privacy) -> None:
    mentee = new_mentee()
    filed = await privacy.file(mentee, "restriction")
    assert (await privacy.move(filed["id"], "in_progress")).status_code == 200
    completed = await privacy.move(filed["id"], "completed", headers=privacy.mentee(mentee))
    assert completed.status_code == 409
    withdrawn = await privacy.move(filed["id"], "withdrawn", headers=privacy.mentee(mentee))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["state"] == "withdrawn"


async def test_a_request_answers_its_etag_and_a_move_needs_if_match(
    privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    filed = await client.post(
        "/api/v1/privacy/requests", json={"type": "erasure", "description": DESCRIPTION}, headers=privacy.mentee(mentee)
    )
    assert filed.status_code == 201
    request_id = filed.json()["id"]
    assert filed.headers["etag"] == '"1"'
    read = await client.get(f"/api/v1/privacy/requests/{request_id}", headers=privacy.mentee(mentee))
    assert read.headers["etag"] == '"1"'

    missing = await privacy.move(request_id, "in_progress", if_match=None)
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["header"] == "If-Match"

    moved = await privacy.move(request_id, "in_progress", if_match='"1"')
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == '"2"' and moved.json()["version"] == 2

    # The erasure a stale client asks for is refused and changes nothing: the key survives.
    stale = await privacy.move(request_id, "completed", if_match='"1"')
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_etag"] == '"2"'
    withdrawn = await privacy.move(request_id, "withdrawn", headers=privacy.mentee(mentee), if_match=None)
    assert withdrawn.status_code == 428
    after = await client.get(f"/api/v1/privacy/requests/{request_id}", headers=privacy.mentee(mentee))
    assert after.json()["state"] == "in_progress"
    assert after.json()["description"] == DESCRIPTION
    assert [e["action"] for e in await privacy.audit(resource_id=request_id)].count("privacy.request.completed") == 0


async def test_an_access_request_exports_everything_held_and_the_download_is_audited(
    privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    await privacy.put(mentee, gpc=True)
    filed = await privacy.file(mentee, "access", DESCRIPTION)
    assert (
        await client.get(f"/api/v1/privacy/requests/{filed['id']}/export", headers=privacy.mentee(mentee))
    ).status_code == 404
    done = await privacy.complete(filed["id"])
    assert done["export_available"] is True

    download = await client.get(f"/api/v1/privacy/requests/{filed['id']}/export", headers=privacy.mentee(mentee))
    assert download.status_code == 200
    export = download.json()
    assert export["mentee_id"] == mentee
    history = export["modules"]["privacy"]["consent_history"]
    assert [(h["purpose"], h["method"]) for h in history] == [(SHARE, "explicit"), (SHARE, "gpc")]
    assert len(export["modules"]["privacy"]["consent_receipts"]) == 2
    [request] = export["modules"]["privacy"]["data_requests"]
    assert request["description"] == DESCRIPTION
    actions = {e["action"] for e in export["audit_entries"]}
    assert {"privacy.consent.changed", "privacy.request.received", "privacy.request.in_progress"} <= actions
    assert "vetting" in export["modules"]

    other = new_mentee()
    assert (
        await client.get(f"/api/v1/privacy/requests/{filed['id']}/export", headers=privacy.mentee(other))
    ).status_code == 403
    [entry] = await privacy.audit(action="privacy.export.downloaded", resource_id=filed["id"])
    assert entry["actor"]["sub"] == mentee
    [completed] = await privacy.audit(action="privacy.request.completed", resource_id=filed["id"])
    assert completed["details"]["export"]["key"] == f"privacy/exports/{filed['id']}.json"


async def test_an_export_lists_the_ratings_a_mentee_gave(
    privacy: Privacy, client: httpx.AsyncClient, vetting: Vetting
) -> None:
    mentee = new_mentee()
    mentor = await vetting.register(f"ext-{mentee}")
    rated = await client.post(
        f"/api/v1/mentors/{mentor['id']}/ratings",
        json={"session_id": f"s-{mentee}", "mentee_id": mentee, "score": 5, "session_at": "2026-11-01T10:00:00Z"},
        headers=privacy.platform(),
    )
    assert rated.status_code == 201, rated.text
    filed = await privacy.file(mentee, "portability")
    await privacy.complete(filed["id"])
    export = (await client.get(f"/api/v1/privacy/requests/{filed['id']}/export", headers=privacy.mentee(mentee))).json()
    [rating] = export["modules"]["vetting"]["ratings_given"]
    assert rating["score"] == 5


async def test_erasure_shreds_personal_fields_gives_a_certificate_and_the_log_still_verifies(
    services: Services, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    access = await privacy.file(mentee, "access", DESCRIPTION)
    await privacy.complete(access["id"])
    erasure = await privacy.file(mentee, "erasure", "erase me")
    done = await privacy.complete(erasure["id"])
    certificate = done["certificate"]
    assert certificate["mentee_id"] == mentee
    assert certificate["key_shredded"] is True
    erased = {(e["module"], e["record_type"]): e["count"] for e in certificate["erased"]}
    assert erased[("privacy", "data_request.description")] == 2
    assert erased[("privacy", "export_file")] == 1
    kept = {(k["module"], k["record_type"]): k["reason"] for k in certificate["kept"]}
    assert "Art. 7(1)" in kept[("privacy", "consent_record")]
    assert certificate["consents_withdrawn"] == [SHARE, "product_analytics"]
    assert "evidence bundles" in certificate["not_reached"], "the certificate says what the keys cannot reach"

    read = await client.get(f"/api/v1/privacy/requests/{access['id']}", headers=privacy.officer())
    assert read.json()["description"] is None, "personal fields are unreadable"
    assert read.json()["export_available"] is False
    denied = await privacy.permission(mentee, SHARE)
    assert (denied["allowed"], denied["method"]) == (False, "erasure")
    [entry] = await privacy.audit(action="privacy.request.completed", resource_id=erasure["id"])
    assert entry["details"]["key_shredded"] is True
    # Issued as the erasure commits, the certificate cites its entry by id; once the sequencer
    # has numbered it (the search above waits for that), a reader sees its number too.
    assert certificate["audit_entry_id"] == done["audit_entry_id"] is not None
    reread = await client.get(f"/api/v1/privacy/requests/{erasure['id']}", headers=privacy.officer())
    assert reread.json()["certificate"]["audit_seq"] == reread.json()["audit_seq"] == entry["seq"]
    log_key = services.log_key
    assert (await audit_service.verify(log_key)).ok


async def test_erasing_a_mentor_keeps_vetting_evidence_and_rerenders_the_dossier(
    privacy: Privacy, client: httpx.AsyncClient, vetting: Vetting
) -> None:
    mentor = await vetting.register(f"ext-{new_mentee()}")
    before = await vetting.dossier(mentor["id"])
    filed = await client.post(
        "/api/v1/privacy/requests", json={"type": "erasure", "mentee_id": mentor["id"]}, headers=privacy.platform()
    )
    assert filed.status_code == 201
    done = await privacy.complete(filed.json()["id"])
    kept = {(k["module"], k["record_type"]) for k in done["certificate"]["kept"]}
    assert ("vetting", "mentor") in kept
    after = await client.get(f"/api/v1/mentors/{mentor['id']}", headers=vetting.officer())
    assert after.status_code == 200
    assert after.json()["display_name"] is None
    assert after.json()["email"] is None
    assert after.json()["version"] > mentor["version"]
    assert (await vetting.dossier(mentor["id"]))["mentor"]["display_name"] is None
    assert before["mentor"]["display_name"] is not None


async def test_identity_verification_then_completion_of_a_request_without_an_export(privacy: Privacy) -> None:
    mentee = new_mentee()
    filed = await privacy.file(mentee, "rectification", "my name is misspelt")
    assert (await privacy.move(filed["id"], "identity_verification")).status_code == 200
    verified = await privacy.move(filed["id"], "in_progress")
    assert verified.json()["allowed_next"] == ["extended", "completed", "rejected", "withdrawn"]
    done = await privacy.move(filed["id"], "completed")
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["export_available"], done.json()["certificate"]) == (
        "completed",
        False,
        None,
    )
    moves = [e["action"] for e in await privacy.audit(resource_id=filed["id"])]
    assert moves == [
        "privacy.request.received",
        "privacy.request.identity_verification",
        "privacy.request.in_progress",
        "privacy.request.completed",
    ]


def test_governance_audit_verify_stays_ok_after_an_erasure(settings: Settings) -> None:
    """The operator's command, after a mentee with personal data in audit details was erased."""
    mentee = new_mentee()

    async def erase() -> None:
        from governance.core import db
        from governance.core.crypto import Keyring, LocalMasterKey
        from governance.core.identity import Identity
        from governance.core.storage import object_store
        from governance.privacy import requests
        from governance.privacy.schemas import DataRequestFiling, RequestTransition
        from governance.privacy.service import Privacy as PrivacyService
        from governance.wiring import export_document
        from governance.wiring import subject_registry as registry

        await db.start(settings)
        try:
            keyring = Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file))
            store = object_store(settings)
            service = PrivacyService.configure(settings, keyring, store, registry(keyring, store), export_document)
            now = datetime.now(UTC)
            me = Identity(sub=mentee, roles=("mentee",))
            officer = Identity(sub="officer-a", roles=("compliance_officer",))
            filed = await requests.file(
                service, DataRequestFiling(type="erasure", description=DESCRIPTION), me, True, now
            )
            await requests.transition(service, filed.id, RequestTransition(to="in_progress"), officer, False, now, 1)
            done = await requests.transition(
                service, filed.id, RequestTransition(to="completed"), officer, False, now, 2
            )
            assert done.certificate is not None and done.certificate["key_shredded"] is True
            assert (await requests.get(service, filed.id, now, False)).description is None
        finally:
            await db.stop()

    asyncio.run(erase())
    result = CliRunner().invoke(main, ["audit", "verify"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK")
