"""Evidence bundle jobs: one row per requested bundle, durable across restarts and crashes."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from piccolo.columns import (
    UUID,
    BigInt,
    Boolean,
    Date,
    DoublePrecision,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from governance.core.rows import Row
from governance.evidence.schemas import BundleState


class EvidenceBundle(Table, tablename="evidence_bundle"):
    """A bundle request and its job: who asked for which period, where the job stands,
    and, once ready, where the PDF and manifest are and what their SHA-256 are.

    A worker *claims* a queued row by setting ``lease_until``; while it works it keeps
    extending the lease. A row in ``rendering`` or ``uploading`` whose lease ran out
    belongs to a worker that died, and the next claim takes it over.
    """

    id = UUID(primary_key=True)
    title = Varchar(length=200)
    period_start = Date()
    period_end = Date()
    sections = Text()  # JSON array
    mentor_ids = Text(null=True, default=None)  # JSON array, or null for every mentor
    requested_by = Varchar(length=200)
    requested_at = Timestamptz()
    state = Varchar(length=20, index=True)
    progress = DoublePrecision(default=0.0)
    attempts = Integer(default=0)
    worker = Varchar(length=200, null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    failure_reason = Text(null=True, default=None)
    pdf_key = Varchar(length=300, null=True, default=None)
    pdf_sha256 = Varchar(length=64, null=True, default=None)
    pdf_size = BigInt(null=True, default=None)
    pdf_version = Varchar(length=1024, null=True, default=None)  # S3 version id, when versioned
    pages = Integer(null=True, default=None)
    manifest_key = Varchar(length=300, null=True, default=None)
    manifest_sha256 = Varchar(length=64, null=True, default=None)
    manifest_version = Varchar(length=1024, null=True, default=None)
    checkpoint_size = BigInt(null=True, default=None)
    retain_until = Timestamptz(null=True, default=None)
    object_lock = Boolean(default=False)
    ready_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class BundleRow(Row):
    """An ``evidence_bundle`` row as the service and the job read it (see :class:`EvidenceBundle`)."""

    id: uuid.UUID
    title: str
    period_start: date
    period_end: date
    sections: str  # JSON array
    mentor_ids: str | None  # JSON array, or null for every mentor
    requested_by: str
    requested_at: datetime
    state: BundleState
    progress: float
    attempts: int
    worker: str | None
    failure_reason: str | None
    pdf_key: str | None
    pdf_sha256: str | None
    pdf_size: int | None
    pdf_version: str | None
    pages: int | None
    manifest_key: str | None
    manifest_sha256: str | None
    manifest_version: str | None
    checkpoint_size: int | None
    retain_until: datetime | None
    object_lock: bool
    ready_at: datetime | None
    updated_at: datetime
