"""The SLA scan: flags overdue complaints (and escalates them) and overdue dispute tiers.

Run in-process by the application (a lifespan task every ``GOVERNANCE_SLA_SCAN_INTERVAL``)
and by ``governance complaints sla-scan`` for cron. Several instances may scan at once:
each flag is a versioned update in its own transaction, so a complaint is flagged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from governance.complaints import disputes, service
from governance.complaints.config import Complaints

log = structlog.get_logger("governance.complaints.scan")


@dataclass(frozen=True, slots=True)
class ScanResult:
    complaints_flagged: int
    disputes_flagged: int


async def run_scan(complaints: Complaints, now: datetime) -> ScanResult:
    """One pass over everything overdue at ``now``."""
    result = ScanResult(
        complaints_flagged=await service.scan_breaches(complaints, now),
        disputes_flagged=await disputes.scan_breaches(now),
    )
    if result.complaints_flagged or result.disputes_flagged:
        log.info("sla_scan", complaints=result.complaints_flagged, disputes=result.disputes_flagged)
    return result
