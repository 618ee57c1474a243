"""Checks on their own (``GET /mentors/{id}/checks``, ``GET /checks/{id}``): exactly what the
dossier shows, to exactly the dossier's readers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .conftest import Vetting

NOTE = "internal: the referee hesitated"
JUSTIFICATION = "internal: equivalent check held by the partner school"


async def _pages(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = await client.get(
            path, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


async def test_checks_read_alone_as_the_dossier_shows_them_to_its_readers_only(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    mentor = (await vetting.register(f"ext-{uuid.uuid4().hex[:10]}"))["id"]
    other = (await vetting.register(f"ext-{uuid.uuid4().hex[:10]}"))["id"]
    noted = await vetting.record(mentor, "interview", notes=NOTE)
    waived = await vetting.record(mentor, "interview")
    assert (await vetting.move(waived["id"], "in_review")).status_code == 200
    assert (await vetting.move(waived["id"], "waived", justification=JUSTIFICATION)).status_code == 202
    await vetting.record(other, "interview", notes=NOTE)
    listed = f"/api/v1/mentors/{mentor}/checks"

    # The mentor: their own checks, as their dossier shows them, without staff's deliberation.
    own = vetting.mentor(mentor)
    dossier = (await vetting.dossier(mentor, own))["checks"]
    assert await _pages(client, listed, own) == dossier
    assert [c["id"] for c in dossier] == [noted["id"], waived["id"]]
    for check in dossier:
        alone = await client.get(f"/api/v1/checks/{check['id']}", headers=own)
        assert alone.status_code == 200
        assert alone.json() == check
        assert NOTE not in alone.text and JUSTIFICATION not in alone.text
    assert "notes" not in dossier[0] and dossier[1]["waiver_request"] is None

    # Staff see everything the dossier shows them; the auditor reads as a party, audited.
    reader = f"reader-{uuid.uuid4().hex[:10]}"
    for role in ("compliance_officer", "support_agent", "auditor"):
        headers = vetting.auth(role, sub=reader)
        seen = await _pages(client, listed, headers)
        assert seen == (await vetting.dossier(mentor, headers))["checks"]
        alone = (await client.get(f"/api/v1/checks/{noted['id']}", headers=headers)).json()
        assert alone == seen[0]
        assert ("notes" in alone) == (role != "auditor")
    reads = [(e["action"], e["actor"]["roles"]) for e in await vetting.audit(actor=reader, action="vetting.check")]
    # Every page the auditor turned, and the check they read: only outsiders' reads are recorded.
    assert reads == [*[("vetting.checks.read", ["auditor"])] * 2, ("vetting.check.read", ["auditor"])]

    # Nobody else: another mentor, a mentee, the platform, the admin; unknown ids are not probed.
    refused = [
        (vetting.mentor(other), listed),
        (vetting.mentor(other), f"/api/v1/checks/{noted['id']}"),
        (vetting.mentor(mentor), f"/api/v1/checks/{uuid.uuid4()}"),
        *(
            (vetting.auth(role, sub="x-1"), path)
            for role in ("mentee", "platform", "admin")
            for path in (listed, f"/api/v1/checks/{noted['id']}")
        ),
    ]
    for headers, path in refused:
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, (headers, path)
        assert response.headers["content-type"].startswith("application/problem+json")
    for path in (f"/api/v1/checks/{uuid.uuid4()}", f"/api/v1/mentors/{uuid.uuid4()}/checks"):
        assert (await client.get(path, headers=vetting.officer())).status_code == 404


async def test_a_check_answers_its_etag_and_a_move_needs_if_match(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    recorded = await client.post(
        f"/api/v1/mentors/{mentor['id']}/checks",
        json={"check_type": "interview", "details": {"interviewer": "officer-a"}},
        headers=vetting.officer(),
    )
    assert recorded.status_code == 201
    check = recorded.json()
    first = recorded.headers["etag"]
    assert first == f'"{check["version"]}"'
    # The change did not wait for the sequencer: its entry is cited by id, numbered later.
    assert check["audit"]["latest_entry_id"] is not None
    assert (await client.get(f"/api/v1/checks/{check['id']}", headers=vetting.officer())).headers["etag"] == first

    missing = await vetting.move(check["id"], "in_review", if_match=None)
    assert missing.status_code == 428 and missing.json()["header"] == "If-Match"
    moved = await vetting.move(check["id"], "in_review", if_match=first)
    assert moved.status_code == 200, moved.text
    assert moved.headers["etag"] == f'"{moved.json()["check"]["version"]}"' != first
    stale = await vetting.move(check["id"], "failed", if_match=first)
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_etag"] == moved.headers["etag"]
    assert (await client.get(f"/api/v1/checks/{check['id']}", headers=vetting.officer())).json()["state"] == "in_review"

    read = await client.get(f"/api/v1/mentors/{mentor['id']}", headers=vetting.officer())
    assert read.headers["etag"] == f'"{read.json()["version"]}"'
