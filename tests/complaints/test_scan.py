"""The SLA scan: overdue dispute tiers are flagged; the in-process task scans on its own."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime, timedelta

from governance.audit import service as audit
from governance.audit.tables import AuditEntry
from governance.complaints import attestations, disputes, service
from governance.complaints.config import Complaints
from governance.complaints.scan import run_scan
from governance.complaints.schemas import AttestationCreate, ComplaintCreate, DisputeCreate
from governance.complaints.tables import Complaint, Dispute
from governance.core import schedule
from governance.core.clock import ManualClock
from governance.core.crypto import Keyring, LocalMasterKey
from governance.core.identity import Identity
from governance.settings import Settings

PLATFORM = Identity(sub="platform-scan", roles=("platform",))


def _complaints(settings: Settings) -> Complaints:
    return Complaints.configure(settings, Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file)))


async def test_an_overdue_dispute_tier_is_flagged_once(database: Settings) -> None:
    complaints = _complaints(database)
    now = datetime.now(UTC)
    attestation = await attestations.record(
        actor=PLATFORM,
        data=AttestationCreate(
            mentor_id="mentor-scan",
            candidate_id="cand-scan",
            competency="system-design",
            score=3,
            rubric_version="2026.1",
            session_date=date(2026, 11, 1),
            token_sha256=hashlib.sha256(b"t").hexdigest(),
        ),
        now=now,
    )
    dispute = await disputes.open_dispute(
        complaints, attestation.id, actor=PLATFORM, data=DisputeCreate(reason="employer"), now=now
    )
    assert dispute.decide_due is not None
    # The database is shared with other tests' disputes, some overdue by this clock: the
    # figures asserted are this dispute's own.
    breached = Dispute.select(Dispute.breached).where(Dispute.id == dispute.id).first()
    await run_scan(complaints, dispute.decide_due - timedelta(seconds=1))
    assert await breached == {"breached": False}
    later = dispute.decide_due + timedelta(seconds=1)
    assert (await run_scan(complaints, later)).disputes_flagged >= 1
    assert await breached == {"breached": True}
    assert (await run_scan(complaints, later)).disputes_flagged == 0
    await audit.number_queued()
    assert (
        await AuditEntry.count().where(
            (AuditEntry.action == "dispute.sla_breached") & (AuditEntry.resource_id == str(dispute.id))
        )
        == 1
    )


async def test_the_in_process_task_flags_breaches_by_the_applications_clock(database: Settings) -> None:
    complaints = _complaints(database)
    clock = ManualClock(datetime.now(UTC))
    filed = await service.file(
        complaints,
        actor=Identity(sub="mentee-task", roles=("mentee",)),
        data=ComplaintCreate(category="other", description="d"),
        now=clock.now(),
    )
    clock.advance(timedelta(days=30))
    stop = asyncio.Event()
    task = asyncio.create_task(
        schedule.every(timedelta(milliseconds=10), lambda: run_scan(complaints, clock.now()), stop, name="sla_scan")
    )
    try:
        for _ in range(500):  # bounded: the task runs every 10 ms
            row = await Complaint.select(Complaint.breached, Complaint.state).where(Complaint.id == filed.id).first()
            if row["breached"]:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
    assert row == {"breached": True, "state": "escalated"}
