"""The period summary of complaint, refund and dispute handling: what an accreditor checks first.

A complaint belongs to the period by ``received_at``, a refund by ``created_at``, a
dispute by ``opened_at``; everything is judged at ``now`` (``as_of``). The counting is
done by the pure ``tally_*`` functions below over narrow rows (one pass each), so that
it can be tested on its own and stays fast for tens of thousands of complaints.

SLA attainment. A complaint is *judged* when it was resolved (``resolved`` or
``closed``), when its resolve target was already breached (``resolve`` among its
breaches; also when it was withdrawn afterwards), or when it is open and its resolve
deadline (``resolve_due_at``) has passed at ``now``. A paused complaint
(awaiting the complainant) is not judged: its deadline moves with the pause. A judged
complaint *breached* when it is flagged ``breached`` (any target: acknowledge, first
response or resolve) or when it is open with a deadline already passed at ``now``
that the SLA scan has not flagged yet; the others *met* their targets. An appeal
(``reopened``) starts a new clock and clears earlier breaches, so a reopened complaint
is judged on its new deadline.

Disputes. A dispute's tier only ever moves up (L1 -> L2 -> L3, by escalation or
appeal), so ``dispute.tier`` is the highest tier it reached. Its outcome is read from
its state first (open reviews are ``open`` even when an earlier tier decided), then
from the decision. ``breached`` counts disputes flagged by the scan, and open ones
whose current tier's decision is overdue at ``now``; escalating to the next tier clears
the flag, like an appeal clears a complaint's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Final

from piccolo.query.functions.aggregate import Count, Sum

from governance.complaints.common import loads
from governance.complaints.schemas import (
    CATEGORIES,
    REFUND_STATES,
    ComplaintsSummary,
    DisputeFigures,
    MonthOfComplaints,
    RefundFigures,
    SlaAttainment,
)
from governance.complaints.states import OPEN_COMPLAINT_STATES, OPEN_DISPUTE_STATES
from governance.complaints.tables import Complaint, Dispute, Refund
from governance.core import periods

COMPLAINT_OUTCOMES: Final = ("upheld", "partially_upheld", "not_upheld", "withdrawn", "open")
DISPUTE_OUTCOMES: Final = ("upheld", "amended", "revoked", "withdrawn", "open")
TIERS: Final = ("L1", "L2", "L3")
RESOLVED: Final = frozenset({"resolved", "closed"})

COMPLAINT_COLUMNS: Final = (
    Complaint.category,
    Complaint.state,
    Complaint.outcome,
    Complaint.received_at,
    Complaint.breached,
    Complaint.breaches,
    Complaint.resolve_due_at,
    Complaint.next_due_at,
)
DISPUTE_COLUMNS: Final = (Dispute.state, Dispute.outcome, Dispute.tier, Dispute.breached, Dispute.decide_due_at)


# --- pure counting ---------------------------------------------------------------------


def complaint_outcome(state: str, outcome: str | None) -> str:
    """``withdrawn``, the resolution's outcome, or ``open`` (neither: still being worked,
    or reopened by an appeal, which clears the earlier outcome)."""
    if state == "withdrawn":
        return "withdrawn"
    return outcome if outcome in COMPLAINT_OUTCOMES else "open"


def sla_standing(row: Mapping[str, Any], now: datetime) -> str | None:
    """``met``, ``breached``, or None when the complaint is not judged yet (see the module doc)."""
    state = row["state"]
    is_open = state in OPEN_COMPLAINT_STATES
    overdue = is_open and row["next_due_at"] is not None and row["next_due_at"] <= now
    judged = (
        state in RESOLVED
        or "resolve" in loads(row["breaches"], [])
        or (is_open and row["resolve_due_at"] is not None and row["resolve_due_at"] <= now)
    )
    if not judged:
        return None
    return "breached" if row["breached"] or overdue else "met"


def tally_complaints(
    rows: Iterable[Mapping[str, Any]], months: list[str], now: datetime
) -> tuple[dict[str, int], dict[str, int], list[MonthOfComplaints], SlaAttainment]:
    """By category, by outcome, per month (every month of ``months``) and SLA attainment,
    in one pass. Every category appears, zeros included; a category unknown to the
    schema is counted under its own name."""
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_outcome = dict.fromkeys(COMPLAINT_OUTCOMES, 0)
    per_month = {month: dict.fromkeys(CATEGORIES, 0) for month in months}
    judged = breached = 0
    for row in rows:
        category = row["category"]
        by_category[category] = by_category.get(category, 0) + 1
        by_outcome[complaint_outcome(row["state"], row["outcome"])] += 1
        month = per_month[periods.month_of(row["received_at"])]
        month[category] = month.get(category, 0) + 1
        standing = sla_standing(row, now)
        if standing is not None:
            judged += 1
            breached += standing == "breached"
    met = judged - breached
    sla = SlaAttainment(judged=judged, met=met, breached=breached, attainment=periods.share(met, judged))
    return (
        by_category,
        by_outcome,
        [MonthOfComplaints(month=month, by_category=counts) for month, counts in per_month.items()],
        sla,
    )


def tally_refunds(groups: Iterable[Mapping[str, Any]]) -> RefundFigures:
    """Refund figures from ``(state, currency, count, amount)`` groups: every state, zeros
    included, and the amounts of issued refunds per currency."""
    by_state = dict.fromkeys(REFUND_STATES, 0)
    issued: dict[str, int] = {}
    for group in groups:
        by_state[group["state"]] = by_state.get(group["state"], 0) + int(group["count"])
        if group["state"] == "issued":
            issued[group["currency"]] = issued.get(group["currency"], 0) + int(group["amount"] or 0)
    return RefundFigures(
        requested=sum(by_state.values()), by_state=by_state, issued_minor_by_currency=dict(sorted(issued.items()))
    )


def dispute_outcome(state: str, outcome: str | None) -> str:
    """``open`` while under review (even after an earlier tier decided), ``withdrawn``,
    ``revoked``, else the decision (``upheld`` or ``amended``)."""
    if state in OPEN_DISPUTE_STATES:
        return "open"
    if state in ("withdrawn", "revoked"):
        return state
    return outcome if outcome in DISPUTE_OUTCOMES else "open"


def tally_disputes(rows: Iterable[Mapping[str, Any]], now: datetime) -> DisputeFigures:
    """Disputes opened, by outcome, by highest tier reached, and how many breached a tier's limit."""
    by_outcome = dict.fromkeys(DISPUTE_OUTCOMES, 0)
    by_tier = dict.fromkeys(TIERS, 0)
    opened = breached = 0
    for row in rows:
        opened += 1
        by_outcome[dispute_outcome(row["state"], row["outcome"])] += 1
        by_tier[row["tier"]] = by_tier.get(row["tier"], 0) + 1
        due = row["decide_due_at"]
        overdue = row["state"] in OPEN_DISPUTE_STATES and due is not None and due <= now
        breached += bool(row["breached"]) or overdue
    return DisputeFigures(opened=opened, by_outcome=by_outcome, by_tier=by_tier, breached=breached)


# --- the summary -----------------------------------------------------------------------


async def period_summary(period_start: date, period_end: date, now: datetime) -> ComplaintsSummary:
    """Complaints received, refunds requested and disputes opened from ``period_start`` to
    ``period_end`` (inclusive UTC days), judged at ``now``. 400 naming ``period_end`` when
    the period ends before it starts or lasts more than three years."""
    periods.check(period_start, period_end)
    since, until = periods.bounds(period_start, period_end)
    complaints = await Complaint.select(*COMPLAINT_COLUMNS).where(
        (Complaint.received_at >= since) & (Complaint.received_at < until)
    )
    by_category, by_outcome, per_month, sla = tally_complaints(
        complaints, periods.months(period_start, period_end), now
    )
    refund_groups = (
        await Refund.select(
            Refund.state, Refund.currency, Count(alias="count"), Sum(Refund.amount_minor, alias="amount")
        )
        .where((Refund.created_at >= since) & (Refund.created_at < until))
        .group_by(Refund.state, Refund.currency)
    )
    disputes = await Dispute.select(*DISPUTE_COLUMNS).where((Dispute.opened_at >= since) & (Dispute.opened_at < until))
    return ComplaintsSummary(
        period_start=period_start,
        period_end=period_end,
        as_of=now,
        complaints_received=len(complaints),
        by_category=by_category,
        by_outcome=by_outcome,
        per_month=per_month,
        sla=sla,
        refunds=tally_refunds(refund_groups),
        disputes=tally_disputes(disputes, now),
    )
