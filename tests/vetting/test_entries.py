"""A vetting change commits without waiting for the sequencer (issue 15, item 6): its facts
cite their audit entry by the id it was queued under at once, by its sequence number once
the sequencer has integrated it; facts recorded before the queue keep their number."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from governance.audit import service as audit
from governance.core import db
from governance.vetting.tables import Check

from ..conftest import BACKEND, NO_HANG_SECONDS, sequencer_batch_holding_its_locks
from .conftest import Vetting


def ext() -> str:
    return f"entries-{uuid.uuid4().hex[:10]}"


async def test_a_fact_cites_its_entry_by_id_at_once_and_by_number_once_integrated(vetting: Vetting) -> None:
    mentor = await vetting.register(ext())
    check = await vetting.record(mentor["id"], "identity_verification")
    uploaded = await vetting.upload(check["id"])
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    # Answered as the change commits: the entries are queued, with ids, and not numbered yet.
    assert check["audit"]["recorded"] is None and check["audit"]["recorded_entry_id"] is not None
    assert document["audit"]["recorded"] is None and document["audit"]["recorded_entry_id"] is not None
    [before] = (await vetting.dossier(mentor["id"]))["checks"]
    assert (before["audit"]["recorded"], before["audit"]["latest"]) == (None, None)
    assert before["audit"]["recorded_entry_id"] == check["audit"]["recorded_entry_id"]

    await audit.number_queued()  # the sequencer's round
    [recorded] = await vetting.audit(action="vetting.check.recorded", resource_id=check["id"])
    [stored] = await vetting.audit(action="vetting.document.uploaded", resource_id=document["id"])
    [after] = (await vetting.dossier(mentor["id"]))["checks"]
    assert after["audit"] == {
        "recorded": recorded["seq"],
        "latest": recorded["seq"],
        "recorded_entry_id": check["audit"]["recorded_entry_id"],
        "latest_entry_id": check["audit"]["recorded_entry_id"],
    }
    [shown] = after["documents"]
    assert (shown["audit"]["recorded"], shown["audit"]["recorded_entry_id"]) == (
        stored["seq"],
        document["audit"]["recorded_entry_id"],
    )


async def test_a_fact_recorded_before_the_queue_keeps_pointing_at_its_entry(
    vetting: Vetting, client: httpx.AsyncClient
) -> None:
    mentor = await vetting.register(ext())
    old = await vetting.record(mentor["id"], "interview")
    await audit.number_queued()
    [entry] = await vetting.audit(action="vetting.check.recorded", resource_id=old["id"])
    # What the migration leaves of a check numbered at once, before the queue: its entry's
    # number in the row, no entry id.
    async with db.transaction():
        await Check.update(
            {Check.recorded_seq: entry["seq"], Check.last_seq: entry["seq"], Check.recorded_entry_id: None}
        ).where(Check.id == old["id"])
        await Check.update({Check.last_entry_id: None}).where(Check.id == old["id"])
    new = await vetting.record(mentor["id"], "background_check")

    checks = (await vetting.dossier(mentor["id"]))["checks"]
    assert [c["id"] for c in checks] == [old["id"], new["id"]], "as recorded: the older check first"
    assert checks[0]["audit"] == {
        "recorded": entry["seq"],
        "latest": entry["seq"],
        "recorded_entry_id": None,
        "latest_entry_id": None,
    }
    shown = await client.get(f"/api/v1/audit/entries/{checks[0]['audit']['recorded']}", headers=vetting.auth("auditor"))
    assert shown.json()["resource"] == {"type": "check", "id": old["id"]}
    # Paged one at a time, the list walks both kinds in the same order, each once.
    seen, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/api/v1/mentors/{mentor['id']}/checks", params=params, headers=vetting.officer())
        assert page.status_code == 200, page.text
        seen += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [old["id"], new["id"]]


@pytest.mark.skipif(BACKEND != "postgres", reason="SQLite: one writer at a time, a held write lock stops every change")
async def test_vetting_changes_commit_while_a_sequencer_batch_holds_its_locks(vetting: Vetting) -> None:
    async with sequencer_batch_holding_its_locks():
        # Each of these would wait until the block ends if it took the head's lock.
        mentor = await asyncio.wait_for(vetting.register(ext()), NO_HANG_SECONDS)
        check = await asyncio.wait_for(vetting.record(mentor["id"], "identity_verification"), NO_HANG_SECONDS)
        uploaded = await asyncio.wait_for(vetting.upload(check["id"]), NO_HANG_SECONDS)
        moved = await asyncio.wait_for(vetting.move(check["id"], "in_review"), NO_HANG_SECONDS)
        assert (uploaded.status_code, moved.status_code) == (201, 200), (uploaded.text, moved.text)
        [waiting] = (await vetting.dossier(mentor["id"]))["checks"]
        assert (waiting["state"], waiting["audit"]["latest"]) == ("in_review", None)
    await audit.number_queued()
    [move] = await vetting.audit(action="vetting.check.transitioned", resource_id=check["id"])
    [shown] = (await vetting.dossier(mentor["id"]))["checks"]
    assert shown["audit"]["latest"] == move["seq"]
    assert shown["audit"]["latest_entry_id"] == waiting["audit"]["latest_entry_id"]
