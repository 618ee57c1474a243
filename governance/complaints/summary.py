"""The period summary of complaint, refund and dispute handling: what an accreditor checks first.

A complaint belongs to the period by ``received_at``, a refund by ``created_at``, a
dispute by ``opened_at``; everything is judged at ``now`` (``as_of``).

Complaints are counted by the database: one ``GROUP BY`` (category, state, outcome,
month, SLA standing) answers in a few hundred rows however many complaints there are,
and :func:`tally_complaints` adds the groups up. :func:`sla_standing` states the same
SLA rule in Python, for one row; the tests hold the SQL to it. Refunds are grouped in
SQL too; disputes, far fewer, are counted in one pass over narrow rows.

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

Caching. A year of complaints takes a few hundred milliseconds to count and the agreement
figures to compute, and the figures change only when a counted row changes or when a
deadline passes. :class:`SummaryCache` keeps each period's summary, with the ``as_of`` it
was judged at, until either happens: the database counts every change to the complaint,
refund, dispute and attestation tables (:func:`governance.core.cache.count_changes`,
topic :data:`TOPIC`), and the summary knows the next instant at which an open complaint's
or dispute's deadline passes (``stale_at``). Until then a summary judged earlier is the
summary judged now; its ``as_of`` still says when it was judged.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from datetime import date, datetime
from typing import Final

from piccolo.query.functions.aggregate import Count, Sum

from governance.complaints import attestations
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
from governance.core import cache, db, periods
from governance.core.rows import Row, loads, typed_all

COMPLAINT_OUTCOMES: Final = ("upheld", "partially_upheld", "not_upheld", "withdrawn", "open")
DISPUTE_OUTCOMES: Final = ("upheld", "amended", "revoked", "withdrawn", "open")
TIERS: Final = ("L1", "L2", "L3")
RESOLVED: Final = frozenset({"resolved", "closed"})

_OPEN_SQL: Final = ", ".join(f"'{state}'" for state in sorted(OPEN_COMPLAINT_STATES))
_RESOLVED_SQL: Final = ", ".join(f"'{state}'" for state in sorted(RESOLVED))
# sla_standing() in SQL: 'met', 'breached' or 'unjudged'. The two {} are ``now``.
STANDING_SQL: Final = (
    f"CASE WHEN state IN ({_RESOLVED_SQL}) OR breaches LIKE '%\"resolve\"%'"
    f" OR (state IN ({_OPEN_SQL}) AND resolve_due_at IS NOT NULL AND resolve_due_at <= {{}})"
    f" THEN (CASE WHEN breached OR (state IN ({_OPEN_SQL}) AND next_due_at IS NOT NULL AND next_due_at <= {{}})"
    " THEN 'breached' ELSE 'met' END)"
    " ELSE 'unjudged' END"
)
# The UTC month of received_at: SQLite keeps timestamps as UTC text ("2026-03-01 10:00:00+00:00").
MONTH_SQL: Final = {
    "sqlite": "substr(received_at, 1, 7)",
    "postgres": "to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM')",
}
DISPUTE_COLUMNS: Final = (Dispute.state, Dispute.outcome, Dispute.tier, Dispute.breached, Dispute.decide_due_at)
# The next deadline of an open complaint after ``now`` (the {} is ``now``): when time alone changes its standing.
_NEXT_SQL: Final = f"MIN(CASE WHEN state IN ({_OPEN_SQL}) AND {{column}} > {{{{}}}} THEN {{column}} END)"
# The cache's topic: the tables a summary counts (a migration puts the counting triggers on them).
TOPIC: Final = "complaints-summary"
SUMMARY_TABLES: Final = ("complaint", "refund", "dispute", "attestation")


class Standing(Row):
    """What :func:`sla_standing` reads of a complaint."""

    state: str
    breached: bool
    breaches: str  # JSON list
    resolve_due_at: datetime | None
    next_due_at: datetime | None


class ComplaintGroup(Row):
    """One group of :func:`complaint_groups`: how many complaints share these values."""

    category: str
    state: str
    outcome: str | None
    month: str  # YYYY-MM, UTC
    standing: str  # met, breached or unjudged
    count: int
    # The group's earliest deadline after ``now`` that changes a standing (open complaints only).
    next_resolve_due: datetime | None = None
    next_due: datetime | None = None


class RefundGroup(Row):
    """Refunds of one state and currency: how many, and their amount (a SQL sum)."""

    state: str
    currency: str
    count: int
    amount: int | decimal.Decimal | None


class DisputeTally(Row):
    """The :data:`DISPUTE_COLUMNS` of a dispute."""

    state: str
    outcome: str | None
    tier: str
    breached: bool
    decide_due_at: datetime | None


def complaint_outcome(state: str, outcome: str | None) -> str:
    """``withdrawn``, the resolution's outcome, or ``open`` (neither: still being worked,
    or reopened by an appeal, which clears the earlier outcome)."""
    if state == "withdrawn":
        return "withdrawn"
    return outcome if outcome in COMPLAINT_OUTCOMES else "open"


def sla_standing(row: Standing, now: datetime) -> str | None:
    """``met``, ``breached``, or None when the complaint is not judged yet (see the module doc)."""
    state = row.state
    is_open = state in OPEN_COMPLAINT_STATES
    overdue = is_open and row.next_due_at is not None and row.next_due_at <= now
    judged = (
        state in RESOLVED
        or "resolve" in loads(row.breaches, [])
        or (is_open and row.resolve_due_at is not None and row.resolve_due_at <= now)
    )
    if not judged:
        return None
    return "breached" if row.breached or overdue else "met"


def tally_complaints(
    groups: Iterable[ComplaintGroup], months: list[str]
) -> tuple[int, dict[str, int], dict[str, int], list[MonthOfComplaints], SlaAttainment]:
    """Received, by category, by outcome, per month (every month of ``months``) and SLA
    attainment, from ``(category, state, outcome, month, standing, count)`` groups
    (``standing``: ``met``, ``breached`` or ``unjudged``, as :func:`sla_standing` says).
    Every category appears, zeros included; one unknown to the schema under its own name."""
    received = judged = breached = 0
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_outcome = dict.fromkeys(COMPLAINT_OUTCOMES, 0)
    per_month = {month: dict.fromkeys(CATEGORIES, 0) for month in months}
    for group in groups:
        count, category = group.count, group.category
        received += count
        by_category[category] = by_category.get(category, 0) + count
        by_outcome[complaint_outcome(group.state, group.outcome)] += count
        month = per_month[group.month]
        month[category] = month.get(category, 0) + count
        if group.standing != "unjudged":
            judged += count
            breached += count if group.standing == "breached" else 0
    met = judged - breached
    sla = SlaAttainment(judged=judged, met=met, breached=breached, attainment=periods.share(met, judged))
    per_month_list = [MonthOfComplaints(month=month, by_category=counts) for month, counts in per_month.items()]
    return received, by_category, by_outcome, per_month_list, sla


async def complaint_groups(since: datetime, until: datetime, now: datetime) -> list[ComplaintGroup]:
    """Complaints received in ``[since, until)`` grouped by category, state, outcome, UTC
    month and SLA standing at ``now``, with their count (one query)."""
    month = MONTH_SQL["sqlite" if db.is_sqlite() else "postgres"]
    next_resolve_due = _NEXT_SQL.format(column="resolve_due_at")
    next_due = _NEXT_SQL.format(column="next_due_at")
    rows = await Complaint.raw(
        # Only constants are formatted into the text; values are bound.
        f"SELECT category, state, outcome, {month} AS month, {STANDING_SQL} AS standing, "  # noqa: S608
        f"COUNT(*) AS count, {next_resolve_due} AS next_resolve_due, {next_due} AS next_due "
        "FROM complaint WHERE received_at >= {} AND received_at < {} "
        "GROUP BY 1, 2, 3, 4, 5",
        now,
        now,
        now,
        now,
        since,
        until,
    )
    return typed_all(rows, ComplaintGroup)


def tally_refunds(groups: Iterable[RefundGroup]) -> RefundFigures:
    """Refund figures from ``(state, currency, count, amount)`` groups: every state, zeros
    included, and the amounts of issued refunds per currency."""
    by_state = dict.fromkeys(REFUND_STATES, 0)
    issued: dict[str, int] = {}
    for group in groups:
        by_state[group.state] = by_state.get(group.state, 0) + group.count
        if group.state == "issued":
            issued[group.currency] = issued.get(group.currency, 0) + int(group.amount or 0)
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


def tally_disputes(rows: Iterable[DisputeTally], now: datetime) -> DisputeFigures:
    """Disputes opened, by outcome, by highest tier reached, and how many breached a tier's limit."""
    by_outcome = dict.fromkeys(DISPUTE_OUTCOMES, 0)
    by_tier = dict.fromkeys(TIERS, 0)
    opened = breached = 0
    for row in rows:
        opened += 1
        by_outcome[dispute_outcome(row.state, row.outcome)] += 1
        by_tier[row.tier] = by_tier.get(row.tier, 0) + 1
        due = row.decide_due_at
        overdue = row.state in OPEN_DISPUTE_STATES and due is not None and due <= now
        breached += row.breached or overdue
    return DisputeFigures(opened=opened, by_outcome=by_outcome, by_tier=by_tier, breached=breached)


def next_deadline(groups: Iterable[ComplaintGroup], disputes: Iterable[DisputeTally], now: datetime) -> datetime | None:
    """The earliest instant after ``now`` at which an open complaint's or dispute's deadline
    passes: until then the passing of time changes no figure of the summary."""
    found = [when for group in groups for when in (group.next_resolve_due, group.next_due) if when is not None]
    found += [
        row.decide_due_at
        for row in disputes
        if row.state in OPEN_DISPUTE_STATES and row.decide_due_at is not None and row.decide_due_at > now
    ]
    return min(found, default=None)


async def period_summary(period_start: date, period_end: date, now: datetime) -> ComplaintsSummary:
    """Complaints received, refunds requested and disputes opened from ``period_start`` to
    ``period_end`` (inclusive UTC days), judged at ``now``. 400 naming ``period_end`` when
    the period ends before it starts or lasts more than three years."""
    figures, _ = await _period_summary(period_start, period_end, now)
    return figures


def summary_cache() -> cache.TopicCache[ComplaintsSummary]:
    """A process's kept summaries (see the module doc)."""
    return cache.TopicCache(TOPIC)


async def kept_period_summary(
    kept: cache.TopicCache[ComplaintsSummary], period_start: date, period_end: date, now: datetime
) -> ComplaintsSummary:
    """:func:`period_summary`, or the same figures judged earlier (their ``as_of``) while no
    complaint, refund, dispute or attestation changed and no deadline passed since."""
    periods.check(period_start, period_end)
    return await kept.get_or_compute(
        f"{period_start}/{period_end}", now, lambda: _period_summary(period_start, period_end, now)
    )


async def _period_summary(
    period_start: date, period_end: date, now: datetime
) -> tuple[ComplaintsSummary, datetime | None]:
    """The summary, and the next instant at which time alone changes it."""
    periods.check(period_start, period_end)
    since, until = periods.bounds(period_start, period_end)
    groups = await complaint_groups(since, until, now)
    received, by_category, by_outcome, per_month, sla = tally_complaints(
        groups, periods.months(period_start, period_end)
    )
    refund_groups = (
        await Refund.select(
            Refund.state, Refund.currency, Count(alias="count"), Sum(Refund.amount_minor, alias="amount")
        )
        .where((Refund.created_at >= since) & (Refund.created_at < until))
        .group_by(Refund.state, Refund.currency)
    )
    disputes = typed_all(
        await Dispute.select(*DISPUTE_COLUMNS).where((Dispute.opened_at >= since) & (Dispute.opened_at < until)),
        DisputeTally,
    )
    figures = ComplaintsSummary(
        period_start=period_start,
        period_end=period_end,
        as_of=now,
        complaints_received=received,
        by_category=by_category,
        by_outcome=by_outcome,
        per_month=per_month,
        sla=sla,
        refunds=tally_refunds(typed_all(refund_groups, RefundGroup)),
        disputes=tally_disputes(disputes, now),
        agreement=await attestations.agreement_over(period_start, period_end, attestations.templates()),
    )
    return figures, next_deadline(groups, disputes, now)
