"""What a bundle holds, as assembled from the modules and handed to the renderer process.

Plain msgspec Structs, so that the assembly (in the service, with the database) and the
rendering (reportlab, in its own process) meet through one encoded file and nothing else.
No register holds a name or an e-mail address: identifiers, states, dates and hashes are
what an accreditor needs to sample and trace a record. The one free text a bundle prints
is the reasons of the decisions it lists (an accreditor judges a decision by its reasons),
opened with the data subject's key; once that key is destroyed they read :data:`ERASED`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final, Literal, get_args

import msgspec

from governance.complaints.schemas import ComplaintsSummary
from governance.privacy.schemas import PrivacySummary
from governance.vetting.schemas import ReadinessSummary

# What a reason reads once its data subject was erased (their key destroyed): the decision
# stays listed, its reasons are gone for good.
ERASED: Final = "[erased: the data subject's key was destroyed]"

Section = Literal["summary", "vetting", "complaints", "disputes", "privacy", "audit"]
SECTIONS: Final[tuple[str, ...]] = get_args(Section)


class Cover(msgspec.Struct, frozen=True):
    bundle_id: str
    title: str
    period_start: date
    period_end: date
    requested_by: str
    requested_at: datetime
    generated_at: datetime
    generator: str  # "governance 0.1.0"
    sections: list[str]
    mentor_filter: list[str] | None = None
    # The roles the requester held when asking, as their request's audit entry records them.
    requested_by_roles: list[str] = []


class DocumentLine(msgspec.Struct, frozen=True):
    document_id: str
    sha256: str
    size: int
    media_type: str
    uploaded_at: datetime


class CheckLine(msgspec.Struct, frozen=True):
    check_id: str
    check_type: str
    state: str
    valid_from: datetime | None
    expires_at: datetime | None
    reviewed_by: str | None
    documents: list[DocumentLine]


class MentorLine(msgspec.Struct, frozen=True):
    mentor_id: str
    external_id: str
    jurisdiction: str
    engagement_type: str
    status: str
    status_since: datetime
    registered_at: datetime
    first_approved_at: datetime | None
    checks: list[CheckLine]


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


class DataRequestLine(msgspec.Struct, frozen=True):
    request_id: str
    request_type: str
    state: str
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None
    on_time: bool | None  # None while open and not yet due


class ReasonLine(msgspec.Struct, frozen=True):
    """One decision a register lists and why it was taken, as its decider wrote it."""

    record_id: str  # the mentor's external id, the check, complaint, refund or dispute id
    decision: str  # "approve (confirmed)", "waiver granted", "resolved: upheld", "L1: upheld", ...
    decided_by: str
    decided_at: datetime | None
    reasons: str  # plaintext, or ERASED


class PolicyVersion(msgspec.Struct, frozen=True):
    """A policy file as it was in force from ``in_force_from`` until ``in_force_until`` (None: still)."""

    name: str  # the file name, "sla.toml"
    label: str | None  # the file's own ``version`` value, when it has one
    sha256: str  # of the exact bytes in ``text``
    size: int
    in_force_from: datetime
    in_force_until: datetime | None
    text: str


class SignOff(msgspec.Struct, frozen=True):
    """Who asked for the bundle, as what and when: printed above the checkpoint that binds it."""

    requested_by: str
    roles: list[str]
    requested_at: datetime
    request_entry: int | None  # the sequence number of the evidence.bundle.requested entry


class AuditSection(msgspec.Struct, frozen=True):
    checkpoint: str  # the C2SP signed note, verbatim
    origin: str
    tree_size: int
    root_hash: str  # base64, as in the note
    verifier_key: str  # the note verifier key (name+hash+key)
    verify_steps: list[str]  # the exact commands, in order


class Artifact(msgspec.Struct, frozen=True):
    """One thing the bundle vouches for, by hash: a vetting document, the checkpoint, a register."""

    name: str
    kind: str  # "vetting_document", "checkpoint", "register"
    sha256: str
    size: int | None = None


class BundleContents(msgspec.Struct, frozen=True):
    """Everything the renderer needs; sections not requested are empty."""

    cover: Cover
    vetting_summary: ReadinessSummary | None
    complaints_summary: ComplaintsSummary | None
    privacy_summary: PrivacySummary | None
    mentors: list[MentorLine]
    complaints: list[ComplaintLine]
    refunds: list[RefundLine]
    disputes: list[DisputeLine]
    data_requests: list[DataRequestLine]
    audit: AuditSection | None
    artifacts: list[Artifact]
    # Mentors registered by the period's end who were never approved (onboarding, refused).
    mentors_never_approved: list[MentorLine] = []
    vetting_reasons: list[ReasonLine] = []
    complaint_reasons: list[ReasonLine] = []
    dispute_reasons: list[ReasonLine] = []
    policies: list[PolicyVersion] = []
    sign_off: SignOff | None = None
