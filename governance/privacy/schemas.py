"""API shapes of mentee privacy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import msgspec

from governance.core import limits
from governance.core.shapes import Input, View

ConsentState = Literal["opt_in", "opt_out"]
Method = Literal["explicit", "gpc", "default", "expired", "erasure"]
RequestType = Literal["access", "portability", "erasure", "rectification", "restriction", "objection"]
RequestState = Literal[
    "received", "identity_verification", "in_progress", "extended", "completed", "rejected", "withdrawn"
]
# The states a request ends in. Here rather than beside the workflow (privacy.requests), so that
# the summaries and the register a bundle's renderer process imports need not load the workflow.
TERMINAL: Final = frozenset({"completed", "rejected", "withdrawn"})
ReasonCode = Literal[
    "identity_not_verified", "manifestly_unfounded", "excessive", "legal_obligation", "no_data_held", "other"
]
Jurisdiction = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z]{2}$", max_length=2, description="ISO 3166-1 alpha-2, e.g. GB.")
]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$", max_length=2, description="ISO 639-1, e.g. en.")]
PurposeName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,79}$", max_length=80)]
Subject = limits.Identifier


class NoticeView(View):
    version: int
    published: str
    text: dict[str, str]
    sha256: dict[str, str]


class PurposeView(View):
    """A purpose as published. ``consent_model`` is how consent works (``opt_in``: asked
    first; ``opt_out``: used until refused); ``default`` is the state a mentee is in until
    they choose, in the same words as their preferences (``state`` with method ``default``)."""

    name: str
    title: str
    lawful_basis: str
    consent_model: Literal["opt_in", "opt_out"]
    default: ConsentState
    sharing: bool
    validity: str
    current_notice_version: int
    notices: list[NoticeView]


class RetentionCategoryView(View):
    name: str
    period: str
    starts_from: str
    mentee_may_shorten: bool
    description: str


class Notices(View):
    """Every purpose with its notices (all versions ever published), and the retention schedule."""

    controller: str
    policy_url: str
    purposes: list[PurposeView]
    retention: list[RetentionCategoryView]


class PreferencesUpdate(Input):
    """A change of preferences: the purposes named are explicit choices.

    ``retention`` sets a shorter period (ISO 8601) for categories a mentee may shorten.
    """

    preferences: Annotated[dict[PurposeName, ConsentState], msgspec.Meta(max_length=100)] = {}
    retention: Annotated[dict[PurposeName, Annotated[str, limits.identifier(40)]], msgspec.Meta(max_length=100)] = {}
    language: Language | None = None
    jurisdiction: Jurisdiction | None = None
    source: Annotated[str, limits.identifier(60)] = "api"


class PurposeState(View):
    """Where a purpose stands for one mentee, derived from the consent history."""

    purpose: str
    allowed: bool
    state: ConsentState
    method: Method
    record_id: UUID | None
    notice_version: int | None
    recorded_at: datetime | None
    expires_at: datetime | None
    needs_reconsent: bool


class Preferences(View):
    mentee_id: str
    purposes: list[PurposeState]
    retention: dict[str, str]


class ConsentRecordView(View):
    id: UUID
    purpose: str
    state: ConsentState
    method: Method
    notice_version: int | None
    language: str | None
    jurisdiction: str
    source: str
    actor: str
    recorded_at: datetime
    expires_at: datetime | None
    receipt_id: UUID | None
    # The audit entry that recorded it: its sequence number once the sequencer has numbered
    # it (null before), and the id it was queued under (null for records from before the queue).
    audit_seq: int | None
    audit_entry_id: int | None


class PreferencesChange(View):
    """The answer to a change: the preferences now, and the receipt (null when nothing changed)."""

    preferences: Preferences
    receipt: dict[str, Any] | None


class Permission(View):
    """Whether the platform may use a mentee's data for a purpose now, and why."""

    mentee_id: str
    purpose: str
    allowed: bool
    state: ConsentState
    method: Method
    record_id: UUID | None
    expires_at: datetime | None


class Reconsent(View):
    mentee_id: str
    purpose: str
    lapsed_at: datetime
    record_id: UUID


class ExpiryRun(View):
    lapsed: int


class DataRequestFiling(Input):
    """A data subject request. ``mentee_id`` is required when the platform files for a mentee."""

    type: RequestType
    mentee_id: Subject | None = None
    description: Annotated[str, limits.text(5_000, min_length=0)] | None = None


class RequestTransition(Input):
    """``extended`` needs ``extension`` and ``reason``; ``rejected`` needs ``reason_code`` and
    ``reason``: the requester is told why, in words as well as by code."""

    to: RequestState
    reason_code: ReasonCode | None = None
    extension: Annotated[str, limits.identifier(40, "ISO 8601, at most P2M (with `to: extended`).")] | None = None
    reason: Annotated[str, limits.text(2_000)] | None = None


class DataRequestView(View):
    id: UUID
    mentee_id: str
    type: RequestType
    state: RequestState
    reason_code: str | None
    description: str | None
    received_at: datetime
    due_at: datetime
    overdue: bool
    extended_at: datetime | None
    extension_reason: str | None
    rejection_reason: str | None
    closed_at: datetime | None
    allowed_next: list[str]
    export_available: bool
    certificate: dict[str, Any] | None
    version: int
    # The request's latest audit entry: its sequence number once the sequencer has numbered it
    # (null before), and the id it was queued under (null for entries from before the queue).
    audit_seq: int | None
    audit_entry_id: int | None


class RetentionLine(View):
    category: str
    module: str
    record_type: str
    record_id: str
    mentee_id: str
    due_at: datetime
    held_by: list[dict[str, str]]


class RetentionReport(View):
    """What retention would delete now (``due``), and what it must keep (``held``) and why."""

    generated_at: datetime
    due: list[RetentionLine]
    held: list[RetentionLine]
    counts: dict[str, dict[str, int]]


class SweepResult(View):
    dry_run: bool
    deleted: dict[str, int]
    held: dict[str, int]
    due: list[RetentionLine]
    held_records: list[RetentionLine]
    # Keys an erasure kept for a legal hold, destroyed (or, in a dry run, due) as their hold ended.
    held_keys_destroyed: int = 0


# The figures an accreditor asks for first; evidence bundles print the same.
class PrivacySummary(View):
    """Consent changes and data requests over a period (``period_start`` to ``period_end``,
    both inclusive, UTC days), judged at ``as_of``. No subject appears here, only counts."""

    period_start: date
    period_end: date
    as_of: datetime
    consent_changes_by_purpose: dict[str, dict[str, int]]  # purpose -> {"opt_in": n, "opt_out": n}
    consent_changes_by_method: dict[str, int]
    data_requests_received: int
    data_requests_by_type: dict[str, int]
    data_requests_closed: int
    data_requests_answered_on_time: int  # closed on or before their due date (extensions count)
    share_answered_on_time: float | None  # answered on time / closed
    data_requests_open_overdue: int


class PortalSessionRequest(Input):
    """The platform asks for a portal link for one mentee, and says where to send them back."""

    mentee_id: Annotated[str, limits.identifier(description="The mentee's id (the platform's).")]
    return_url: Annotated[
        str,
        limits.identifier(2000, description="Where the portal's back link leads; under GOVERNANCE_PORTAL_RETURN_URLS."),
    ]


class PortalSession(View):
    """A single-use link that signs the mentee in to their privacy pages, and its expiry."""

    url: str
    expires_at: datetime
