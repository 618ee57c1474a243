"""An erased mentee who comes back is a new start: new records under a new key generation,
readable; their erased records stay unreadable."""

from __future__ import annotations

import httpx

from ..complaints.conftest import Api
from .conftest import SHARE, Privacy, new_mentee

BEFORE = "My first mentor was rude to me"
AFTER = "My new mentor never showed up"


async def test_an_erased_mentee_who_returns_files_complaints_and_sets_preferences_anew(
    api: Api, privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    old = await api.file(sub=mentee, description=BEFORE)
    assert (await api.move(old, "withdrawn", role="mentee", sub=mentee)).status_code == 200
    old_request = await privacy.file(mentee, "rectification", "my old surname")
    await privacy.complete(old_request["id"])
    erasure = await privacy.file(mentee, "erasure")
    await privacy.complete(erasure["id"])

    body = {"category": "session_quality", "description": AFTER}
    filed = await api.call("POST", "/complaints", "mentee", mentee, body)
    assert filed.status_code == 201, filed.text
    own = await api.call("GET", f"/complaints/{filed.json()['id']}", "mentee", mentee)
    assert own.json()["description"] == AFTER
    chosen = await privacy.put(mentee, preferences={SHARE: "opt_in"})
    assert chosen.status_code == 200, chosen.text
    read_back = await client.get(f"/api/v1/privacy/mentees/{mentee}/preferences", headers=privacy.mentee(mentee))
    states = {p["purpose"]: p["state"] for p in read_back.json()["preferences"]["purposes"]}
    assert states[SHARE] == "opt_in"
    assert (await privacy.permission(mentee, SHARE))["allowed"] is True
    new_request = await privacy.file(mentee, "access", "everything since I came back")

    # What was erased stays erased.
    staff = await api.call("GET", f"/complaints/{old['id']}", "support_agent", "agent-1")
    assert staff.status_code == 200 and staff.json()["description"] is None
    listed = await client.get("/api/v1/privacy/requests", headers=privacy.mentee(mentee))
    assert listed.status_code == 200, listed.text
    descriptions = {r["id"]: r["description"] for r in listed.json()["items"]}
    assert descriptions[old_request["id"]] is None
    assert descriptions[new_request["id"]] == "everything since I came back"

    # Their access request answers with what is readable: the new complaint, not the old one.
    await privacy.complete(new_request["id"])
    download = await client.get(f"/api/v1/privacy/requests/{new_request['id']}/export", headers=privacy.mentee(mentee))
    assert download.status_code == 200, download.text
    complaints = {c["id"]: c["description"] for c in download.json()["modules"]["complaints"]["complaints"]}
    assert complaints == {old["id"]: None, filed.json()["id"]: AFTER}
