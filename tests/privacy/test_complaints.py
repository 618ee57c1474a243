"""Privacy across the complaints module: exports, erasure and retention of complaint files."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from governance.audit import service as audit_service
from governance.bootstrap import Services
from governance.complaints.tables import Complaint
from governance.core.clock import ManualClock
from governance.privacy import retention

from ..complaints.conftest import Api
from .conftest import SHARE, Privacy, new_mentee

COMPLAINT = "My mentor shared my CV with a recruiter without asking"


async def closed_complaint(api: Api, mentee: str) -> dict[str, Any]:
    filed = await api.file(sub=mentee, category="privacy", description=COMPLAINT)
    for to in ("acknowledged", "investigating"):
        assert (await api.move(filed, to)).status_code == 200
    resolved = await api.move(
        filed, "resolved", outcome="upheld", remedies=["apology"], reasons="Shared without consent"
    )
    assert resolved.status_code == 200, resolved.text
    closed = await api.move(filed, "closed")
    assert closed.status_code == 200, closed.text
    return filed


async def test_an_access_export_holds_the_complaint_and_the_consent_history(
    privacy: Privacy,
    api: Api,
    client: httpx.AsyncClient,
) -> None:
    mentee = new_mentee()
    await privacy.choose(mentee, **{SHARE: "opt_in"})
    await privacy.put(mentee, gpc=True)
    complaint = await api.file(sub=mentee, category="privacy", description=COMPLAINT)
    filed = await privacy.file(mentee, "access")
    await privacy.complete(filed["id"])
    export = (await client.get(f"/api/v1/privacy/requests/{filed['id']}/export", headers=privacy.mentee(mentee))).json()
    [exported] = export["modules"]["complaints"]["complaints"]
    assert (exported["id"], exported["description"]) == (complaint["id"], COMPLAINT)
    history = export["modules"]["privacy"]["consent_history"]
    assert [h["method"] for h in history] == ["explicit", "gpc"]
    assert complaint["id"] in {e["resource"]["id"] for e in export["audit_entries"]}


async def test_erasure_keeps_the_complaints_non_personal_parts_and_the_log_verifies(
    services: Services,
    privacy: Privacy,
    api: Api,
    client: httpx.AsyncClient,
) -> None:
    mentee = new_mentee()
    complaint = await api.file(sub=mentee, category="privacy", description=COMPLAINT)
    erasure = await privacy.file(mentee, "erasure")
    done = await privacy.complete(erasure["id"])
    certificate = done["certificate"]
    kept = {(k["module"], k["record_type"]): k for k in certificate["kept"]}
    assert "complaint_files" in kept[("complaints", "complaint")]["reason"]
    assert {h["record_id"] for h in certificate["legal_holds"]} == {complaint["id"]}
    [held] = certificate["kept_under_hold"]
    assert (held["record_id"], held["personal_text_kept"]) == (complaint["id"], True)
    read = await client.get(f"/api/v1/complaints/{complaint['id']}", headers=privacy.auth("support_agent"))
    assert read.status_code == 200, read.text
    assert read.json()["description"] == COMPLAINT, "an open complaint is a legal hold: still worked, still read"
    assert (read.json()["category"], read.json()["state"]) == ("privacy", "received"), "the rest is kept"
    closed = await closed_complaint(api, new_mentee())
    other = await privacy.file(closed["complainant_id"], "erasure")
    await privacy.complete(other["id"])
    gone = await client.get(f"/api/v1/complaints/{closed['id']}", headers=privacy.auth("support_agent"))
    assert gone.json()["description"] is None, "a closed complaint holds nothing: its text is erased at once"
    log_key = services.log_key
    assert (await audit_service.verify(log_key)).ok


async def test_a_dry_run_lists_due_and_held_complaints_and_the_sweep_deletes_only_the_due(
    services: Services,
    privacy: Privacy,
    api: Api,
    client: httpx.AsyncClient,
    clock: ManualClock,
) -> None:
    free, held = new_mentee(), new_mentee()
    due = await closed_complaint(api, free)
    kept = await closed_complaint(api, held)
    still_open = await api.file(sub=held, category="billing", description="Charged twice")
    clock.advance(timedelta(days=6 * 366 + 2))
    service = services.privacy

    dry = await retention.sweep(service, clock.now(), dry_run=True)
    assert due["id"] in {line.record_id for line in dry.due}
    [held_line] = [line for line in dry.held_records if line.record_id == kept["id"]]
    assert [h["record_id"] for h in held_line.held_by] == [still_open["id"]]
    assert await Complaint.exists().where(Complaint.id == due["id"])

    await retention.sweep(service, clock.now(), dry_run=False)
    assert not await Complaint.exists().where(Complaint.id == due["id"])
    assert await Complaint.exists().where(Complaint.id == kept["id"])
    assert await Complaint.exists().where(Complaint.id == still_open["id"])
