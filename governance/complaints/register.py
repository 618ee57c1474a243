"""The complaints, refunds and disputes registers an evidence bundle prints: identifiers,
categories, states, outcomes and dates; never a description, a reason or who complained."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from governance.complaints.tables import Complaint, Dispute, Refund
from governance.core.periods import bounds
from governance.evidence.contents import ComplaintLine, DisputeLine, RefundLine


async def complaints_received(
    period_start: date, period_end: date, mentor_ids: Sequence[UUID] | None
) -> tuple[list[ComplaintLine], list[RefundLine]]:
    """Complaints received in the period (about the given mentors, when given) in order of
    receipt, and the refunds requested in the period (only those of the listed complaints
    when mentors are given: a refund names no mentor)."""
    start, end = bounds(period_start, period_end)
    query = (
        Complaint.select(
            Complaint.id,
            Complaint.category,
            Complaint.severity,
            Complaint.state,
            Complaint.outcome,
            Complaint.received_at,
            Complaint.acknowledged_at,
            Complaint.resolved_at,
            Complaint.resolve_due_at,
            Complaint.breached,
        )
        .where((Complaint.received_at >= start) & (Complaint.received_at < end))
        .order_by(Complaint.received_at)
        .order_by(Complaint.id)
    )
    if mentor_ids:
        query = query.where(Complaint.mentor_id.is_in([str(m) for m in mentor_ids]))
    complaints = [
        ComplaintLine(
            complaint_id=str(row["id"]),
            category=row["category"],
            severity=row["severity"],
            state=row["state"],
            outcome=row["outcome"],
            received_at=row["received_at"],
            acknowledged_at=row["acknowledged_at"],
            resolved_at=row["resolved_at"],
            resolve_due_at=row["resolve_due_at"],
            breached=bool(row["breached"]),
        )
        for row in await query
    ]
    listed = {line.complaint_id for line in complaints}
    refunds = [
        RefundLine(
            refund_id=str(row["id"]),
            complaint_id=str(row["complaint_id"]) if row["complaint_id"] else None,
            state=row["state"],
            amount_minor=row["amount_minor"],
            currency=row["currency"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in await Refund.select(
            Refund.id,
            Refund.complaint_id,
            Refund.state,
            Refund.amount_minor,
            Refund.currency,
            Refund.created_at,
            Refund.updated_at,
        )
        .where((Refund.created_at >= start) & (Refund.created_at < end))
        .order_by(Refund.created_at)
        .order_by(Refund.id)
        if not mentor_ids or (row["complaint_id"] and str(row["complaint_id"]) in listed)
    ]
    return complaints, refunds


async def disputes_opened(period_start: date, period_end: date, mentor_ids: Sequence[UUID] | None) -> list[DisputeLine]:
    """Attestation disputes opened in the period (about the given mentors, when given), in order."""
    start, end = bounds(period_start, period_end)
    query = (
        Dispute.select(
            Dispute.id,
            Dispute.attestation_id,
            Dispute.tier,
            Dispute.state,
            Dispute.outcome,
            Dispute.opened_at,
            Dispute.decide_due_at,
            Dispute.closed_at,
            Dispute.breached,
        )
        .where((Dispute.opened_at >= start) & (Dispute.opened_at < end))
        .order_by(Dispute.opened_at)
        .order_by(Dispute.id)
    )
    if mentor_ids:
        query = query.where(Dispute.mentor_id.is_in([str(m) for m in mentor_ids]))
    return [
        DisputeLine(
            dispute_id=str(row["id"]),
            attestation_id=str(row["attestation_id"]),
            tier=row["tier"],
            state=row["state"],
            outcome=row["outcome"],
            opened_at=row["opened_at"],
            decide_due_at=row["decide_due_at"],
            closed_at=row["closed_at"],
            breached=bool(row["breached"]),
        )
        for row in await query
    ]
