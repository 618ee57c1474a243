"""API shapes of evidence bundles and the manifest stored beside each PDF."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, Literal, get_args
from uuid import UUID

import msgspec

from governance.complaints.schemas import ComplaintsSummary
from governance.core import limits
from governance.core.shapes import Input, View
from governance.evidence.contents import Artifact, Section
from governance.privacy.schemas import PrivacySummary
from governance.vetting.schemas import ReadinessSummary

BundleState = Literal["queued", "rendering", "uploading", "ready", "failed"]
BUNDLE_STATES: Final[tuple[str, ...]] = get_args(BundleState)

MANIFEST_FORMAT: Final = "governance-evidence-manifest/1"


class BundleRequest(Input):
    """A bundle for one period (both days inclusive, UTC)."""

    period_start: date
    period_end: date
    title: Annotated[str, limits.text(200, description="Printed on the cover.")]
    sections: (
        Annotated[
            list[Section],
            msgspec.Meta(min_length=1, description="Sections to include (in the document's order); all when omitted."),
        ]
        | None
    ) = None
    mentor_ids: (
        Annotated[
            list[UUID],
            msgspec.Meta(
                min_length=1,
                max_length=1000,
                description="Only these mentors in the vetting, complaints and disputes registers.",
            ),
        ]
        | None
    ) = None


class BundleView(View):
    """A bundle and its job. ``progress`` runs from 0 to 1; ``failure_reason`` says why a
    bundle failed; the hashes and keys are set once it is ``ready``."""

    id: UUID
    state: BundleState
    progress: float
    title: str
    period_start: date
    period_end: date
    sections: list[str]
    mentor_ids: list[str] | None
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    attempts: int
    failure_reason: str | None
    pdf_sha256: str | None
    pdf_size: int | None
    pages: int | None
    manifest_sha256: str | None
    checkpoint_size: int | None
    retain_until: datetime | None
    object_lock: bool
    ready_at: datetime | None
    allowed_next: list[BundleState]


class ManifestPdf(View):
    key: str
    sha256: str
    size: int
    pages: int


class ManifestCheckpoint(View):
    origin: str
    tree_size: int
    root_hash: str
    note: str
    verifier_key: str


class ManifestFigures(View):
    """The executive summary's figures, as the PDF prints them (None: not asked for)."""

    vetting: ReadinessSummary | None
    complaints: ComplaintsSummary | None
    privacy: PrivacySummary | None


class ManifestContents(View):
    """What the PDF and the manifest both present: the part of ``manifest.json`` the seal binds.

    Its digest (``Seal.contents_sha256``) is the SHA-256 of the canonical JSON (keys sorted
    at every level, no whitespace, as the audit log's leaf inputs) of ``manifest.json``
    without its ``pdf`` and ``seal`` members, the two written after the seal.
    """

    format: str
    bundle_id: str
    title: str
    period_start: date
    period_end: date
    sections: list[str]
    mentor_ids: list[str] | None
    requested_by: str
    requested_at: datetime
    generated_at: datetime
    generator: str
    checkpoint: ManifestCheckpoint | None
    artifacts: list[Artifact]
    figures: ManifestFigures | None = None


class ManifestSeal(View):
    """The ``evidence.bundle.sealed`` entry, recorded before the PDF was rendered, and its proof.

    ``proof`` is a c2sp.org/tlog-proof@v1 file whose ``extra`` line carries the entry's exact
    leaf input: with the log's verifier key alone (offline) it shows the entry is in a signed
    (and, with witnesses, cosigned) checkpoint, and the entry names this bundle and
    ``contents_sha256``, the digest of this manifest's contents (:class:`ManifestContents`).
    ``keep_checkpoint`` is that checkpoint: keep it, and next time check that the log extends
    it (``governance audit verify --since``, or ``tools/verify_export.py --previous``).
    """

    entry_seq: int
    contents_sha256: str
    proof: str
    keep_checkpoint: str
    witnessed_by: list[str]


class Manifest(ManifestContents, kw_only=True):
    """``manifest.json``: what the PDF is and every artifact it vouches for, by SHA-256.

    Its own SHA-256, with the PDF's, is written to the audit log when the bundle is ready,
    so the pair is bound into the Merkle tree an auditor verifies offline. ``seal`` binds
    its contents (all but ``pdf`` and ``seal``) before the PDF was rendered, with a proof
    that needs nothing but the log's key (None in manifests made before seals).
    """

    pdf: ManifestPdf
    seal: ManifestSeal | None = None
