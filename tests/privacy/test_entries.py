"""A privacy change commits without waiting for the sequencer (issue 15, item 6): records,
receipts and requests cite their audit entry by the id it was queued under at once, and by
its sequence number once the sequencer has integrated it; records from before the queue
keep their number and their place in the history."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from governance.audit import service as audit
from governance.core import db
from governance.core.clock import ManualClock
from governance.privacy.tables import ConsentRecord

from ..conftest import BACKEND, NO_HANG_SECONDS, sequencer_batch_holding_its_locks
from .conftest import SHARE, Privacy, new_mentee


async def test_a_receipt_and_a_request_show_their_entry_number_once_integrated(
    privacy: Privacy, client: httpx.AsyncClient
) -> None:
    mentee = new_mentee()
    receipt = (await privacy.choose(mentee, **{SHARE: "opt_in"}))["receipt"]
    request = await privacy.file(mentee, "access")
    # Answered as the change commits: cited by entry id, not numbered yet.
    assert receipt["audit_seq"] is None and isinstance(receipt["audit_entry_id"], int)
    assert request["audit_seq"] is None and isinstance(request["audit_entry_id"], int)
    [record] = await privacy.history(mentee)
    assert (record["audit_seq"], record["audit_entry_id"]) == (None, receipt["audit_entry_id"])

    await audit.number_queued()  # the sequencer's round
    [changed] = await privacy.audit(action="privacy.consent.changed", resource_id=receipt["receipt_id"])
    [received] = await privacy.audit(action="privacy.request.received", resource_id=request["id"])
    kept = await client.get(f"/api/v1/privacy/receipts/{receipt['receipt_id']}", headers=privacy.mentee(mentee))
    assert (kept.json()["audit_seq"], kept.json()["audit_entry_id"]) == (changed["seq"], receipt["audit_entry_id"])
    [record] = await privacy.history(mentee)
    assert record["audit_seq"] == changed["seq"]
    read = await client.get(f"/api/v1/privacy/requests/{request['id']}", headers=privacy.officer())
    assert (read.json()["audit_seq"], read.json()["audit_entry_id"]) == (received["seq"], request["audit_entry_id"])


async def test_a_record_from_before_the_queue_stays_older_than_every_queued_one(
    privacy: Privacy, clock: ManualClock
) -> None:
    """However large its number: entries queued since are numbered after every entry numbered
    at once before the queue, so a record citing one is newer than any record from before."""
    mentee = new_mentee()
    old = uuid.uuid4()
    async with db.transaction():
        await ConsentRecord.insert(
            ConsentRecord(
                id=old,
                subject=mentee,
                purpose=SHARE,
                state="opt_in",
                method="explicit",
                notice_version=1,
                language="en",
                jurisdiction="GB",
                source="before-the-queue",
                actor=mentee,
                recorded_at=clock.now(),
                receipt_id=None,
                recorded_seq=2**40,
            )
        )
    assert (await privacy.permission(mentee, SHARE))["record_id"] == str(old)
    await privacy.choose(mentee, **{SHARE: "opt_out"})
    now = await privacy.permission(mentee, SHARE)
    assert (now["allowed"], now["record_id"] != str(old)) == (False, True)
    history = await privacy.history(mentee)
    first = history[0]
    assert (first["id"], first["state"], first["audit_seq"]) == (str(old), "opt_in", 2**40)
    assert history[0]["audit_entry_id"] is None
    assert [r["state"] for r in history] == ["opt_in", "opt_out"], "oldest first: the record from before the queue"


@pytest.mark.skipif(BACKEND != "postgres", reason="SQLite: one writer at a time, a held write lock stops every change")
async def test_privacy_changes_commit_while_a_sequencer_batch_holds_its_locks(privacy: Privacy) -> None:
    mentee = new_mentee()
    async with sequencer_batch_holding_its_locks():
        # Each of these would wait until the block ends if it took the head's lock.
        changed = await asyncio.wait_for(privacy.choose(mentee, **{SHARE: "opt_in"}), NO_HANG_SECONDS)
        request = await asyncio.wait_for(privacy.file(mentee, "erasure"), NO_HANG_SECONDS)
        moved = await asyncio.wait_for(privacy.move(request["id"], "in_progress"), NO_HANG_SECONDS)
        assert moved.status_code == 200, moved.text
        assert (await privacy.permission(mentee, SHARE))["allowed"] is True
    assert changed["receipt"]["audit_seq"] is None
    await audit.number_queued()
    [entry] = await privacy.audit(action="privacy.request.in_progress", resource_id=request["id"])
    assert (await privacy.etag(request["id"])) == moved.headers["etag"]
    read = await privacy.client.get(f"/api/v1/privacy/requests/{request['id']}", headers=privacy.officer())
    assert read.json()["audit_seq"] == entry["seq"]
