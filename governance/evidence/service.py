"""Evidence bundles: requests, listing, retries and downloads (the job is in ``jobs``).

A request is a row (``queued``) and its audit entry, in one transaction; a worker
produces it (:mod:`governance.evidence.jobs`). Downloads read only ``ready`` bundles and
are audited.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final, Literal, cast

import msgspec

from governance.audit import proofs, tree_store
from governance.audit import service as audit
from governance.audit.policies import LoadedPolicy, read_policies
from governance.audit.witnesses import Witnesses
from governance.core import db, periods
from governance.core.durations import Duration
from governance.core.errors import Problem, invalid_parameter, not_found
from governance.core.identity import Identity
from governance.core.pagination import Page, by_time
from governance.core.rows import typed, typed_all
from governance.core.storage import ObjectStore, ObjectStoreError
from governance.core.versioning import lock_for_update
from governance.evidence import states
from governance.evidence.contents import SECTIONS
from governance.evidence.schemas import (
    BundleRequest,
    BundleState,
    BundleView,
    Manifest,
)
from governance.evidence.tables import BundleRow, EvidenceBundle
from governance.settings import Settings
from governance.vetting import service as vetting_service
from governance.vetting.service import Vetting

RESOURCE: Final = "evidence_bundle"
# A presigned download link is for the person who just asked, not for passing around.
LINK_SECONDS: Final = 300

FileName = Literal["pdf", "manifest"]
FILES: Final[dict[str, tuple[str, str]]] = {
    "pdf": ("bundle.pdf", "application/pdf"),
    "manifest": ("manifest.json", "application/json"),
}


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the bundle job needs from the deployment."""

    vetting: Vetting
    log_key: audit.LogKey
    store: ObjectStore
    retention: Duration
    lease: timedelta
    work_dir: Path
    # The policy files as this process loaded them: a bundle cites the versions in force.
    policies: list[LoadedPolicy]
    # The log's witnesses: a bundle's seal is proven in a checkpoint they were asked to cosign.
    witnesses: Witnesses | None = None
    # Set by a request made through this process: its worker starts at once, not at the next poll.
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def configure(
        cls,
        settings: Settings,
        vetting: Vetting,
        log_key: audit.LogKey,
        store: ObjectStore,
        witnesses: Witnesses | None = None,
    ) -> Evidence:
        return cls(
            vetting=vetting,
            log_key=log_key,
            store=store,
            retention=settings.evidence_retention,
            lease=settings.evidence_lease,
            work_dir=settings.data_dir / "evidence-work",
            policies=read_policies(settings.effective_policy_dir),
            witnesses=witnesses,
        )


def object_key(bundle_id: uuid.UUID | str, file: str) -> str:
    """The same layout in every store: ``evidence/<bundle id>/bundle.pdf`` and ``manifest.json``."""
    return f"evidence/{bundle_id}/{FILES[file][0]}"


def view(row: BundleRow) -> BundleView:
    return BundleView(
        id=row.id,
        state=row.state,
        progress=round(row.progress, 3),
        title=row.title,
        period_start=row.period_start,
        period_end=row.period_end,
        sections=msgspec.json.decode(row.sections),
        mentor_ids=msgspec.json.decode(row.mentor_ids) if row.mentor_ids else None,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        updated_at=row.updated_at,
        attempts=row.attempts,
        failure_reason=row.failure_reason,
        pdf_sha256=row.pdf_sha256,
        pdf_size=row.pdf_size,
        pages=row.pages,
        manifest_sha256=row.manifest_sha256,
        checkpoint_size=row.checkpoint_size,
        retain_until=row.retain_until,
        object_lock=row.object_lock,
        ready_at=row.ready_at,
        allowed_next=cast(list[BundleState], states.allowed_next(row.state)),
    )


def check_period(period_start: date, period_end: date, today: date) -> None:
    """A bundle's period is a reporting period (in order, at most three years) that has begun
    and ends by today: evidence is of what happened."""
    periods.check(period_start, period_end, source="body")
    if period_end > today:
        raise invalid_parameter("period_end", f"must not be after today ({today.isoformat()})", source="body")


async def request(data: BundleRequest, actor: Identity, now: datetime) -> BundleView:
    """Queue a bundle for the period; a worker picks it up. Audited with the period and sections."""
    check_period(data.period_start, data.period_end, now.date())
    asked = set(data.sections or SECTIONS)
    sections = [section for section in SECTIONS if section in asked]  # the document's order
    if data.mentor_ids and (unknown := await vetting_service.unknown_mentors(data.mentor_ids)):
        # A filter naming nobody would come out as silently empty registers.
        raise Problem(
            422,
            "unknown-mentors",
            f"No mentor is registered with the id(s) {', '.join(map(str, unknown))}",
            errors=[{"field": "mentor_ids", "source": "body", "message": "unknown mentor id(s)"}],
            unknown=[str(mentor_id) for mentor_id in unknown],
        )
    mentor_ids = sorted({str(m) for m in data.mentor_ids}) if data.mentor_ids else None
    bundle_id = uuid.uuid4()
    async with db.transaction():
        await EvidenceBundle.insert(
            EvidenceBundle(
                id=bundle_id,
                title=data.title,
                period_start=data.period_start,
                period_end=data.period_end,
                sections=msgspec.json.encode(sections).decode(),
                mentor_ids=msgspec.json.encode(mentor_ids).decode() if mentor_ids else None,
                requested_by=actor.sub,
                requested_at=now,
                state="queued",
                updated_at=now,
            )
        )
        await audit.record_change(
            actor=actor,
            action="evidence.bundle.requested",
            resource_type=RESOURCE,
            resource_id=str(bundle_id),
            details={
                "period_start": data.period_start.isoformat(),
                "period_end": data.period_end.isoformat(),
                "sections": sections,
                "mentor_ids": mentor_ids,
            },
        )
    return await get(bundle_id)


async def _row(bundle_id: uuid.UUID) -> BundleRow:
    row = await EvidenceBundle.select().where(EvidenceBundle.id == bundle_id).first()
    if row is None:
        raise not_found("evidence bundle", bundle_id)
    return typed(row, BundleRow)


async def get(bundle_id: uuid.UUID) -> BundleView:
    """One bundle (404 when there is none)."""
    return view(await _row(bundle_id))


async def listing(state: BundleState | None, limit: int, cursor: str | None) -> Page[BundleView]:
    """Bundles, newest request first, optionally in one state."""
    query = EvidenceBundle.select()
    if state is not None:
        query = query.where(EvidenceBundle.state == state)
    rows, next_cursor = await by_time(
        query, EvidenceBundle.requested_at, EvidenceBundle.id, limit=limit, cursor=cursor, newest_first=True
    )
    return Page(items=[view(row) for row in typed_all(rows, BundleRow)], next_cursor=next_cursor)


async def retry(bundle_id: uuid.UUID, actor: Identity, now: datetime) -> BundleView:
    """Queue a failed bundle again (once its cause is fixed: the store is back, say). Audited."""
    async with db.transaction():
        rows = await lock_for_update(EvidenceBundle.select().where(EvidenceBundle.id == bundle_id))
        if not rows:
            raise not_found("evidence bundle", bundle_id)
        row = typed(rows[0], BundleRow)
        if "queued" not in states.allowed_next(row.state):
            raise Problem(
                409,
                "illegal-transition",
                f"A bundle in state {row.state!r} cannot be retried; only a failed one can",
                state=row.state,
                allowed_next=states.allowed_next(row.state),
            )
        await EvidenceBundle.update(
            {
                EvidenceBundle.state: "queued",
                EvidenceBundle.progress: 0.0,
                EvidenceBundle.worker: None,
                EvidenceBundle.lease_until: None,
                EvidenceBundle.attempts: 0,
                EvidenceBundle.updated_at: now,
            }
        ).where(EvidenceBundle.id == bundle_id)
        await audit.record_change(
            actor=actor,
            action="evidence.bundle.retried",
            resource_type=RESOURCE,
            resource_id=str(bundle_id),
            details={"failure_reason": row.failure_reason},
        )
    return await get(bundle_id)


@dataclass(frozen=True, slots=True)
class Download:
    """Where the bytes come from: a presigned URL (S3) or the store itself (streamed)."""

    key: str
    filename: str
    media_type: str
    sha256: str
    size: int | None
    url: str | None


async def download(evidence: Evidence, bundle_id: uuid.UUID, file: FileName, actor: Identity) -> Download:
    """The PDF or the manifest of a ready bundle; every download is audited.

    409 while the bundle is not ready; 503 when the object store cannot be reached; 410
    when the file is gone from a local store (nothing to stream).
    """
    row = await _row(bundle_id)
    if row.state != "ready":
        raise Problem(
            409,
            "bundle-not-ready",
            f"The bundle is {row.state}; it can be downloaded once ready",
            state=row.state,
        )
    key, version, sha256 = (
        (row.pdf_key, row.pdf_version, row.pdf_sha256)
        if file == "pdf"
        else (row.manifest_key, row.manifest_version, row.manifest_sha256)
    )
    if key is None or sha256 is None:  # pragma: no cover - set in the transaction that makes it ready
        raise RuntimeError(f"bundle {bundle_id} is ready without its {file}")
    filename = f"evidence-{bundle_id}-{FILES[file][0]}"
    try:
        url = await evidence.store.presigned_url(key, expires_in=LINK_SECONDS, filename=filename, version_id=version)
        if url is None and not await evidence.store.exists(key):
            raise Problem(410, "bundle-file-missing", f"The bundle's {FILES[file][0]} is no longer in the store")
    except ObjectStoreError as exc:
        raise Problem(503, "object-store-unavailable", f"The evidence store cannot be reached: {exc}") from exc
    await audit.record_event(
        actor=actor,
        action="evidence.bundle.downloaded",
        resource_type=RESOURCE,
        resource_id=str(bundle_id),
        details={"file": file, "sha256": sha256, "via": "presigned_url" if url else "stream"},
    )
    return Download(
        key=key,
        filename=filename,
        media_type=FILES[file][1],
        sha256=sha256,
        size=row.pdf_size if file == "pdf" else None,
        url=url,
    )


async def manifest(evidence: Evidence, bundle_id: uuid.UUID, reader: Identity) -> Manifest:
    """A ready bundle's ``manifest.json`` as stored (what it vouches for, by SHA-256), for the
    auditor's desk: an auditor's read of it is recorded, like their other samples."""
    row = await _row(bundle_id)
    if row.state != "ready" or row.manifest_key is None:
        raise Problem(
            409, "bundle-not-ready", f"The bundle is {row.state}; its manifest exists once ready", state=row.state
        )
    try:
        data = await evidence.store.get(row.manifest_key)
    except ObjectStoreError as exc:
        raise Problem(503, "object-store-unavailable", f"The evidence store cannot be reached: {exc}") from exc
    found = msgspec.json.decode(data, type=Manifest)
    await audit.record_read(reader, "evidence.bundle.manifest_read", RESOURCE, str(bundle_id))
    return found


READY_ACTION: Final = "evidence.bundle.ready"


async def ready_proof(evidence: Evidence, bundle_id: uuid.UUID, reader: Identity) -> str:
    """The c2sp.org/tlog-proof@v1 of a ready bundle's ``evidence.bundle.ready`` entry (the
    entry in its extra line): the SHA-256 of the PDF and the manifest, and the seal's number,
    proven in the latest checkpoint with the witnesses' cosignatures, for offline checking.
    Neither file can carry it (the entry records their hashes). An auditor's read is recorded.

    409 while the bundle is not ready; 503 when the tree is not integrated that far yet.
    """
    row = await _row(bundle_id)
    if row.state != "ready":
        raise Problem(
            409, "bundle-not-ready", f"The bundle is {row.state}; its proof exists once ready", state=row.state
        )
    entries = [entry for entry in await audit.history(RESOURCE, str(bundle_id)) if entry.action == READY_ACTION]
    if not entries:  # pragma: no cover - the ready entry commits with the ready state
        raise RuntimeError(f"bundle {bundle_id} is ready without its {READY_ACTION} entry")
    try:
        text = await proofs.entry_proof(evidence.log_key, entries[-1].seq, evidence.witnesses, with_entry=True)
    except tree_store.MissingNodes as exc:
        raise Problem(503, "not-integrated", f"The log's tree is not integrated that far yet: {exc}") from exc
    if text is None:  # pragma: no cover - a numbered entry is below the log's size
        raise RuntimeError(f"audit entry {entries[-1].seq} is missing")
    await audit.record_read(reader, "evidence.bundle.proof_read", RESOURCE, str(bundle_id))
    return text
