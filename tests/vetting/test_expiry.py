"""What lapses soon, reminder marks, the readiness summary and the cron command."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from click.testing import CliRunner

from governance.bootstrap import Services
from governance.cli import main
from governance.core import db
from governance.core.clock import ManualClock
from governance.core.crypto import Keyring, LocalMasterKey
from governance.core.identity import Identity
from governance.core.storage import object_store
from governance.settings import Settings
from governance.vetting import expiry, service
from governance.vetting.schemas import CheckRecord, CheckTransition, MentorRegistration
from governance.vetting.service import Vetting as VettingService

from .conftest import Vetting


def ext() -> str:
    return f"ext-{uuid.uuid4().hex[:10]}"


def test_reminder_marks_fall_30_7_1_and_0_days_before() -> None:
    expires = datetime(2027, 1, 31, 12, tzinfo=UTC)
    marks = expiry.reminder_marks(expires, expires - timedelta(days=8), announced=[30])
    assert [(m.days_before, m.reached, m.announced) for m in marks] == [
        (30, True, True),
        (7, False, False),
        (1, False, False),
        (0, False, False),
    ]
    assert marks[1].due_at == expires - timedelta(days=7)


async def test_expiring_lists_what_lapses_soon_and_the_job_announces_reminders(
    services: Services, vetting: Vetting, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    mentor = await vetting.register(ext(), jurisdiction="FR", engagement="volunteer")
    soon = clock.now() + timedelta(days=20)
    check = await vetting.pass_check(mentor["id"], "interview", 0, expires_at=soon.isoformat())
    later = await vetting.pass_check(mentor["id"], "code_of_conduct", 1)
    url = "/api/v1/vetting/expiring"
    listed = (await client.get(url, params={"within": "P30D"}, headers=vetting.officer())).json()
    mine = [item for item in listed if item["mentor_id"] == mentor["id"]]
    assert [item["check_id"] for item in mine] == [check["id"]]
    assert mine[0]["days_left"] == 19 or mine[0]["days_left"] == 20
    assert mine[0]["covered_by_renewal"] is False
    assert [(m["days_before"], m["reached"], m["announced"]) for m in mine[0]["reminders"]] == [
        (30, True, False),
        (7, False, False),
        (1, False, False),
        (0, False, False),
    ]
    wider = (await client.get(url, params={"within": "P2Y"}, headers=vetting.officer())).json()
    assert later["id"] in {item["check_id"] for item in wider}

    service: VettingService = services.vetting
    first = await expiry.run(service, clock.now())
    assert first.reminders_announced >= 1
    again = await expiry.run(service, clock.now())
    assert again.reminders_announced == 0, "a mark is announced once"
    reminders = await vetting.audit(action="vetting.check.expiry_reminder", resource_id=check["id"])
    assert [(e["actor"]["sub"], e["details"]["days_before"]) for e in reminders] == [("system", 30)]

    clock.advance(timedelta(days=14))
    await expiry.run(service, clock.now())
    reminders = await vetting.audit(action="vetting.check.expiry_reminder", resource_id=check["id"])
    assert [e["details"]["days_before"] for e in reminders] == [30, 7]

    # A renewal covers the old check: it is listed, but no longer a reason to worry.
    await vetting.pass_check(mentor["id"], "interview", 0)
    listed = (await client.get(url, params={"within": "P30D"}, headers=vetting.officer())).json()
    [old] = [item for item in listed if item["check_id"] == check["id"]]
    assert old["covered_by_renewal"] is True


@pytest.mark.parametrize("within", ["30 days", "P", "-P1D", ""])
async def test_a_bad_window_is_named(vetting: Vetting, client: httpx.AsyncClient, within: str) -> None:
    response = await client.get("/api/v1/vetting/expiring", params={"within": within}, headers=vetting.officer())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "within"


async def test_readiness_summary_counts_what_the_api_shows(vetting: Vetting, client: httpx.AsyncClient) -> None:
    before = (await client.get("/api/v1/vetting/summary", headers=vetting.auth("auditor"))).json()
    approved = await vetting.approved_mentor(ext(), jurisdiction="FR", engagement="volunteer")
    await vetting.register(ext())
    after = (await client.get("/api/v1/vetting/summary", headers=vetting.auth("auditor"))).json()
    assert after["mentors_by_status"]["approved"] == before["mentors_by_status"]["approved"] + 1
    assert after["mentors_by_status"]["onboarding"] == before["mentors_by_status"]["onboarding"] + 1
    assert after["active_fully_vetted_and_current"] == before["active_fully_vetted_and_current"] + 1
    assert after["active_mentors"] == before["active_mentors"] + 1
    assert 0 < after["share_fully_vetted_and_current"] <= 1
    assert after["median_days_onboarding_to_approval"] is not None
    mentors = (
        await client.get("/api/v1/mentors", params={"status": "approved", "limit": "500"}, headers=vetting.officer())
    ).json()
    assert approved["id"] in {m["id"] for m in mentors["items"]}


def test_the_cron_command_expires_what_is_due(settings: Settings) -> None:
    """A check that ran out yesterday is expired by `governance vetting expire`, as the system."""

    async def seed() -> str:
        await db.start(settings)
        try:
            keyring = Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file))
            vetting = VettingService.configure(settings, keyring, object_store(settings))
            officer = Identity(sub="officer-cron", roles=("compliance_officer",))
            past = datetime.now(UTC) - timedelta(days=30)
            registration = MentorRegistration(
                external_id=ext(),
                display_name="M",
                email="m@example.org",
                jurisdiction="FR",
                engagement_type="volunteer",
            )
            mentor = await service.register_mentor(vetting, registration, officer, past)
            check_id = await service.record_check(
                vetting, mentor.id, CheckRecord(check_type="interview", details={"interviewer": "x"}), officer, past
            )
            await service.transition_check(vetting, check_id, CheckTransition(to="in_review"), officer, past)
            await service.transition_check(
                vetting, check_id, CheckTransition(to="passed", expires_at=past + timedelta(days=29)), officer, past
            )
            return str(check_id)
        finally:
            await db.stop()

    check_id = asyncio.run(seed())
    result = CliRunner().invoke(main, ["vetting", "expire", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["checks_expired"] >= 1

    async def state() -> str:
        await db.start(settings)
        try:
            return (await service.check_row(uuid.UUID(check_id))).state
        finally:
            await db.stop()

    assert asyncio.run(state()) == "expired"
