"""Accreditation readiness at a glance: what the compliance dashboard and the auditor's desk
show first, and ``GET /api/v1/evidence/readiness`` answers.

Read from the domains' summary services, counts and groups in SQL only, so the answer
costs a dozen indexed queries however many mentors and complaints the platform holds.
"""

from __future__ import annotations

from datetime import datetime

from governance.complaints import summary as complaints_summary
from governance.complaints.schemas import ComplaintsSummary
from governance.core.shapes import View
from governance.privacy import summary as privacy_summary
from governance.privacy.summary import RequestsDue
from governance.vetting import summary as vetting_summary
from governance.vetting.summary import Watch


class Readiness(View):
    """Vetting (mentors by status, checks expiring within 1, 7 and 30 days, decisions awaiting
    a second officer), complaint handling this calendar month (UTC) to date, and open data
    requests by how soon they fall due; all judged at ``as_of``."""

    as_of: datetime
    vetting: Watch
    complaints_this_month: ComplaintsSummary
    data_requests: RequestsDue


async def readiness(now: datetime) -> Readiness:
    today = now.date()
    return Readiness(
        as_of=now,
        vetting=await vetting_summary.watch(now),
        complaints_this_month=await complaints_summary.period_summary(today.replace(day=1), today, now),
        data_requests=await privacy_summary.requests_due(now),
    )
