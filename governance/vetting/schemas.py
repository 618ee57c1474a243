"""API shapes of mentor vetting."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from governance.core import limits
from governance.core.reporting import AttestationQuality
from governance.core.shapes import Input, View
from governance.vetting.states import CheckState, DecisionAction, DecisionState, MentorStatus

EngagementType = Literal["volunteer", "contractor", "employee"]
Jurisdiction = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z]{2}$", max_length=2, description="ISO 3166-1 alpha-2 country code, e.g. GB.")
]
# ``\s`` differs between Python and ECMA-262 (the OpenAPI reader's dialect) in \x1c-\x1f, \x85
# and \ufeff; naming those makes both refuse the same addresses.
_NOT_IN_ADDRESS = r"[^@\s\x00-\x1f\x7f\x85\ufeff]+"
_EMAIL = rf"^{_NOT_IN_ADDRESS}@{_NOT_IN_ADDRESS}\.{_NOT_IN_ADDRESS}$(?!\n)"
Text200 = Annotated[str, limits.text(200)]
LongText = Annotated[str, limits.text(10_000)]
Email = Annotated[str, msgspec.Meta(pattern=_EMAIL, max_length=320)]
DetailName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,59}$", max_length=60)]
DetailValue = Annotated[str, limits.text(500, min_length=0)]
Details = Annotated[dict[DetailName, DetailValue], msgspec.Meta(max_length=50)]


class MentorRegistration(Input):
    """A mentor as the platform registers them."""

    external_id: Annotated[str, limits.identifier(description="The platform's own id.")]
    display_name: Text200
    email: Email
    jurisdiction: Jurisdiction
    engagement_type: EngagementType
    specialties: Annotated[list[Text200], msgspec.Meta(max_length=50)] = []


class MentorView(View):
    """A mentor. ``status`` is derived from confirmed decisions and checks, never typed in.

    ``display_name`` and ``email`` are null once the mentor's personal data was erased.
    """

    id: UUID
    external_id: str
    display_name: str | None
    email: str | None
    jurisdiction: str
    engagement_type: str
    specialties: list[str]
    status: MentorStatus
    status_since: datetime
    registered_at: datetime
    version: int


class CheckRecord(Input):
    """A new check of a mentor, started as ``pending``."""

    check_type: Annotated[str, limits.identifier(description="A check type of the requirements file.")]
    details: Details = {}
    notes: LongText | None = None


class CheckTransition(Input):
    """Move a check to another state.

    ``passed`` and ``waived`` start a validity period: from ``valid_from`` (default now)
    for the check type's validity, or until ``expires_at`` when that comes sooner (a
    certificate that runs out earlier). ``waived`` needs a ``justification`` and a second
    compliance officer: the first request asks for the waiver, another officer's grants it.
    ``details`` are merged into the check's recorded details.
    """

    to: CheckState
    notes: LongText | None = None
    justification: LongText | None = None
    valid_from: limits.Instant | None = None
    expires_at: limits.Instant | None = None
    details: Details = {}


class AuditTrail(View):
    """The audit entries behind a fact: the one that recorded it and the latest about it.

    ``recorded`` and ``latest`` are their sequence numbers (``GET /api/v1/audit/entries/{seq}``):
    null until the sequencer has integrated the entry (a change commits without waiting for
    it), ``latest`` also when nothing followed. ``recorded_entry_id`` and ``latest_entry_id``
    are the ids the entries were queued under, known at once (null for entries numbered
    before the queue existed, and for no entry).
    """

    recorded: int | None
    latest: int | None = None
    recorded_entry_id: int | None = None
    latest_entry_id: int | None = None

    @property
    def pending(self) -> bool:
        """Whether an entry of the fact is committed but not numbered yet (pages say "being recorded")."""
        return (self.recorded is None and self.recorded_entry_id is not None) or (
            self.latest is None and self.latest_entry_id is not None
        )


class DocumentView(View):
    """A stored document: SHA-256 of its content as uploaded."""

    id: UUID
    check_id: UUID
    sha256: str
    size: int
    media_type: str
    filename: str | None
    uploaded_by: str
    uploaded_at: datetime
    audit: AuditTrail


class WaiverRequest(View):
    requested_by: str
    justification: str | None


class CheckView(View, omit_defaults=True):
    """One check. ``notes`` are internal: absent when there are none, never shown to the mentor."""

    id: UUID
    mentor_id: UUID
    check_type: str
    state: CheckState
    state_since: datetime
    current: bool
    requirements_version: str
    details: dict[str, str] | None
    recorded_by: str
    recorded_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    valid_from: datetime | None
    expires_at: datetime | None
    audit: AuditTrail
    version: int  # bumped by every change of the check: its ETag, and the If-Match a move sends
    documents: list[DocumentView]
    waiver_request: WaiverRequest | None
    allowed_next: list[CheckState]
    notes: str | None = None


class TransitionOutcome(View):
    """What a transition did: moved the check, or (for a first waiver request) awaits a second officer."""

    check: CheckView
    effective: bool
    message: str


class DecisionProposal(Input):
    action: DecisionAction
    rationale: LongText


class DecisionRejection(Input):
    """Why a second officer rejects a proposed decision."""

    reasons: LongText


class DecisionView(View):
    """A decision: effective only once confirmed by a second compliance officer; a second
    officer may reject it instead (``closing_reasons``), its proposer withdraw it."""

    id: UUID
    mentor_id: UUID
    action: DecisionAction
    state: DecisionState
    rationale: str | None
    requirements_version: str
    proposed_by: str
    proposed_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    audit: AuditTrail
    allowed_next: list[DecisionState]
    closed_by: str | None = None
    closed_at: datetime | None = None
    closing_reasons: str | None = None


class RequirementView(View):
    check_type: str
    title: str
    count: int
    expect: dict[str, str]
    validity: str
    evidence: str
    documents_required: int
    details_required: list[str]
    met: bool
    # Passing needs an officer who neither attached the evidence nor moved the check to review.
    four_eyes: bool = False
    # Where validity starts: "review" (the pass) or "evidence_date" (the issued_on detail).
    valid_from: Literal["review", "evidence_date"] = "review"


class Gap(View):
    check_type: str
    reason: str


class RatingView(View):
    """The published rating: null below the minimum count, with how it was computed."""

    rating: float | None
    count: int
    mean: float | None
    window_start: datetime
    method: str
    method_version: str
    method_url: str = "/api/v1/vetting/ratings/method"


class Dossier(View):
    """Everything the vetting of one mentor rests on, judged at ``judged_at``."""

    mentor: MentorView
    requirements_version: str
    requirements_published: str
    judged_at: datetime
    requirements: list[RequirementView]
    missing_for_approval: list[Gap]
    checks: list[CheckView]
    decisions: list[DecisionView]
    rating: RatingView
    attestation_quality: AttestationQuality
    allowed_decisions: list[DecisionAction]


class RatingReport(Input):
    """One session rating, as the platform reports it."""

    session_id: limits.Identifier
    mentee_id: limits.Identifier
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    session_at: limits.Instant


class RatingRecorded(View):
    id: UUID
    mentor_id: UUID
    session_id: str
    score: int
    session_at: datetime
    recorded_at: datetime


class RatingMethodView(View):
    """How published ratings are computed."""

    method: Literal["bayesian_average"]
    version: str
    prior_mean: float
    prior_weight: int
    minimum_count: int
    window: str
    explanation: str


class ReminderMark(View):
    days_before: int
    due_at: datetime
    reached: bool
    announced: bool


class ExpiringCheck(View):
    """A check that lapses within the window, and whether a renewal already covers it."""

    check_id: UUID
    mentor_id: UUID
    mentor_status: MentorStatus
    check_type: str
    expires_at: datetime
    days_left: int
    covered_by_renewal: bool
    reminders: list[ReminderMark]


class ExpiryRun(View):
    """What one run of the expiry job did."""

    checks_expired: int
    mentors_lapsed: int
    reminders_announced: int


class ReadinessSummary(View):
    """Accreditation figures. Active mentors are those approved or lapsed (not suspended or revoked)."""

    as_of: datetime
    mentors_by_status: dict[str, int]
    active_mentors: int
    active_fully_vetted_and_current: int
    share_fully_vetted_and_current: float | None
    checks_expiring_within_30_days: int
    median_days_onboarding_to_approval: float | None
    requirements_version: str
