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
from governance.complaints.policy import SlaPolicy, load
from governance.settings import Settings

log = structlog.get_logger("governance.complaints.scan")


@dataclass(frozen=True, slots=True)
class ScanResult:
    complaints_flagged: int
    disputes_flagged: int


def load_policy(settings: Settings) -> SlaPolicy:
    """``sla.toml`` from the policy directory, with the appeal window from settings."""
    return load(settings.effective_policy_dir / "sla.toml", complaint_appeal_window=settings.complaint_appeal_window)


async def run_scan(policy: SlaPolicy, now: datetime) -> ScanResult:
    """One pass over everything overdue at ``now``."""
    result = ScanResult(
        complaints_flagged=await service.scan_breaches(policy, now),
        disputes_flagged=await disputes.scan_breaches(now),
    )
    if result.complaints_flagged or result.disputes_flagged:
        log.info("sla_scan", complaints=result.complaints_flagged, disputes=result.disputes_flagged)
    return result
