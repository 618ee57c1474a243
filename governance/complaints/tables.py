"""Tables of complaints, refunds, attestations and disputes.

Personal text (descriptions, reasons, notes) is stored only as ciphertext from the
keyring, under the data subject it concerns. JSON lists are stored as text.
"""

from piccolo.columns import (
    UUID,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class Complaint(Table, tablename="complaint"):
    """A complaint and where it stands against its SLA targets.

    ``*_due_at`` are the deadlines still pending (null once met, and while the clock is
    paused); ``next_due_at`` is the earliest of them, which is all the SLA scan reads.
    ``sla_pauses`` lists the closed pauses as ``[[start, end], ...]`` (ISO 8601).
    """

    id = UUID(primary_key=True)
    state = Varchar(length=30, index=True)
    version = Integer(default=1)
    category = Varchar(length=30, index=True)
    severity = Varchar(length=10)
    severity_reason = Text(null=True, default=None)
    complainant_id = Varchar(length=200, index=True)
    filed_by = Varchar(length=200)
    filed_by_role = Varchar(length=40)
    mentor_id = Varchar(length=200, null=True, default=None, index=True)
    session_id = Varchar(length=200, null=True, default=None)
    attestation_id = UUID(null=True, default=None)
    description = Text()
    desired_remedy = Text(null=True, default=None)
    assignee = Varchar(length=200, null=True, default=None, index=True)
    outcome = Varchar(length=30, null=True, default=None)
    remedies = Text(default="[]")
    resolution_reasons = Text(null=True, default=None)
    received_at = Timestamptz()
    # When the resolve target's clock started: received_at, or the moment of an appeal.
    sla_started_at = Timestamptz()
    acknowledged_at = Timestamptz(null=True, default=None)
    first_response_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
    sla_clock = Varchar(length=10)
    sla_paused_at = Timestamptz(null=True, default=None)
    sla_pauses = Text(default="[]")
    ack_due_at = Timestamptz(null=True, default=None)
    response_due_at = Timestamptz(null=True, default=None)
    resolve_due_at = Timestamptz(null=True, default=None)
    # The resolve deadline last set, kept once met, breached or resolved: the registers
    # judge a closed case against it (``resolve_due_at`` is only what is still pending).
    resolve_deadline_at = Timestamptz(null=True, default=None)
    next_due_at = Timestamptz(null=True, default=None, index=True)
    breached = Boolean(default=False)
    breaches = Text(default="[]")


class ComplaintEvent(Table, tablename="complaint_event"):
    """Every change of a complaint's state: the case history the complainant sees."""

    id = UUID(primary_key=True)
    complaint_id = ForeignKey(references=Complaint, null=False, index=True, on_delete=OnDelete.restrict)
    from_state = Varchar(length=30, null=True, default=None)
    to_state = Varchar(length=30)
    actor = Varchar(length=200)
    at = Timestamptz()
    reason = Text(null=True, default=None)


class ComplaintNote(Table, tablename="complaint_note"):
    id = UUID(primary_key=True)
    complaint_id = ForeignKey(references=Complaint, null=False, index=True, on_delete=OnDelete.restrict)
    author = Varchar(length=200)
    author_role = Varchar(length=40)
    to_complainant = Boolean(default=False)
    body = Text()
    created_at = Timestamptz()


class SessionPayment(Table, tablename="session_payment"):
    """What a mentee paid for a session, as the platform reported it: the ceiling for refunds."""

    session_id = Varchar(length=200, primary_key=True)
    mentee_id = Varchar(length=200, index=True)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    reported_by = Varchar(length=200)
    reported_at = Timestamptz()


class Refund(Table, tablename="refund"):
    id = UUID(primary_key=True)
    state = Varchar(length=20, index=True)
    version = Integer(default=1)
    session_id = Varchar(length=200, index=True)
    complaint_id = UUID(null=True, default=None, index=True)
    mentee_id = Varchar(length=200, index=True)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    reason = Text()  # ciphertext, under the mentee
    requested_by = Varchar(length=200)
    approvals_needed = Integer(default=1)
    approved_by = Text(default="[]")
    denied_by = Varchar(length=200, null=True, default=None)
    payment_reference = Varchar(length=200, null=True, default=None)
    failure_reason = Text(null=True, default=None)  # why denied or failed (ciphertext, under the mentee)
    approvals = Text(default="[]")  # [{approver, reasons (ciphertext, under the mentee), at}]
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Attestation(Table, tablename="attestation"):
    """An attestation a mentor issued; ``version`` grows when a dispute amends its score."""

    id = UUID(primary_key=True)
    mentor_id = Varchar(length=200, index=True)
    candidate_id = Varchar(length=200, index=True)
    competency = Varchar(length=200, index=True)
    score = Integer()
    rubric_version = Varchar(length=50)
    session_id = Varchar(length=200, null=True, default=None)
    session_date = Date()
    token_sha256 = Varchar(length=64)
    status = Varchar(length=20)
    status_since = Timestamptz()
    status_before_dispute = Varchar(length=20, null=True, default=None)
    version = Integer(default=1)
    recorded_by = Varchar(length=200)
    recorded_at = Timestamptz()


class AttestationStatusChange(Table, tablename="attestation_status_change"):
    """Every status an attestation had, from when, and why (the dispute that changed it)."""

    id = UUID(primary_key=True)
    attestation_id = ForeignKey(references=Attestation, null=False, index=True, on_delete=OnDelete.restrict)
    status = Varchar(length=20)
    at = Timestamptz()
    version = Integer()
    score = Integer()
    dispute_id = UUID(null=True, default=None)
    reason = Varchar(length=200, null=True, default=None)


class Dispute(Table, tablename="dispute"):
    """A dispute about an attestation, moving through tiers L1 -> L2 -> L3.

    ``votes`` are the current tier's decisions so far (``[{decider, outcome, new_score, at,
    reasons}]``); ``tier_deciders`` who decided each tier (``{"L2": ["officer-1"]}``), which
    keeps L2 deciders off the L3 panel; ``decisions`` every tier's decision (``[{tier,
    outcome, new_score, deciders, reasons, at}]``). Reasons are ciphertext under the candidate.
    """

    id = UUID(primary_key=True)
    attestation_id = ForeignKey(references=Attestation, null=False, index=True, on_delete=OnDelete.restrict)
    state = Varchar(length=20, index=True)
    tier = Varchar(length=2)
    version = Integer(default=1)
    opened_by = Varchar(length=200)
    opened_as = Varchar(length=20)
    candidate_id = Varchar(length=200, index=True)
    mentor_id = Varchar(length=200, index=True)
    reason = Text()
    evidence = Text(default="[]")
    outcome = Varchar(length=20, null=True, default=None)
    new_score = Integer(null=True, default=None)
    votes = Text(default="[]")
    tier_deciders = Text(default="{}")
    decisions = Text(default="[]")
    tier_started_at = Timestamptz()
    decide_due_at = Timestamptz(null=True, default=None, index=True)
    breached = Boolean(default=False)
    appeal_until = Timestamptz(null=True, default=None)
    opened_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)


class DisputeEvent(Table, tablename="dispute_event"):
    id = UUID(primary_key=True)
    dispute_id = ForeignKey(references=Dispute, null=False, index=True, on_delete=OnDelete.restrict)
    from_state = Varchar(length=20, null=True, default=None)
    to_state = Varchar(length=20)
    tier = Varchar(length=2)
    actor = Varchar(length=200)
    at = Timestamptz()


TABLES = [
    Complaint,
    ComplaintEvent,
    ComplaintNote,
    SessionPayment,
    Refund,
    Attestation,
    AttestationStatusChange,
    Dispute,
    DisputeEvent,
]
