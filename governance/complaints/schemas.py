"""API shapes, in this order: complaints, payments and refunds, attestations and disputes,
the published escalation policy, and the period summary (the figures an accreditor asks
for first; evidence bundles print the same)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Final, Literal, get_args

import msgspec

from governance.core import limits
from governance.core.shapes import Input, View

Category = Literal["session_quality", "mentor_conduct", "safeguarding", "billing", "attestation", "privacy", "other"]
Severity = Literal["low", "medium", "high", "critical"]
ComplaintState = Literal[
    "received",
    "acknowledged",
    "investigating",
    "awaiting_complainant",
    "escalated",
    "resolved",
    "closed",
    "withdrawn",
    "reopened",
]
# The support queue's orders: newest received first, or soonest SLA deadline first.
ComplaintSort = Literal["received", "due"]
Outcome = Literal["upheld", "partially_upheld", "not_upheld"]
Remedy = Literal["apology", "refund", "repeat_session", "attestation_review", "mentor_action", "explanation"]
RefundState = Literal["requested", "approved", "denied", "issued", "failed"]
AttestationStatus = Literal["valid", "disputed", "amended", "revoked"]
DisputeState = Literal["l1_review", "l2_review", "l3_review", "decided", "revoked", "withdrawn"]
DisputeOutcome = Literal["upheld", "amended", "revoked"]

CATEGORIES: Final[tuple[str, ...]] = get_args(Category)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
COMPLAINT_STATES: Final[tuple[str, ...]] = get_args(ComplaintState)
REFUND_STATES: Final[tuple[str, ...]] = get_args(RefundState)
DISPUTE_STATES: Final[tuple[str, ...]] = get_args(DisputeState)

Subject = limits.Identifier
Reference = limits.Identifier
Text = Annotated[str, limits.text(20_000)]
ShortText = Annotated[str, limits.text(2_000)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", max_length=3, description="ISO 4217 code, e.g. EUR")]
Minor = Annotated[int, msgspec.Meta(ge=1, le=10**12, description="Amount in minor units (cents)")]
Sha256Hex = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", max_length=64, description="SHA-256, lowercase hex")]
Score = Annotated[int, msgspec.Meta(ge=0, le=1000)]


class ComplaintCreate(Input):
    """A new complaint. A mentee files about their own sessions (``complainant_id`` is then
    their own subject); the platform and support agents file on someone's behalf."""

    category: Category
    description: Text
    complainant_id: Subject | None = None
    severity: Severity | None = None
    severity_reason: ShortText | None = None
    mentor_id: Reference | None = None
    session_id: Reference | None = None
    attestation_id: uuid.UUID | None = None
    desired_remedy: ShortText | None = None


class ComplaintTransition(Input):
    """Move a complaint to ``to``. Resolving needs ``outcome`` and ``reasons``."""

    to: ComplaintState
    reason: ShortText | None = None
    assignee: Subject | None = None
    outcome: Outcome | None = None
    remedies: list[Remedy] = []
    reasons: Text | None = None


class NoteCreate(Input):
    """A note on a complaint; ``to_complainant`` notes are responses the complainant sees."""

    body: Text
    to_complainant: bool = False


class NoteView(View):
    id: uuid.UUID
    author: str
    author_role: str
    to_complainant: bool
    body: str | None  # None once the complainant's data was erased
    created_at: datetime


class ComplaintEventView(View):
    """One change of state, with who made it and when."""

    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str | None


class SlaView(View):
    """Where the complaint stands against its targets (``*_due`` is null while met or paused)."""

    clock: str
    paused: bool
    acknowledge_due: datetime | None
    first_response_due: datetime | None
    resolve_due: datetime | None
    breached: bool
    breaches: list[str]


class ComplaintView(View):
    id: uuid.UUID
    state: ComplaintState
    version: int
    category: Category
    severity: Severity
    severity_reason: str | None
    complainant_id: str
    filed_by: str
    mentor_id: str | None
    session_id: str | None
    attestation_id: uuid.UUID | None
    description: str | None
    desired_remedy: str | None
    assignee: str | None
    outcome: Outcome | None
    remedies: list[str]
    resolution_reasons: str | None
    received_at: datetime
    acknowledged_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    appeal_until: datetime | None
    sla: SlaView
    allowed_next: list[str]
    history: list[ComplaintEventView] = []
    notes: list[NoteView] = []


class ComplaintSummary(View):
    """A complaint in a list (no personal text)."""

    id: uuid.UUID
    state: ComplaintState
    category: Category
    severity: Severity
    complainant_id: str
    assignee: str | None
    breached: bool
    received_at: datetime
    next_due: datetime | None


class PaymentReport(Input):
    """What the mentee paid for a session, as the platform reports it."""

    mentee_id: Subject
    amount_minor: Minor
    currency: Currency


class PaymentView(View):
    session_id: str
    mentee_id: str
    amount_minor: int
    currency: str
    refunded_minor: int
    reported_at: datetime


class RefundCreate(Input):
    """A refund for a session, optionally linked to the complaint that led to it."""

    amount_minor: Minor
    currency: Currency
    reason: ShortText
    session_id: Reference | None = None
    complaint_id: uuid.UUID | None = None


class RefundTransition(Input):
    """``approved`` records one approval (two distinct approvers above the threshold) and
    ``denied`` the denial, each with its ``reasons`` (a denial still accepts ``reason``);
    ``issued`` needs ``payment_reference``; ``failed`` needs ``reason``."""

    to: Literal["approved", "denied", "issued", "failed"]
    reason: ShortText | None = None
    payment_reference: Reference | None = None
    reasons: ShortText | None = None


class RefundApprovalView(View):
    approver: str
    reasons: str | None  # null once the mentee was erased
    at: datetime


class RefundView(View):
    id: uuid.UUID
    state: RefundState
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
    approvals: list[RefundApprovalView]
    denied_by: str | None
    payment_reference: str | None
    failure_reason: str | None  # why it was denied, or why the payout failed
    created_at: datetime
    updated_at: datetime
    allowed_next: list[str]


class AttestationCreate(Input):
    """An attestation a mentor issued, as the platform records it: ``competency`` and
    ``rubric_version`` name a standard template and its version (``/ratings-method`` lists
    them), and ``score`` lies on that template's scale; otherwise 422 naming the field."""

    mentor_id: Subject
    candidate_id: Subject
    competency: limits.Identifier
    score: Score
    rubric_version: Annotated[str, limits.identifier(50)]
    session_date: date
    token_sha256: Sha256Hex
    id: uuid.UUID | None = None
    session_id: Reference | None = None


class StatusChangeView(View):
    status: AttestationStatus
    at: datetime
    version: int
    score: int
    dispute_id: uuid.UUID | None
    reason: str | None


class AttestationView(View):
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
    version: int
    history: list[StatusChangeView]


class AttestationStatusView(View):
    """What an employer may learn: the status, since when, and whether their token's digest matches."""

    status: AttestationStatus
    since: datetime
    digest_matches: bool | None


class DisputeCreate(Input):
    """Open a dispute about an attestation; ``evidence`` holds references (document ids, URLs)."""

    reason: Text
    evidence: Annotated[list[Annotated[str, limits.identifier(500)]], msgspec.Meta(max_length=50)] = []


class DisputeTransition(Input):
    """``l2_review``/``l3_review`` escalate or appeal; ``decided`` needs ``outcome`` (``amended``
    needs ``new_score``); ``revoked`` is final and needs two deciders; ``withdrawn`` by the opener.
    Every vote (``decided``, ``revoked``) states its ``reasons``."""

    to: Literal["l2_review", "l3_review", "decided", "revoked", "withdrawn"]
    outcome: Literal["upheld", "amended"] | None = None
    new_score: Score | None = None
    reasons: ShortText | None = None


class DisputeVoteView(View):
    decider: str
    outcome: DisputeOutcome
    new_score: int | None
    at: datetime
    reasons: str | None = None  # null once the candidate was erased


class DisputeDecisionView(View):
    """A tier's decision as the parties are told it: each agreeing decider's reasons."""

    tier: str
    outcome: DisputeOutcome
    new_score: int | None
    deciders: list[str]
    reasons: list[str | None]  # one per decider; null once the candidate was erased
    decided_at: datetime


class DisputeEventView(View):
    from_state: str | None
    to_state: str
    tier: str
    actor: str
    at: datetime


class DisputeView(View):
    id: uuid.UUID
    attestation_id: uuid.UUID
    state: DisputeState
    tier: str
    version: int
    opened_by: str
    opened_as: str
    candidate_id: str
    mentor_id: str
    reason: str | None
    evidence: list[str]
    outcome: DisputeOutcome | None
    new_score: int | None
    decide_due: datetime | None
    appeal_until: datetime | None
    votes: list[DisputeVoteView]
    decisions: list[DisputeDecisionView]
    tier_deciders: dict[str, list[str]]
    opened_at: datetime
    closed_at: datetime | None
    allowed_next: list[str]
    history: list[DisputeEventView]


class DisputeSummary(View):
    id: uuid.UUID
    attestation_id: uuid.UUID
    state: DisputeState
    tier: str
    candidate_id: str
    mentor_id: str
    decide_due: datetime | None
    opened_at: datetime


class ComplaintTargetsView(View):
    category: str | None  # None: every category without an override
    severity: str
    clock: str
    acknowledge_within: str
    first_response_within: str
    resolve_within: str


class DisputeTierView(View):
    tier: str
    name: str
    decided_by: str
    deciders: int
    clock: str
    decide_within: str
    appeal_to: str | None
    appeal_within: str | None
    outcomes: list[str]
    revocation_needs_two_deciders: bool


class ExternalReferralView(View):
    name: str
    when: str
    contact: str
    within: str


class EscalationPolicyView(View):
    """How complaints and disputed attestations are handled, who decides, and how long it may take."""

    business_hours: str
    holidays: list[str]
    clock_pauses: str
    severity_by_category: dict[str, str]
    complaint_targets: list[ComplaintTargetsView]
    escalated_immediately: list[str]
    breach: str
    final_response_within: str
    complaint_appeal_within: str
    complaint_outcomes: list[str]
    dispute_tiers: list[DisputeTierView]
    external: list[ExternalReferralView]


class MonthOfComplaints(View):
    month: str  # "2026-03"
    by_category: dict[str, int]  # every category, zeros included


class SlaAttainment(View):
    """Of the complaints received in the period whose resolution deadline has passed or that
    were resolved (``judged``), how many were resolved in time (``met``) and how many breached
    any SLA target (``breached``). ``attainment`` is met / judged (``None`` when nothing is judged)."""

    judged: int
    met: int
    breached: int
    attainment: float | None


class RefundFigures(View):
    requested: int
    by_state: dict[str, int]  # every refund state, zeros included
    issued_minor_by_currency: dict[str, int]


class DisputeFigures(View):
    opened: int
    by_outcome: dict[str, int]  # upheld, amended, revoked, withdrawn, open
    by_tier: dict[str, int]  # highest tier reached: L1, L2, L3
    breached: int


class AgreementFigure(View):
    """Krippendorff's ordinal alpha for one template and version, or platform-wide (no template).

    ``alpha`` and its interval are None ("not enough data") below the minimum of pairable
    ratings, or when every pairable rating has the same value.
    """

    template: str | None
    template_version: str | None
    name: str | None
    units: int  # candidates on this template scored by two mentors or more
    pairable_ratings: int
    mentors: int
    alpha: float | None
    interval_low: float | None
    interval_high: float | None


class AgreementFigures(View):
    """Mentor agreement over attestations with session dates in the window, per template and in all."""

    window_start: date
    window_end: date
    minimum_ratings: int
    confidence: float
    resamples: int
    seed: int
    platform: AgreementFigure
    by_template: list[AgreementFigure]


class ComplaintsSummary(View):
    """Complaint, refund and dispute handling over a period (``period_start`` to
    ``period_end``, both inclusive, UTC days), judged at ``as_of``."""

    period_start: date
    period_end: date
    as_of: datetime
    complaints_received: int
    by_category: dict[str, int]  # every category, zeros included
    by_outcome: dict[str, int]  # upheld, partially_upheld, not_upheld, withdrawn, open
    per_month: list[MonthOfComplaints]
    sla: SlaAttainment
    refunds: RefundFigures
    disputes: DisputeFigures
    agreement: AgreementFigures  # over attestations with session dates in the period
