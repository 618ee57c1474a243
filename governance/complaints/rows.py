"""The rows of the complaints tables as the services read them (see :mod:`governance.core.rows`).

A whole row, read by several services (a complaint by its view, its moves, its notes and
the access export), is declared here once, beside :mod:`~governance.complaints.tables`;
a query that reads a few columns declares them beside itself. Personal text columns
hold ciphertext; JSON lists and objects are text (decoded where they are read).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from governance.complaints.schemas import (
    AttestationStatus,
    Category,
    ComplaintState,
    DisputeOutcome,
    DisputeState,
    Outcome,
    RefundState,
    Severity,
)
from governance.core.rows import Row


class RecordId(Row):
    """The id of a record, when that is all a query reads."""

    id: uuid.UUID


class ComplaintRow(Row):
    """A ``complaint`` row (see :class:`~governance.complaints.tables.Complaint`)."""

    id: uuid.UUID
    state: ComplaintState
    version: int
    category: Category
    severity: Severity
    severity_reason: str | None  # ciphertext, or clear text written before it was sealed
    complainant_id: str
    filed_by: str
    filed_by_role: str
    mentor_id: str | None
    session_id: str | None
    attestation_id: uuid.UUID | None
    description: str  # ciphertext
    desired_remedy: str | None  # ciphertext
    assignee: str | None
    outcome: Outcome | None
    remedies: str  # JSON list
    resolution_reasons: str | None  # ciphertext
    received_at: datetime
    sla_started_at: datetime
    acknowledged_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    sla_clock: str
    sla_paused_at: datetime | None
    sla_pauses: str  # JSON list of [start, end]
    ack_due_at: datetime | None
    response_due_at: datetime | None
    resolve_due_at: datetime | None
    resolve_deadline_at: datetime | None
    next_due_at: datetime | None
    breached: bool
    breaches: str  # JSON list


class ComplaintEventRow(Row):
    """A ``complaint_event`` row: one line of a complaint's history."""

    id: uuid.UUID
    complaint_id: uuid.UUID
    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str | None  # ciphertext when a person gave it; the system's generated text in clear


class ComplaintNoteRow(Row):
    """A ``complaint_note`` row."""

    id: uuid.UUID
    complaint_id: uuid.UUID
    author: str
    author_role: str
    to_complainant: bool
    body: str  # ciphertext
    created_at: datetime


class SessionPaymentRow(Row):
    """A ``session_payment`` row: what a mentee paid for a session."""

    session_id: str
    mentee_id: str
    amount_minor: int
    currency: str
    reported_by: str
    reported_at: datetime


class RefundRow(Row):
    """A ``refund`` row (see :class:`~governance.complaints.tables.Refund`)."""

    id: uuid.UUID
    state: RefundState
    version: int
    session_id: str
    complaint_id: uuid.UUID | None
    mentee_id: str
    amount_minor: int
    currency: str
    reason: str  # ciphertext
    requested_by: str
    approvals_needed: int
    approved_by: str  # JSON list
    denied_by: str | None
    payment_reference: str | None
    failure_reason: str | None  # ciphertext
    approvals: str  # JSON list of {approver, reasons, at}
    created_at: datetime
    updated_at: datetime


class AttestationRow(Row):
    """An ``attestation`` row (see :class:`~governance.complaints.tables.Attestation`)."""

    id: uuid.UUID
    mentor_id: str
    candidate_id: str
    competency: str
    score: int
    rubric_version: str
    session_id: str | None
    session_date: date
    token_sha256: str
    status: AttestationStatus
    status_since: datetime
    status_before_dispute: AttestationStatus | None
    version: int
    recorded_by: str
    recorded_at: datetime


class AttestationStatusRow(Row):
    """An ``attestation_status_change`` row: a status an attestation had, and why."""

    id: uuid.UUID
    attestation_id: uuid.UUID
    status: AttestationStatus
    at: datetime
    version: int
    score: int
    dispute_id: uuid.UUID | None
    reason: str | None


class DisputeRow(Row):
    """A ``dispute`` row (see :class:`~governance.complaints.tables.Dispute`)."""

    id: uuid.UUID
    attestation_id: uuid.UUID
    state: DisputeState
    tier: str
    version: int
    opened_by: str
    opened_as: str
    candidate_id: str
    mentor_id: str
    reason: str  # ciphertext
    evidence: str  # ciphertext of a JSON list, or a JSON list written before it was sealed
    outcome: DisputeOutcome | None
    new_score: int | None
    votes: str  # JSON list
    tier_deciders: str  # JSON object
    decisions: str  # JSON list
    tier_started_at: datetime
    decide_due_at: datetime | None
    breached: bool
    appeal_until: datetime | None
    opened_at: datetime
    closed_at: datetime | None


class DisputeEventRow(Row):
    """A ``dispute_event`` row: one change of a dispute's state."""

    id: uuid.UUID
    dispute_id: uuid.UUID
    from_state: str | None
    to_state: str
    tier: str
    actor: str
    at: datetime
