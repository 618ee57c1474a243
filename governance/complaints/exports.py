"""The complaints module's part of an access export: typed records of everything it holds about a subject.

A mentee is the complainant of their complaints (with their history and every note), the
payer of their sessions and refunds, and the candidate of their attestations and disputes;
a mentor is the issuer of attestations and a party to disputes about them.

Staff-internal items (notes not sent to the complainant, a severity override's reason,
staff's reasons for moving a case, the votes of a dispute panel, approvals of a refund
still awaiting its second approver) are exported too, marked ``internal``: they are
personal data about the subject, and the right of access (GDPR Art. 15(1), (3)) reaches
staff's assessments of a person as well (CJEU C-434/16, *Nowak*). ``internal`` is what
:func:`governance.core.visibility.may_see` answers for the subject as reader, so the mentee
learns which items their case views do not show them, and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec.structs import asdict

from governance.complaints.rows import (
    AttestationRow,
    AttestationStatusRow,
    ComplaintEventRow,
    ComplaintNoteRow,
    ComplaintRow,
    DisputeEventRow,
    DisputeRow,
    RefundRow,
    SessionPaymentRow,
)
from governance.complaints.tables import (
    Attestation,
    AttestationStatusChange,
    Complaint,
    ComplaintEvent,
    ComplaintNote,
    Dispute,
    DisputeEvent,
    Refund,
    SessionPayment,
)
from governance.core.crypto import Keyring, SubjectCipher, is_sealed
from governance.core.identity import SYSTEM, Identity
from governance.core.rows import typed_all
from governance.core.subjects import ExportRecord, Instant
from governance.core.visibility import may_see

Internal = Annotated[
    bool,
    msgspec.Meta(
        description="Staff's own item, not shown to you in your case views (core/visibility.py); "
        "exported because it is personal data about you (GDPR Art. 15)."
    ),
]


class SlaPause(ExportRecord):
    """A closed pause of the complaint's SLA clock (while the case awaited the complainant)."""

    started_at: Instant
    ended_at: Instant | None


class ComplaintSla(ExportRecord):
    """Where the complaint stands against its SLA targets."""

    clock: str
    paused_at: Instant | None
    pauses: list[SlaPause]
    acknowledge_due_at: Instant | None
    first_response_due_at: Instant | None
    resolve_due_at: Instant | None
    next_due_at: Instant | None
    breached: bool
    breaches: Annotated[list[str], msgspec.Meta(description="Targets missed: acknowledge, first_response, resolve.")]


class ComplaintEventRecord(ExportRecord):
    """One change of the complaint's state."""

    id: uuid.UUID
    from_state: str | None
    to_state: str
    actor: str
    at: Instant
    reason: str | None
    internal: Internal


class ComplaintNoteRecord(ExportRecord):
    """A note on the complaint: the complainant's own, one sent to them, or staff's internal one."""

    id: uuid.UUID
    author: str
    author_role: str
    to_complainant: bool
    internal: Internal
    body: str | None
    created_at: Instant


class ComplaintRecord(ExportRecord):
    """A complaint the subject filed (or that was filed for them), with its history and notes."""

    id: uuid.UUID
    state: str
    version: int
    category: str
    severity: str
    severity_reason: Annotated[
        str | None, msgspec.Meta(description="Staff's internal reason for overriding the severity.")
    ]
    complainant_id: str
    filed_by: str
    filed_by_role: str
    mentor_id: str | None
    session_id: str | None
    attestation_id: uuid.UUID | None
    description: str | None
    desired_remedy: str | None
    assignee: str | None
    outcome: str | None
    remedies: list[str]
    resolution_reasons: str | None
    received_at: Instant
    sla_started_at: Instant
    acknowledged_at: Instant | None
    first_response_at: Instant | None
    resolved_at: Instant | None
    closed_at: Instant | None
    updated_at: Instant
    sla: ComplaintSla
    history: list[ComplaintEventRecord]
    notes: list[ComplaintNoteRecord]


class SessionPaymentRecord(ExportRecord):
    """What the subject paid for a session, as the platform reported it."""

    session_id: str
    amount_minor: int
    currency: str
    reported_by: str
    reported_at: Instant


class RefundApprovalRecord(ExportRecord):
    """One approval of a refund, with the approver's reasons."""

    approver: str
    reasons: str | None
    at: Instant
    internal: Internal


class RefundRecord(ExportRecord):
    """A refund to the subject."""

    id: uuid.UUID
    state: str
    version: int
    session_id: str
    complaint_id: uuid.UUID | None
    mentee_id: str
    amount_minor: int
    currency: str
    reason: str | None
    requested_by: str
    approvals_needed: int
    approved_by: list[str]
    approvals: list[RefundApprovalRecord]
    denied_by: str | None
    payment_reference: str | None
    failure_reason: Annotated[str | None, msgspec.Meta(description="Why it was denied, or why the payout failed.")]
    created_at: Instant
    updated_at: Instant


class AttestationStatusRecord(ExportRecord):
    """A status an attestation had, from when, and the dispute that changed it."""

    status: str
    at: Instant
    version: int
    score: int
    dispute_id: uuid.UUID | None
    reason: str | None


class AttestationRecord(ExportRecord):
    """An attestation about the subject as candidate, or issued by them as mentor."""

    id: uuid.UUID
    mentor_id: str
    candidate_id: str
    competency: str
    score: int
    rubric_version: str
    session_id: str | None
    session_date: Annotated[date, msgspec.Meta(extra_json_schema={"format": "date"})]
    token_sha256: str
    status: str
    status_since: Instant
    status_before_dispute: str | None
    version: int
    recorded_by: str
    recorded_at: Instant
    status_history: list[AttestationStatusRecord]


class DisputeVoteRecord(ExportRecord):
    """One decider's vote in the dispute's current tier."""

    decider: str
    outcome: str
    new_score: int | None
    reasons: str | None
    at: Instant
    internal: Internal


class DisputeDecisionRecord(ExportRecord):
    """A tier's decision, addressed to both parties."""

    tier: str
    outcome: str
    new_score: int | None
    deciders: list[str]
    reasons: list[str | None]
    decided_at: Instant


class DisputeEventRecord(ExportRecord):
    """One change of the dispute's state."""

    from_state: str | None
    to_state: str
    tier: str
    actor: str
    at: Instant


class DisputeRecord(ExportRecord):
    """A dispute about an attestation the subject is candidate or mentor of."""

    id: uuid.UUID
    attestation_id: uuid.UUID
    state: str
    tier: str
    version: int
    opened_by: str
    opened_as: str
    candidate_id: str
    mentor_id: str
    reason: str | None
    evidence: list[str]
    outcome: str | None
    new_score: int | None
    votes: list[DisputeVoteRecord]
    decisions: list[DisputeDecisionRecord]
    tier_deciders: dict[str, list[str]]
    tier_started_at: Instant
    decide_due_at: Instant | None
    breached: bool
    appeal_until: Instant | None
    opened_at: Instant
    closed_at: Instant | None
    history: list[DisputeEventRecord]


class ComplaintsExport(ExportRecord):
    """Everything the complaints module holds about the subject."""

    complaints: list[ComplaintRecord]
    session_payments: list[SessionPaymentRecord]
    refunds: list[RefundRecord]
    attestations: list[AttestationRecord]
    disputes: list[DisputeRecord]


def _text(cipher: SubjectCipher | None, stored: str | None) -> str | None:
    """A personal field: ciphertext under the subject's key (None once erased), or text
    stored in clear (written before it was sealed, or the system's generated reasons)."""
    if stored is None or not is_sealed(stored):
        return stored
    return cipher.read(stored) if cipher else None


def _json(stored: str | None, default: Any) -> Any:
    return default if not stored else msgspec.json.decode(stored)


def _complaint(
    c: ComplaintRow,
    events: list[ComplaintEventRow],
    notes: list[ComplaintNoteRow],
    cipher: SubjectCipher | None,
    reader: Identity,
) -> ComplaintRecord:
    pauses = [
        SlaPause(started_at=msgspec.convert(a, datetime), ended_at=msgspec.convert(b, datetime | None))
        for a, b in _json(c.sla_pauses, [])
    ]
    return ComplaintRecord(
        id=c.id,
        state=c.state,
        version=c.version,
        category=c.category,
        severity=c.severity,
        severity_reason=_text(cipher, c.severity_reason),
        complainant_id=c.complainant_id,
        filed_by=c.filed_by,
        filed_by_role=c.filed_by_role,
        mentor_id=c.mentor_id,
        session_id=c.session_id,
        attestation_id=c.attestation_id,
        description=_text(cipher, c.description),
        desired_remedy=_text(cipher, c.desired_remedy),
        assignee=c.assignee,
        outcome=c.outcome,
        remedies=_json(c.remedies, []),
        resolution_reasons=_text(cipher, c.resolution_reasons),
        received_at=c.received_at,
        sla_started_at=c.sla_started_at,
        acknowledged_at=c.acknowledged_at,
        first_response_at=c.first_response_at,
        resolved_at=c.resolved_at,
        closed_at=c.closed_at,
        updated_at=c.updated_at,
        sla=ComplaintSla(
            clock=c.sla_clock,
            paused_at=c.sla_paused_at,
            pauses=pauses,
            acknowledge_due_at=c.ack_due_at,
            first_response_due_at=c.response_due_at,
            resolve_due_at=c.resolve_due_at,
            next_due_at=c.next_due_at,
            breached=c.breached,
            breaches=_json(c.breaches, []),
        ),
        history=[
            ComplaintEventRecord(
                id=e.id,
                from_state=e.from_state,
                to_state=e.to_state,
                actor=e.actor,
                at=e.at,
                reason=_text(cipher, e.reason),
                # The system's reasons are addressed to everyone; a person's are internal to staff.
                internal=not may_see(reader, internal=e.actor != SYSTEM.sub, author=e.actor),
            )
            for e in events
        ],
        notes=[
            ComplaintNoteRecord(
                id=n.id,
                author=n.author,
                author_role=n.author_role,
                to_complainant=n.to_complainant,
                internal=not may_see(reader, internal=not n.to_complainant, author=n.author),
                body=_text(cipher, n.body),
                created_at=n.created_at,
            )
            for n in notes
        ],
    )


def _refund(r: RefundRow, cipher: SubjectCipher | None, reader: Identity) -> RefundRecord:
    # Approvals recorded while the refund awaits its second approver are staff's own.
    pending = r.state == "requested"
    return RefundRecord(
        id=r.id,
        state=r.state,
        version=r.version,
        session_id=r.session_id,
        complaint_id=r.complaint_id,
        mentee_id=r.mentee_id,
        amount_minor=r.amount_minor,
        currency=r.currency,
        reason=_text(cipher, r.reason),
        requested_by=r.requested_by,
        approvals_needed=r.approvals_needed,
        approved_by=_json(r.approved_by, []),
        approvals=[
            RefundApprovalRecord(
                approver=a["approver"],
                reasons=_text(cipher, a.get("reasons")),
                at=msgspec.convert(a["at"], datetime),
                internal=not may_see(reader, internal=pending, author=a["approver"]),
            )
            for a in _json(r.approvals, [])
        ],
        denied_by=r.denied_by,
        payment_reference=r.payment_reference,
        failure_reason=_text(cipher, r.failure_reason),
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _dispute(
    d: DisputeRow, events: list[DisputeEventRow], cipher: SubjectCipher | None, reader: Identity
) -> DisputeRecord:
    # ``cipher`` is the candidate's: the dispute's text is sealed under their key.
    evidence = d.evidence
    return DisputeRecord(
        id=d.id,
        attestation_id=d.attestation_id,
        state=d.state,
        tier=d.tier,
        version=d.version,
        opened_by=d.opened_by,
        opened_as=d.opened_as,
        candidate_id=d.candidate_id,
        mentor_id=d.mentor_id,
        reason=_text(cipher, d.reason),
        evidence=_json(evidence if evidence.startswith("[") else _text(cipher, evidence), []),
        outcome=d.outcome,
        new_score=d.new_score,
        votes=[
            DisputeVoteRecord(
                decider=v["decider"],
                outcome=v["outcome"],
                new_score=v["new_score"],
                reasons=_text(cipher, v.get("reasons")),
                at=msgspec.convert(v["at"], datetime),
                internal=not may_see(reader, internal=True, author=v["decider"]),
            )
            for v in _json(d.votes, [])
        ],
        decisions=[
            DisputeDecisionRecord(
                tier=x["tier"],
                outcome=x["outcome"],
                new_score=x["new_score"],
                deciders=x["deciders"],
                reasons=[_text(cipher, sealed) for sealed in x["reasons"]],
                decided_at=msgspec.convert(x["at"], datetime),
            )
            for x in _json(d.decisions, [])
        ],
        tier_deciders=_json(d.tier_deciders, {}),
        tier_started_at=d.tier_started_at,
        decide_due_at=d.decide_due_at,
        breached=d.breached,
        appeal_until=d.appeal_until,
        opened_at=d.opened_at,
        closed_at=d.closed_at,
        history=[
            DisputeEventRecord(from_state=e.from_state, to_state=e.to_state, tier=e.tier, actor=e.actor, at=e.at)
            for e in events
        ],
    )


def _attestation(a: AttestationRow, changes: list[AttestationStatusRow]) -> AttestationRecord:
    # The record is the row, every column of it, with its history.
    return AttestationRecord(
        **asdict(a),
        status_history=[
            AttestationStatusRecord(
                status=s.status,
                at=s.at,
                version=s.version,
                score=s.score,
                dispute_id=s.dispute_id,
                reason=s.reason,
            )
            for s in changes
        ],
    )


K = TypeVar("K")
R = TypeVar("R")


def _by(rows: list[R], key: Callable[[R], K]) -> dict[K, list[R]]:
    grouped: dict[K, list[R]] = {}
    for row in rows:
        grouped.setdefault(key(row), []).append(row)
    return grouped


async def export(keyring: Keyring, subject: str) -> tuple[ComplaintsExport, list[str]]:
    """Everything the complaints module holds about ``subject``, and the ids of those records."""
    reader = Identity(sub=subject, roles=("mentee",))
    complaints = typed_all(
        await Complaint.select().where(Complaint.complainant_id == subject).order_by(Complaint.received_at),
        ComplaintRow,
    )
    ids = [c.id for c in complaints]
    events = typed_all(
        await ComplaintEvent.select().where(ComplaintEvent.complaint_id.is_in(ids)).order_by(ComplaintEvent.at)
        if ids
        else [],
        ComplaintEventRow,
    )
    notes = typed_all(
        await ComplaintNote.select().where(ComplaintNote.complaint_id.is_in(ids)).order_by(ComplaintNote.created_at)
        if ids
        else [],
        ComplaintNoteRow,
    )
    payments = typed_all(
        await SessionPayment.select().where(SessionPayment.mentee_id == subject).order_by(SessionPayment.reported_at),
        SessionPaymentRow,
    )
    refunds = typed_all(await Refund.select().where(Refund.mentee_id == subject).order_by(Refund.created_at), RefundRow)
    attestations = typed_all(
        await Attestation.select()
        .where((Attestation.candidate_id == subject) | (Attestation.mentor_id == subject))
        .order_by(Attestation.recorded_at),
        AttestationRow,
    )
    attestation_ids = [a.id for a in attestations]
    changes = typed_all(
        await AttestationStatusChange.select()
        .where(AttestationStatusChange.attestation_id.is_in(attestation_ids))
        .order_by(AttestationStatusChange.at)
        if attestation_ids
        else [],
        AttestationStatusRow,
    )
    disputes = typed_all(
        await Dispute.select()
        .where((Dispute.candidate_id == subject) | (Dispute.mentor_id == subject))
        .order_by(Dispute.opened_at),
        DisputeRow,
    )
    dispute_ids = [d.id for d in disputes]
    dispute_events = typed_all(
        await DisputeEvent.select().where(DisputeEvent.dispute_id.is_in(dispute_ids)).order_by(DisputeEvent.at)
        if dispute_ids
        else [],
        DisputeEventRow,
    )
    # A mentor reads the disputes about their attestations as a party: their text is under the candidate's key.
    ciphers = await keyring.readable([subject, *(d.candidate_id for d in disputes)])
    cipher = ciphers[subject]
    events_of = _by(events, lambda e: e.complaint_id)
    notes_of = _by(notes, lambda n: n.complaint_id)
    changes_of = _by(changes, lambda c: c.attestation_id)
    dispute_events_of = _by(dispute_events, lambda e: e.dispute_id)
    part = ComplaintsExport(
        complaints=[_complaint(c, events_of.get(c.id, []), notes_of.get(c.id, []), cipher, reader) for c in complaints],
        session_payments=[
            SessionPaymentRecord(
                session_id=p.session_id,
                amount_minor=p.amount_minor,
                currency=p.currency,
                reported_by=p.reported_by,
                reported_at=p.reported_at,
            )
            for p in payments
        ],
        refunds=[_refund(r, cipher, reader) for r in refunds],
        attestations=[_attestation(a, changes_of.get(a.id, [])) for a in attestations],
        disputes=[_dispute(d, dispute_events_of.get(d.id, []), ciphers[d.candidate_id], reader) for d in disputes],
    )
    records: list[ComplaintRow | RefundRow | AttestationRow | DisputeRow] = [
        *complaints,
        *refunds,
        *attestations,
        *disputes,
    ]
    resource_ids = [str(record.id) for record in records] + [p.session_id for p in payments]
    return part, resource_ids
