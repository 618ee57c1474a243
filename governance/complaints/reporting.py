"""The complaints, refunds and disputes registers an evidence bundle prints: identifiers,
categories, states, outcomes and dates; never a description or who complained. The
reasons of the decisions they list (a resolution, a refund approved or denied, a dispute
tier's decision) are opened with the data subject's key, or read "erased" once destroyed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final, TypeVar
from uuid import UUID

import msgspec
from piccolo.table import Table

from governance.complaints.tables import Complaint, Dispute, Refund
from governance.core.crypto import Keyring, PersonalDataError, SubjectCipher
from governance.core.periods import bounds
from governance.core.reporting import ERASED, ReasonLine
from governance.core.rows import Row, loads, typed_all

# Ids per ``IN (...)`` when the reasons of listed records are read back.
BATCH: Final = 500


class ComplaintLine(msgspec.Struct, frozen=True):
    complaint_id: str
    category: str
    severity: str
    state: str
    outcome: str | None
    received_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolve_due_at: datetime | None  # the resolve deadline last set, kept once resolved
    breached: bool


class RefundLine(msgspec.Struct, frozen=True):
    refund_id: str
    complaint_id: str | None
    state: str
    amount_minor: int
    currency: str
    created_at: datetime
    updated_at: datetime


class DisputeLine(msgspec.Struct, frozen=True):
    dispute_id: str
    attestation_id: str
    tier: str
    state: str
    outcome: str | None
    opened_at: datetime
    decide_due_at: datetime | None
    closed_at: datetime | None
    breached: bool


class _ComplaintEntry(Row):
    id: UUID
    category: str
    severity: str
    state: str
    outcome: str | None
    received_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolve_due_at: datetime | None
    resolve_deadline_at: datetime | None
    breached: bool


class _RefundEntry(Row):
    id: UUID
    complaint_id: UUID | None
    state: str
    amount_minor: int
    currency: str
    created_at: datetime
    updated_at: datetime


class _DisputeEntry(Row):
    id: UUID
    attestation_id: UUID
    tier: str
    state: str
    outcome: str | None
    opened_at: datetime
    decide_due_at: datetime | None
    closed_at: datetime | None
    breached: bool


class _Record(Row):
    """A record read back by id (:func:`_by_id`)."""

    id: UUID


R = TypeVar("R", bound=_Record)


async def _by_id(table: type[Table], columns: Sequence[Any], ids: list[UUID], shape: type[R]) -> dict[str, R]:
    """``columns`` of the records ``ids`` of ``table``, as ``shape``, by id (``BATCH`` ids a query)."""
    found: dict[str, R] = {}
    for offset in range(0, len(ids), BATCH):
        batch = await table.select(*columns).where(table._meta.primary_key.is_in(ids[offset : offset + BATCH]))
        found.update((str(row.id), row) for row in typed_all(batch, shape))
    return found


class _Resolution(_Record):
    complainant_id: str
    outcome: str | None
    resolution_reasons: str | None  # ciphertext
    resolved_at: datetime | None
    assignee: str | None


class _RefundDecision(_Record):
    mentee_id: str
    state: str
    approvals: str  # JSON list of {approver, reasons (ciphertext), at}
    denied_by: str | None
    failure_reason: str | None  # ciphertext
    updated_at: datetime


class _DisputeDecisions(_Record):
    candidate_id: str
    decisions: str  # JSON list of {tier, outcome, new_score, deciders, reasons (ciphertext), at}


def _reason(cipher: SubjectCipher | None, sealed: str | None) -> str:
    if not sealed:
        return ""
    if cipher is None:
        return ERASED
    try:
        return cipher.decrypt(sealed)
    except PersonalDataError:
        return ERASED


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
            Complaint.resolve_deadline_at,
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
            complaint_id=str(row.id),
            category=row.category,
            severity=row.severity,
            state=row.state,
            outcome=row.outcome,
            received_at=row.received_at,
            acknowledged_at=row.acknowledged_at,
            resolved_at=row.resolved_at,
            resolve_due_at=row.resolve_deadline_at or row.resolve_due_at,
            breached=row.breached,
        )
        for row in typed_all(await query, _ComplaintEntry)
    ]
    listed = {line.complaint_id for line in complaints}
    refund_rows = typed_all(
        await Refund.select(
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
        .order_by(Refund.id),
        _RefundEntry,
    )
    refunds = [
        RefundLine(
            refund_id=str(row.id),
            complaint_id=str(row.complaint_id) if row.complaint_id else None,
            state=row.state,
            amount_minor=row.amount_minor,
            currency=row.currency,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
        for row in refund_rows
        if not mentor_ids or (row.complaint_id and str(row.complaint_id) in listed)
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
            dispute_id=str(row.id),
            attestation_id=str(row.attestation_id),
            tier=row.tier,
            state=row.state,
            outcome=row.outcome,
            opened_at=row.opened_at,
            decide_due_at=row.decide_due_at,
            closed_at=row.closed_at,
            breached=row.breached,
        )
        for row in typed_all(await query, _DisputeEntry)
    ]


async def complaint_reasons(
    complaints: Sequence[ComplaintLine], refunds: Sequence[RefundLine], keyring: Keyring
) -> list[ReasonLine]:
    """Why each listed complaint was resolved as it was, and why each listed refund was
    approved, denied or failed, in the registers' order."""
    lines: list[ReasonLine] = []
    rows = await _by_id(
        Complaint,
        (
            Complaint.id,
            Complaint.complainant_id,
            Complaint.outcome,
            Complaint.resolution_reasons,
            Complaint.resolved_at,
            Complaint.assignee,
        ),
        [UUID(c.complaint_id) for c in complaints if c.outcome is not None],
        _Resolution,
    )
    refund_rows = await _by_id(
        Refund,
        (
            Refund.id,
            Refund.mentee_id,
            Refund.state,
            Refund.approvals,
            Refund.denied_by,
            Refund.failure_reason,
            Refund.updated_at,
        ),
        [UUID(r.refund_id) for r in refunds],
        _RefundDecision,
    )
    ciphers = await keyring.readable(
        [row.complainant_id for row in rows.values()] + [row.mentee_id for row in refund_rows.values()]
    )
    for complaint in complaints:
        resolution = rows.get(complaint.complaint_id)
        if resolution is None or resolution.resolution_reasons is None:
            continue
        lines.append(
            ReasonLine(
                record_id=complaint.complaint_id,
                decision=f"complaint resolved: {resolution.outcome}",
                decided_by=resolution.assignee or "",
                decided_at=resolution.resolved_at,
                reasons=_reason(ciphers.get(resolution.complainant_id), resolution.resolution_reasons),
            )
        )
    for refund in refunds:
        found = refund_rows.get(refund.refund_id)
        if found is None:
            continue
        cipher = ciphers.get(found.mentee_id)
        for approval in loads(found.approvals, []):
            lines.append(
                ReasonLine(
                    record_id=refund.refund_id,
                    decision="refund approved",
                    decided_by=approval["approver"],
                    decided_at=msgspec.convert(approval["at"], datetime),
                    reasons=_reason(cipher, approval.get("reasons")),
                )
            )
        if found.state in ("denied", "failed") and found.failure_reason:
            lines.append(
                ReasonLine(
                    record_id=refund.refund_id,
                    decision="refund denied" if found.state == "denied" else "payout failed",
                    decided_by=found.denied_by or "",
                    decided_at=found.updated_at,
                    reasons=_reason(cipher, found.failure_reason),
                )
            )
    return lines


async def dispute_reasons(disputes: Sequence[DisputeLine], keyring: Keyring) -> list[ReasonLine]:
    """Why each tier of each listed dispute decided as it did (every decider's reasons), in order."""
    rows = await _by_id(
        Dispute,
        (Dispute.id, Dispute.candidate_id, Dispute.decisions),
        [UUID(d.dispute_id) for d in disputes],
        _DisputeDecisions,
    )
    ciphers = await keyring.readable(row.candidate_id for row in rows.values())
    lines: list[ReasonLine] = []
    for dispute in disputes:
        found = rows.get(dispute.dispute_id)
        if found is None:
            continue
        cipher = ciphers.get(found.candidate_id)
        for decision in loads(found.decisions, []):
            score = "" if decision.get("new_score") is None else f", new score {decision['new_score']}"
            reasons = [_reason(cipher, sealed) for sealed in decision.get("reasons", [])]
            lines.append(
                ReasonLine(
                    record_id=dispute.dispute_id,
                    decision=f"{decision['tier']}: {decision['outcome']}{score}",
                    decided_by=", ".join(decision.get("deciders", [])),
                    decided_at=msgspec.convert(decision["at"], datetime),
                    reasons=" / ".join(r for r in reasons if r),
                )
            )
    return lines
