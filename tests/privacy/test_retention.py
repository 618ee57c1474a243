"""Retention: what is due, what a legal hold keeps, the sweep and its audit, the report and the CLI."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import msgspec
from click.testing import CliRunner

from governance.bootstrap import Services
from governance.cli import main
from governance.core import db
from governance.core.clock import ManualClock
from governance.privacy import retention
from governance.privacy.tables import DataRequest
from governance.settings import Settings

from .conftest import Privacy, new_mentee


async def closed_request(privacy: Privacy, mentee: str) -> str:
    filed = await privacy.file(mentee, "objection")
    assert (await privacy.move(filed["id"], "rejected", reason_code="other", reason="not ours")).status_code == 200
    return str(filed["id"])


async def test_a_dry_run_lists_due_and_held_and_the_sweep_deletes_only_the_due(
    services: Services, privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    free, held = new_mentee(), new_mentee()
    due_id = await closed_request(privacy, free)
    held_id = await closed_request(privacy, held)
    open_request = await privacy.file(held, "access")  # an open case about the subject: a legal hold
    service = services.privacy
    clock.advance(timedelta(days=3 * 366))

    report = await client.get("/api/v1/privacy/retention/report", headers=privacy.officer())
    assert report.status_code == 200
    due = {line["record_id"] for line in report.json()["due"]}
    held_lines = {line["record_id"]: line for line in report.json()["held"]}
    assert due_id in due
    assert held_id in held_lines and held_id not in due
    assert held_lines[held_id]["held_by"][0]["record_id"] == open_request["id"]
    assert "open access request" in held_lines[held_id]["held_by"][0]["reason"]

    dry = await retention.sweep(service, clock.now(), dry_run=True)
    assert dry.deleted == {}
    assert due_id in {line.record_id for line in dry.due}
    assert await DataRequest.exists().where(DataRequest.id == due_id)

    swept = await retention.sweep(service, clock.now(), dry_run=False)
    assert swept.deleted["data_request_records"] >= 1
    assert not await DataRequest.exists().where(DataRequest.id == due_id)
    assert await DataRequest.exists().where(DataRequest.id == held_id)
    disposed = await privacy.audit(action="privacy.retention.disposed")
    assert any(due_id in entry["details"]["record_ids"] for entry in disposed)
    runs = await privacy.audit(action="privacy.retention.swept")
    assert {entry["details"]["dry_run"] for entry in runs} >= {True, False}

    # Once the hold ends, the held record goes at the next sweep.
    assert (await privacy.move(open_request["id"], "withdrawn", headers=privacy.mentee(held))).status_code == 200
    await retention.sweep(service, clock.now(), dry_run=False)
    assert not await DataRequest.exists().where(DataRequest.id == held_id)


async def test_exports_go_after_their_period_or_the_shorter_one_the_mentee_chose(
    services: Services, privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    patient, hasty = new_mentee(), new_mentee()
    assert (await privacy.put(hasty, retention={"data_exports": "P7D"})).status_code == 200
    requests = {}
    for mentee in (patient, hasty):
        filed = await privacy.file(mentee, "access")
        await privacy.complete(filed["id"])
        requests[mentee] = filed["id"]
    clock.advance(timedelta(days=8))
    await retention.sweep(services.privacy, clock.now(), dry_run=False)

    async def available(mentee: str) -> bool:
        read = await client.get(f"/api/v1/privacy/requests/{requests[mentee]}", headers=privacy.mentee(mentee))
        return bool(read.json()["export_available"])

    assert not await available(hasty)
    assert await available(patient)
    clock.advance(timedelta(days=30))
    await retention.sweep(services.privacy, clock.now(), dry_run=False)
    assert not await available(patient)
    gone = await client.get(f"/api/v1/privacy/requests/{requests[patient]}/export", headers=privacy.mentee(patient))
    assert gone.status_code == 404


def test_the_cli_dry_run_deletes_nothing(settings: Settings) -> None:
    async def count() -> int:
        await db.start(settings)
        try:
            return int(await DataRequest.count())
        finally:
            await db.stop()

    before = asyncio.run(count())
    result = CliRunner().invoke(main, ["retention", "sweep", "--dry-run", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert msgspec.json.decode(result.stdout)["dry_run"] is True
    assert asyncio.run(count()) == before
