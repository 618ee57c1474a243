"""Checks through the API: every transition, waivers with four eyes, evidence rules, bad input."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from governance.core.clock import ManualClock
from governance.vetting import states

from .conftest import DETAILS, PDF, SECOND_OFFICER, Vetting

# The moves that bring a fresh (pending) check to each state.
PATHS: dict[str, list[tuple[str, str]]] = {
    "pending": [],
    "in_review": [("in_review", "officer-a")],
    "passed": [("in_review", "officer-a"), ("passed", "officer-a")],
    "failed": [("failed", "officer-a")],
    "waived": [("in_review", "officer-a"), ("waived", "officer-a"), ("waived", SECOND_OFFICER)],
}
BODY = {"justification": "Equivalent check held by the partner school", "notes": "reviewed"}


async def _check_in(vetting: Vetting, state: str) -> dict[str, Any]:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}", jurisdiction="FR", engagement="volunteer")
    check = await vetting.record(mentor["id"], "interview")  # no documents required
    for target, sub in PATHS[state]:
        response = await vetting.move(check["id"], target, sub=sub, **BODY)
        assert response.status_code in {200, 202}, response.text
    return check


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, t in itertools.product(states.CHECK_STATES, repeat=2) if s != "expired"],
)
async def test_every_move_through_the_api(vetting: Vetting, source: str, target: str) -> None:
    check = await _check_in(vetting, source)
    response = await vetting.move(check["id"], target, **BODY)
    allowed = states.allowed_check_moves(source, "officer")  # type: ignore[arg-type]
    if target in allowed:
        assert response.status_code in {200, 202}, response.text
        landed = response.json()["check"]["state"]
        assert landed == (source if target == "waived" else target), "a waiver waits for a second officer"
    else:
        assert response.status_code == 409, response.text
        assert response.json()["allowed"] == allowed
        assert response.json()["current"] == source


async def test_a_waiver_needs_a_justification_and_a_second_officer(vetting: Vetting) -> None:
    check = await _check_in(vetting, "in_review")
    bare = await vetting.move(check["id"], "waived")
    assert bare.status_code == 422
    assert bare.json()["errors"][0]["field"] == "justification"
    asked = await vetting.move(check["id"], "waived", justification="held elsewhere")
    assert asked.status_code == 202
    assert asked.json()["effective"] is False
    assert asked.json()["check"]["waiver_request"]["requested_by"] == "officer-a"
    same = await vetting.move(check["id"], "waived")
    assert same.status_code == 403
    granted = await vetting.move(check["id"], "waived", sub=SECOND_OFFICER)
    assert granted.status_code == 200
    waived = granted.json()["check"]
    assert waived["state"] == "waived"
    assert waived["reviewed_by"] == SECOND_OFFICER
    assert waived["current"] is True
    assert waived["expires_at"] is not None


async def test_passing_needs_the_evidence_the_requirements_name(vetting: Vetting) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    check = await vetting.record(mentor["id"], "professional_credential", details={"credential": "ICF PCC"})
    await vetting.move(check["id"], "in_review")
    refused = await vetting.move(check["id"], "passed")
    assert refused.status_code == 422
    assert refused.json()["documents_attached"] == 0
    assert refused.json()["details_missing"] == ["issuing_body"]
    assert (await vetting.upload(check["id"], PDF)).status_code == 201
    passed = await vetting.move(check["id"], "passed", details={"issuing_body": "ICF"})
    assert passed.status_code == 200, passed.text
    assert passed.json()["check"]["details"]["credential"] == "ICF PCC"


async def test_a_criminal_record_check_is_passed_by_an_officer_who_had_no_hand_in_it(vetting: Vetting) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    [requirement] = [r for r in (await vetting.dossier(mentor["id"]))["requirements"] if r["four_eyes"]]
    assert requirement["check_type"] == "background_check"
    check = await vetting.record(mentor["id"], "background_check")  # officer-a records its details
    assert (await vetting.upload(check["id"], PDF, headers=vetting.officer("officer-c"))).status_code == 201
    assert (await vetting.move(check["id"], "in_review", sub="officer-d")).status_code == 200
    for sub, did, extra in (
        ("officer-a", ["recorded details"], {}),
        ("officer-c", ["uploaded a document"], {}),
        ("officer-d", ["moved it to review"], {}),
        (SECOND_OFFICER, ["recorded details"], {"details": {"certificate_number": "002"}}),
    ):
        refused = await vetting.move(check["id"], "passed", sub=sub, **extra)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "/problems/four-eyes" and refused.json()["involvement"] == did
        assert did[0] in refused.json()["detail"]
    entries = await vetting.audit(resource_id=check["id"], action="vetting.check.pass_refused")
    assert [(e["actor"]["sub"], e["outcome"], e["details"]["involvement"]) for e in entries] == [
        ("officer-a", "denied", ["recorded details"]),
        ("officer-c", "denied", ["uploaded a document"]),
        ("officer-d", "denied", ["moved it to review"]),
        (SECOND_OFFICER, "denied", ["recorded details"]),
    ]
    unchanged = next(c for c in (await vetting.dossier(mentor["id"]))["checks"] if c["id"] == check["id"])
    assert (unchanged["state"], unchanged["details"]["certificate_number"]) == ("in_review", "001234567890")
    passed = await vetting.move(check["id"], "passed", sub=SECOND_OFFICER)
    assert passed.status_code == 200, passed.text
    assert (passed.json()["check"]["state"], passed.json()["check"]["reviewed_by"]) == ("passed", SECOND_OFFICER)
    # Checks of other types are still one officer's work.
    assert (await vetting.pass_check(mentor["id"], "identity_verification", 1))["reviewed_by"] == "officer-a"


async def test_a_certificate_is_valid_from_its_own_date_not_from_the_review(
    vetting: Vetting, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    [dated] = [
        r for r in (await vetting.dossier(mentor["id"]))["requirements"] if r["check_type"] == "background_check"
    ]
    assert "issued_on" in dated["details_required"] and dated["valid_from"] == "evidence_date"
    issued = clock.now().date() - timedelta(days=300)  # a one-year certificate with 65 days left
    passed = await vetting.pass_check(mentor["id"], "background_check", 1, issued_on=issued.isoformat())
    expires = datetime.combine(issued.replace(year=issued.year + 1), time.min, tzinfo=UTC)
    assert datetime.fromisoformat(passed["valid_from"]) == datetime.combine(issued, time.min, tzinfo=UTC)
    assert datetime.fromisoformat(passed["expires_at"]) == expires
    [shown] = [c for c in (await vetting.dossier(mentor["id"]))["checks"] if c["id"] == passed["id"]]
    assert datetime.fromisoformat(shown["expires_at"]) == expires and shown["current"] is True
    listed = await client.get("/api/v1/vetting/expiring", params={"within": "P90D"}, headers=vetting.officer())
    [soon] = [item for item in listed.json() if item["check_id"] == passed["id"]]
    assert datetime.fromisoformat(soon["expires_at"]) == expires and soon["days_left"] in (64, 65)
    # A check type without valid_from = "evidence_date" still runs from the pass.
    interview = await vetting.pass_check(mentor["id"], "interview", 0, issued_on=issued.isoformat())
    assert datetime.fromisoformat(interview["valid_from"]) == clock.now()


async def test_a_pass_needs_a_sound_evidence_date_where_validity_runs_from_it(
    vetting: Vetting, clock: ManualClock
) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    today = clock.now().date()
    undated = {k: v for k, v in DETAILS.items() if k != "issued_on"}
    check = await vetting.record(mentor["id"], "background_check", details=undated)
    assert (await vetting.upload(check["id"], PDF)).status_code == 201
    assert (await vetting.move(check["id"], "in_review")).status_code == 200
    missing = await vetting.move(check["id"], "passed", sub=SECOND_OFFICER)
    assert missing.status_code == 422, missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["type"] == "/problems/evidence-missing" and missing.json()["details_missing"] == ["issued_on"]
    for bad in ("2026-13-01", "01/03/2026", "20260301", (today + timedelta(days=1)).isoformat()):
        recorded = await vetting.client.post(
            f"/api/v1/mentors/{mentor['id']}/checks",
            json={"check_type": "background_check", "details": {**undated, "issued_on": bad}},
            headers=vetting.officer(),
        )
        assert recorded.status_code == 422, (bad, recorded.text)
        assert recorded.json()["errors"][0]["field"] == "details.issued_on"
        moved = await vetting.move(check["id"], "pending", details={"issued_on": bad})
        assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "details.issued_on", moved.text
    too_old = (today - timedelta(days=400)).isoformat()
    assert (await vetting.move(check["id"], "pending", details={"issued_on": too_old})).status_code == 200
    assert (await vetting.move(check["id"], "in_review")).status_code == 200
    lapsed = await vetting.move(check["id"], "passed", sub=SECOND_OFFICER)
    assert lapsed.status_code == 422 and lapsed.json()["type"] == "/problems/validity", "the certificate ran out"
    assert (await vetting.move(check["id"], "pending", details={"issued_on": today.isoformat()})).status_code == 200
    assert (await vetting.move(check["id"], "in_review")).status_code == 200
    chosen = await vetting.move(check["id"], "passed", sub=SECOND_OFFICER, valid_from=clock.now().isoformat())
    assert chosen.status_code == 422 and chosen.json()["errors"][0]["field"] == "valid_from", "the evidence dates it"
    assert (await vetting.move(check["id"], "passed", sub=SECOND_OFFICER)).status_code == 200


async def test_a_certificate_that_runs_out_sooner_shortens_the_validity(vetting: Vetting) -> None:
    check = await _check_in(vetting, "in_review")
    response = await vetting.move(check["id"], "passed", expires_at="2099-01-01T00:00:00Z")
    # An interview is valid three years: a later date from the caller is capped.
    assert response.json()["check"]["expires_at"] < "2099-01-01"
    other = await _check_in(vetting, "in_review")
    past = await vetting.move(other["id"], "passed", expires_at="2020-01-01T00:00:00Z")
    assert past.status_code == 422


async def test_the_mentor_adds_evidence_to_their_own_checks_only(vetting: Vetting) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    other = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    check = await vetting.record(mentor["id"], "safeguarding_training")
    mine = await vetting.upload(check["id"], PDF, headers=vetting.mentor(mentor["id"]))
    assert mine.status_code == 201
    assert mine.json()["uploaded_by"] == mentor["id"]
    theirs = await vetting.upload(check["id"], PDF + b"x", headers=vetting.mentor(other["id"]))
    assert theirs.status_code == 403
    unknown = await vetting.upload(str(uuid.uuid4()), PDF, headers=vetting.mentor(mentor["id"]))
    assert unknown.status_code == 403, "an unknown check is not told apart from someone else's"


async def test_evidence_cannot_be_added_to_a_decided_check(vetting: Vetting) -> None:
    check = await _check_in(vetting, "failed")
    assert (await vetting.upload(check["id"], PDF)).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"jurisdiction": "gb"}, "jurisdiction"),
        ({"engagement_type": "intern"}, "engagement_type"),
        ({"email": "not an email"}, "email"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_registrations_name_the_field_and_change_nothing(
    vetting: Vetting, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    before = await vetting.audit(action="vetting.mentor.registered")
    payload = {
        "external_id": f"ext-{uuid.uuid4().hex[:10]}",
        "display_name": "A mentor",
        "email": "a@example.org",
        "jurisdiction": "GB",
        "engagement_type": "contractor",
        **body,
    }
    response = await client.post("/api/v1/mentors", json=payload, headers=vetting.auth("platform"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.json()["detail"]
    assert await vetting.audit(action="vetting.mentor.registered") == before


async def test_an_external_id_registers_once(vetting: Vetting, client: httpx.AsyncClient) -> None:
    first = await vetting.register("ext-dup-" + uuid.uuid4().hex[:8])
    again = await client.post(
        "/api/v1/mentors",
        json={
            "external_id": first["external_id"],
            "display_name": "x",
            "email": "x@example.org",
            "jurisdiction": "GB",
            "engagement_type": "volunteer",
        },
        headers=vetting.auth("platform"),
    )
    assert again.status_code == 409
    assert again.json()["mentor_id"] == first["id"]


async def test_unknown_check_types_and_records_answer_clearly(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    unknown = await client.post(
        f"/api/v1/mentors/{mentor['id']}/checks", json={"check_type": "horoscope"}, headers=vetting.officer()
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "check_type"
    missing = await client.get(f"/api/v1/mentors/{uuid.uuid4()}", headers=vetting.officer())
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_concurrent_registrations_of_one_mentor_make_one(vetting: Vetting, client: httpx.AsyncClient) -> None:
    external_id = f"ext-race-{uuid.uuid4().hex[:8]}"
    body = {
        "external_id": external_id,
        "display_name": "Racing mentor",
        "email": "race@example.org",
        "jurisdiction": "GB",
        "engagement_type": "volunteer",
    }
    answers = await asyncio.gather(
        *(client.post("/api/v1/mentors", json=body, headers=vetting.auth("platform")) for _ in range(10))
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9
    entries = await vetting.audit(action="vetting.mentor.registered")
    assert sum(e["details"]["external_id"] == external_id for e in entries) == 1
