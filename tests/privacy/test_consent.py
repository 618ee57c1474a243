"""Notices, preferences, GPC, receipts, history, expiry and the permission check, through the API."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import httpx
import pytest
from piccolo.querystring import QueryString

from governance.bootstrap import Services
from governance.core import db
from governance.core.clock import ManualClock
from governance.privacy import consent
from governance.privacy.policy import Notice, PolicyError
from governance.privacy.service import register_notices
from governance.privacy.tables import ConsentRecord

from ..conftest import AuthHeaders
from .conftest import ANALYTICS, RECRUITERS, SHARE, Privacy, new_mentee


async def test_notices_are_public_with_purposes_and_versions(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/privacy/notices")
    assert response.status_code == 200
    purposes = {p["name"]: p for p in response.json()["purposes"]}
    share = purposes[SHARE]
    assert share["lawful_basis"] == "consent"
    # The published words agree with the preferences of a mentee who never chose.
    assert share["consent_model"] == "opt_in"
    assert share["default"] == "opt_out"
    assert share["sharing"] is True
    assert share["validity"] == "P1Y"
    assert share["current_notice_version"] == 1
    assert set(share["notices"][0]["text"]) >= {"en", "fr"}
    assert purposes[ANALYTICS]["consent_model"] == "opt_out"
    assert purposes[ANALYTICS]["default"] == "opt_in"
    assert {c["name"] for c in response.json()["retention"]} >= {"complaint_files", "data_request_records"}


async def test_the_published_default_is_the_state_of_a_mentee_who_never_chose(
    client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    published = {p["name"]: p["default"] for p in (await client.get("/api/v1/privacy/notices")).json()["purposes"]}
    response = await client.get(
        f"/api/v1/privacy/mentees/{new_mentee()}/preferences", headers=auth("platform", sub="platform-1")
    )
    assert response.status_code == 200, response.text
    states = {p["purpose"]: (p["state"], p["method"]) for p in response.json()["preferences"]["purposes"]}
    assert states == {name: (default, "default") for name, default in published.items()}


async def test_opt_in_then_gpc_opts_out_and_the_history_says_how(privacy: Privacy) -> None:
    mentee = new_mentee()
    assert (await privacy.permission(mentee, SHARE))["allowed"] is False  # opt_in purpose: off by default
    changed = await privacy.choose(mentee, **{SHARE: "opt_in"})
    receipt = changed["receipt"]
    [record] = receipt["purposes"]
    allowed = await privacy.permission(mentee, SHARE)
    assert allowed["allowed"] is True
    assert allowed["record_id"] == record["record_id"]
    assert allowed["method"] == "explicit"

    gpc = await privacy.put(mentee, gpc=True)
    assert gpc.status_code == 200
    assert [p["consent_type"] for p in gpc.json()["receipt"]["purposes"]] == ["gpc"]
    denied = await privacy.permission(mentee, SHARE)
    assert denied["allowed"] is False
    assert denied["method"] == "gpc"

    history = await privacy.history(mentee)
    assert [(h["purpose"], h["state"], h["method"]) for h in history] == [
        (SHARE, "opt_in", "explicit"),
        (SHARE, "opt_out", "gpc"),
    ]
    assert all(h["notice_version"] == 1 for h in history)
    assert denied["record_id"] == history[1]["id"]
    # Only sharing purposes that were allowed are touched: analytics (not sharing) stays on.
    assert (await privacy.permission(mentee, ANALYTICS))["allowed"] is True


async def test_gpc_yields_to_an_explicit_opt_in_in_the_same_request(privacy: Privacy) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in", RECRUITERS: "opt_in"})
    response = await privacy.put(mentee, gpc=True, preferences={SHARE: "opt_in"})
    assert response.status_code == 200
    methods = {p["purpose"]: (p["state"], p["consent_type"]) for p in response.json()["receipt"]["purposes"]}
    assert methods == {SHARE: ("opt_in", "explicit"), RECRUITERS: ("opt_out", "gpc")}
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True
    assert (await privacy.permission(mentee, RECRUITERS))["allowed"] is False


async def test_a_gpc_read_of_preferences_opts_out_too(privacy: Privacy, client: httpx.AsyncClient) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    headers = {**privacy.mentee(mentee), "Sec-GPC": "1"}
    read = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=headers)
    assert read.status_code == 200
    state = {p["purpose"]: p for p in read.json()["preferences"]["purposes"]}
    assert state[SHARE]["allowed"] is False
    assert state[SHARE]["method"] == "gpc"
    again = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=headers)
    assert again.json()["receipt"] is None, "nothing left to opt out of: no new record"


async def test_another_mentees_preferences_answer_403(privacy: Privacy, client: httpx.AsyncClient) -> None:
    mentee, other = new_mentee(), new_mentee()
    changed = await privacy.choose(mentee, **{SHARE: "opt_in"})
    assert (await privacy.put(mentee, headers=privacy.mentee(other), preferences={SHARE: "opt_out"})).status_code == 403
    read = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=privacy.mentee(other))
    assert read.status_code == 403
    receipt_id = changed["receipt"]["receipt_id"]
    assert (
        await client.get(f"/api/v1/privacy/receipts/{receipt_id}", headers=privacy.mentee(other))
    ).status_code == 403
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True


async def test_the_platform_changes_preferences_for_a_mentee_and_the_receipt_can_be_fetched(
    privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    response = await privacy.put(
        mentee,
        headers=privacy.platform(),
        preferences={RECRUITERS: "opt_in"},
        language="fr",
        jurisdiction="FR",
        source="mobile-app",
    )
    assert response.status_code == 200, response.text
    receipt = response.json()["receipt"]
    assert receipt["pii_principal_id"] == mentee
    assert receipt["jurisdiction"] == "FR"
    assert receipt["language"] == "fr"
    assert receipt["pii_controllers"][0]["contact"]
    [purpose] = receipt["purposes"]
    assert purpose["lawful_basis"] == "consent"
    assert purpose["third_party_disclosure"] is True
    assert purpose["notice"]["version"] == 1
    assert purpose["source"] == "mobile-app"
    fetched = await client.get(f"/api/v1/privacy/receipts/{receipt['receipt_id']}", headers=privacy.mentee(mentee))
    assert fetched.status_code == 200
    assert fetched.json() == receipt
    [entry] = await privacy.audit(action="privacy.consent.changed", resource_id=receipt["receipt_id"])
    assert entry["actor"]["sub"] == "platform-1"
    assert entry["details"]["records"][0]["id"] == purpose["record_id"]


async def test_unknown_purposes_and_languages_are_named(privacy: Privacy, client: httpx.AsyncClient) -> None:
    mentee = new_mentee()
    unknown = await privacy.put(mentee, preferences={"selling_data": "opt_in"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "preferences.selling_data"
    language = await privacy.put(mentee, preferences={SHARE: "opt_in"}, language="de")
    assert language.status_code == 400
    assert language.json()["errors"][0]["field"] == "language"
    check = await client.get(
        f"/api/v1/privacy/mentees/{mentee}/permissions", params={"purpose": "nope"}, headers=privacy.platform()
    )
    assert check.status_code == 400
    assert await privacy.history(mentee) == []


async def test_a_consent_past_its_validity_lapses_to_the_default_and_is_listed_for_reconsent(
    services: Services, privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in", ANALYTICS: "opt_out"})
    clock.advance(timedelta(days=2 * 366 + 1))  # past both validities (P1Y, P2Y)
    # Lapsed for every reader at once, before the job records it.
    lapsed = await privacy.permission(mentee, SHARE)
    assert (lapsed["allowed"], lapsed["method"]) == (False, "expired")
    assert (await privacy.permission(mentee, ANALYTICS))["allowed"] is True  # back to its opt_out default

    assert (await consent.expire(services.privacy, clock.now())).lapsed >= 2
    history = await privacy.history(mentee)
    assert {(h["purpose"], h["method"], h["state"]) for h in history[-2:]} == {
        (SHARE, "expired", "opt_out"),
        (ANALYTICS, "expired", "opt_in"),
    }
    listed = await client.get("/api/v1/privacy/reconsent", params={"limit": "500"}, headers=privacy.platform())
    assert {(r["mentee_id"], r["purpose"]) for r in listed.json()["items"]} >= {(mentee, SHARE), (mentee, ANALYTICS)}
    prefs = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=privacy.mentee(mentee))
    assert {p["purpose"] for p in prefs.json()["preferences"]["purposes"] if p["needs_reconsent"]} == {SHARE, ANALYTICS}
    assert (await consent.expire(services.privacy, clock.now())).lapsed == 0

    await privacy.choose(mentee, **{SHARE: "opt_in"})
    listed = await client.get("/api/v1/privacy/reconsent", params={"limit": "500"}, headers=privacy.platform())
    assert (mentee, SHARE) not in {(r["mentee_id"], r["purpose"]) for r in listed.json()["items"]}
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True


async def test_consent_history_is_append_only_in_the_database(privacy: Privacy, client: httpx.AsyncClient) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    for statement in (
        "UPDATE privacy_consent_record SET state = 'opt_out' WHERE subject = {}",
        "DELETE FROM privacy_consent_record WHERE subject = {}",
        "DELETE FROM privacy_consent_receipt WHERE subject = {}",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with db.transaction():
                await db.engine().run_querystring(QueryString(statement, mentee))
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True


async def test_a_published_notice_text_cannot_change(
    services: Services, client: httpx.AsyncClient, clock: ManualClock, auth: AuthHeaders
) -> None:
    service = services.privacy
    await register_notices(service, clock.now())
    assert await register_notices(service, clock.now()) == 0
    purpose = service.policy.purposes[SHARE]
    edited = dataclasses.replace(
        purpose, notices=(Notice(SHARE, 1, "2026-11-01", {**purpose.notices[0].text, "en": "Something else."}),)
    )
    tampered = dataclasses.replace(
        service, policy=dataclasses.replace(service.policy, purposes={**service.policy.purposes, SHARE: edited})
    )
    with pytest.raises(PolicyError, match=f"{SHARE}:1:en"):
        await register_notices(tampered, clock.now())
    republished = dataclasses.replace(
        purpose, notices=(*purpose.notices, Notice(SHARE, 2, "2026-12-01", {"en": "Something else."}))
    )
    newer = dataclasses.replace(
        service, policy=dataclasses.replace(service.policy, purposes={**service.policy.purposes, SHARE: republished})
    )
    assert await register_notices(newer, clock.now()) == 1
    published = await Privacy(client, auth).audit(action="privacy.notice.published")
    assert any(f"{SHARE}:2:en" in entry["details"]["versions"] for entry in published)


async def test_a_mentee_may_shorten_only_the_categories_that_allow_it(privacy: Privacy) -> None:
    mentee = new_mentee()
    ok = await privacy.put(mentee, retention={"data_exports": "P7D"})
    assert ok.status_code == 200
    assert ok.json()["preferences"]["retention"] == {"data_exports": "P7D"}
    longer = await privacy.put(mentee, retention={"data_exports": "P1Y"})
    assert longer.status_code == 400
    fixed = await privacy.put(mentee, retention={"complaint_files": "P1D"})
    assert fixed.status_code == 400
    assert fixed.json()["errors"][0]["field"] == "retention.complaint_files"


async def test_a_change_made_by_another_instance_is_seen_by_the_next_check(
    privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    """The check answers from a per-process cache; a write that never announced itself here
    (another instance, a cron command) must still show at once."""
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True  # now cached
    record_id = uuid.uuid4()
    async with db.transaction():
        # What another instance writes: a later record, without this process's announcement.
        await ConsentRecord.insert(
            ConsentRecord(
                id=record_id,
                subject=mentee,
                purpose=SHARE,
                state="opt_out",
                method="explicit",
                notice_version=1,
                language="en",
                jurisdiction="GB",
                source="elsewhere",
                actor=mentee,
                recorded_at=clock.now(),
                expires_at=clock.now() + timedelta(days=30),
                receipt_id=None,
                recorded_entry_id=2**40,  # a later entry, as another instance queues it
            )
        )
    seen = await privacy.permission(mentee, SHARE)
    assert (seen["allowed"], seen["record_id"]) == (False, str(record_id))


async def test_a_forged_history_cursor_answers_400(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    from governance.core.pagination import encode_cursor

    response = await client.get(
        "/api/v1/privacy/mentees/mentee-cursor/preferences/history",
        params={"cursor": encode_cursor({"seq": 1, "id": "not-a-uuid"})},
        headers=auth("mentee", sub="mentee-cursor"),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"
