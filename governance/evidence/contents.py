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

from governance.complaints.reporting import ComplaintLine, DisputeLine, RefundLine
from governance.complaints.schemas import ComplaintsSummary
from governance.core.reporting import ERASED, ReasonLine
from governance.privacy.reporting import DataRequestLine
from governance.privacy.schemas import PrivacySummary
from governance.vetting.reporting import CheckLine, DocumentLine, MentorLine
from governance.vetting.schemas import ReadinessSummary

# The register lines are declared by the domains that print them (evidence reads the
# domains, never the reverse); named here too, as the parts of a bundle.
__all__ = [
    "ERASED",
    "SECTIONS",
    "Artifact",
    "AuditSection",
    "BundleContents",
    "CheckLine",
    "ComplaintLine",
    "Cover",
    "DataRequestLine",
    "DisputeLine",
    "DocumentLine",
    "MentorLine",
    "PolicyVersion",
    "ReasonLine",
    "RefundLine",
    "SealSection",
    "Section",
    "SignOff",
]


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


class SealSection(msgspec.Struct, frozen=True):
    """The ``evidence.bundle.sealed`` entry, recorded before rendering, and its proof: printed in
    the audit section so that the PDF alone shows what the log committed to."""

    entry_seq: int
    contents_sha256: str  # of the manifest's contents (all but ``pdf`` and ``seal``)
    entry: str  # the entry's exact leaf input (canonical JSON)
    proof: str  # c2sp.org/tlog-proof@v1, the entry's leaf input in its extra line
    checkpoint_size: int  # of the proof's checkpoint: the one to keep for next time
    witnessed_by: list[str]
    verify_steps: list[str]


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
    seal: SealSection | None = None
