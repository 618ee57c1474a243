"""The bundle job: claimed under a lease, gathered, sealed, rendered, stored, checked, audited.

Workers (in the service, or ``governance worker`` processes) claim rows under a lease
they keep extending; a worker that dies leaves its row with a lease that runs out, and
the next claim takes it over. A bundle is ``ready`` only after the store confirmed the
SHA-256 of both objects, and the entry that says so carries both hashes: that is what
binds the PDF and its manifest into the Merkle tree. Neither file can carry the proof of
that entry, so before rendering the contents are sealed (:mod:`governance.evidence.seal`)
and the proof of the seal is printed in both. Each state change is audited in the
transaction that makes it; progress and lease renewals are bookkeeping and are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec
import structlog

from governance.audit import proof_file, proofs
from governance.audit import service as audit
from governance.audit import witnesses as witnesses_
from governance.audit.policies import record_in_force
from governance.core import db
from governance.core.clock import Clock
from governance.core.identity import SYSTEM
from governance.core.rows import typed
from governance.core.storage import ChecksumMismatch, ObjectStoreError, StoredObject
from governance.core.versioning import lock_for_update
from governance.evidence import assembly, states
from governance.evidence import seal as seal_
from governance.evidence.contents import BundleContents, SealSection
from governance.evidence.render import RenderFailed, RenderResult, render_in_subprocess
from governance.evidence.schemas import (
    MANIFEST_FORMAT,
    Manifest,
    ManifestCheckpoint,
    ManifestContents,
    ManifestFigures,
    ManifestPdf,
    ManifestSeal,
)
from governance.evidence.service import FILES, RESOURCE, Evidence, object_key
from governance.evidence.tables import BundleRow, EvidenceBundle

log = structlog.get_logger("governance.evidence.jobs")

# How the job's progress is split between its steps.
GATHERED: Final = 0.1
RENDERED: Final = 0.8
PDF_STORED: Final = 0.95


class LeaseLost(RuntimeError):
    """Another worker took the job over (this one was presumed dead); stop without writing."""


async def claim(worker: str, now: datetime, lease: timedelta, bundle_id: uuid.UUID | None = None) -> BundleRow | None:
    """Take the oldest queued bundle, or one whose worker's lease ran out, for ``worker``
    (only ``bundle_id`` when given: the CLI produces the bundle it just asked for).

    On PostgreSQL concurrent claimers skip each other's locked rows (``FOR UPDATE SKIP
    LOCKED``); SQLite's write lock serialises them. A job whose workers died
    ``MAX_ATTEMPTS`` times is failed instead of taken over again.
    """
    while True:
        async with db.transaction():
            query = (
                EvidenceBundle.select()
                .where(
                    (EvidenceBundle.state == "queued")
                    | (EvidenceBundle.state.is_in(list(states.WORKING)) & (EvidenceBundle.lease_until < now))
                )
                .order_by(EvidenceBundle.requested_at)
                .limit(1)
            )
            if bundle_id is not None:
                query = query.where(EvidenceBundle.id == bundle_id)
            if not db.is_sqlite():
                query = query.lock_rows(skip_locked=True)
            rows = await query
            if not rows:
                return None
            row = typed(rows[0], BundleRow)
            recovered = row.state in states.WORKING
            if recovered and row.attempts >= states.MAX_ATTEMPTS:
                reason = (
                    f"the worker stopped {row.attempts} times while the bundle was {row.state} "
                    "(killed or out of memory?); see the worker's logs, then retry"
                )
                await _set_failed(row, reason, now)
                continue
            await EvidenceBundle.update(
                {
                    EvidenceBundle.state: "rendering",
                    EvidenceBundle.progress: 0.0,
                    EvidenceBundle.worker: worker,
                    EvidenceBundle.lease_until: now + lease,
                    EvidenceBundle.attempts: row.attempts + 1,
                    EvidenceBundle.failure_reason: None,
                    EvidenceBundle.updated_at: now,
                }
            ).where(EvidenceBundle.id == row.id)
            details: dict[str, Any] = {"attempt": row.attempts + 1, "worker": worker}
            if recovered:
                details["taken_over_from"] = {"worker": row.worker, "state": row.state}
            await audit.record_change(
                actor=SYSTEM,
                action="evidence.bundle.rendering",
                resource_type=RESOURCE,
                resource_id=str(row.id),
                details=details,
            )
            return msgspec.structs.replace(
                row,
                state="rendering",
                progress=0.0,
                worker=worker,
                attempts=row.attempts + 1,
                failure_reason=None,
                updated_at=now,
            )


async def heartbeat(bundle_id: uuid.UUID, worker: str, progress: float, now: datetime, lease: timedelta) -> bool:
    """Record progress and extend the lease; False once another worker has taken the job
    over (True while this worker still holds it, or has just finished it).

    Job bookkeeping, not a change of the bundle: not audited (the state changes are).
    """
    updated = (
        await EvidenceBundle.update(
            {EvidenceBundle.progress: progress, EvidenceBundle.lease_until: now + lease, EvidenceBundle.updated_at: now}
        )
        .where(
            (EvidenceBundle.id == bundle_id)
            & (EvidenceBundle.worker == worker)
            & EvidenceBundle.state.is_in(list(states.WORKING))
        )
        .returning(EvidenceBundle.id)
    )
    if updated:
        return True
    holder = EvidenceBundle.select(EvidenceBundle.worker).where(EvidenceBundle.id == bundle_id)
    return await holder.output(as_list=True) == [worker]


async def _advance(
    bundle_id: uuid.UUID,
    worker: str,
    target: str,
    now: datetime,
    details: dict[str, Any],
    values: dict[Any, Any] | None = None,
) -> None:
    """Move the job this worker holds to ``target``, with its audit entry, in one transaction."""
    async with db.transaction():
        rows = await lock_for_update(EvidenceBundle.select().where(EvidenceBundle.id == bundle_id))
        row = typed(rows[0], BundleRow)
        if row.worker != worker or row.state not in states.WORKING:
            raise LeaseLost(f"bundle {bundle_id} is now {row.state} with worker {row.worker}")
        if not states.may_move(row.state, target):  # pragma: no cover - the job's steps are fixed
            raise RuntimeError(f"bundle job cannot move from {row.state} to {target}")
        await EvidenceBundle.update(
            {EvidenceBundle.state: target, EvidenceBundle.updated_at: now, **(values or {})}
        ).where(EvidenceBundle.id == bundle_id)
        await audit.record_change(
            actor=SYSTEM,
            action=f"evidence.bundle.{target}",
            resource_type=RESOURCE,
            resource_id=str(bundle_id),
            details={"worker": worker, **details},
        )


async def _set_failed(row: BundleRow, reason: str, now: datetime) -> None:
    await EvidenceBundle.update(
        {
            EvidenceBundle.state: "failed",
            EvidenceBundle.failure_reason: reason,
            EvidenceBundle.lease_until: None,
            EvidenceBundle.updated_at: now,
        }
    ).where(EvidenceBundle.id == row.id)
    await audit.record_change(
        actor=SYSTEM,
        action="evidence.bundle.failed",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        details={"reason": reason, "attempt": row.attempts},
    )


async def fail(bundle_id: uuid.UUID, worker: str, reason: str, now: datetime) -> None:
    """Mark the job failed with ``reason`` (unless another worker took it over meanwhile)."""
    async with db.transaction():
        rows = await lock_for_update(EvidenceBundle.select().where(EvidenceBundle.id == bundle_id))
        row = typed(rows[0], BundleRow) if rows else None
        if row is not None and row.worker == worker and row.state in states.WORKING:
            await _set_failed(row, reason, now)


def contents_of(contents: BundleContents) -> ManifestContents:
    """What the manifest and the PDF both present: the part the seal binds."""
    cover = contents.cover
    checkpoint = None
    if contents.audit is not None:
        checkpoint = ManifestCheckpoint(
            origin=contents.audit.origin,
            tree_size=contents.audit.tree_size,
            root_hash=contents.audit.root_hash,
            note=contents.audit.checkpoint,
            verifier_key=contents.audit.verifier_key,
        )
    return ManifestContents(
        format=MANIFEST_FORMAT,
        bundle_id=cover.bundle_id,
        title=cover.title,
        period_start=cover.period_start,
        period_end=cover.period_end,
        sections=cover.sections,
        mentor_ids=cover.mentor_filter,
        requested_by=cover.requested_by,
        requested_at=cover.requested_at,
        generated_at=cover.generated_at,
        generator=cover.generator,
        checkpoint=checkpoint,
        artifacts=contents.artifacts,
        figures=ManifestFigures(
            vetting=contents.vetting_summary,
            complaints=contents.complaints_summary,
            privacy=contents.privacy_summary,
        ),
    )


def manifest_of(contents: BundleContents, rendered: RenderResult) -> Manifest:
    """``manifest.json``: the sealed contents, the PDF rendered from them, and the seal."""
    sealed = contents.seal
    return Manifest(
        **msgspec.structs.asdict(contents_of(contents)),
        pdf=ManifestPdf(
            key=object_key(contents.cover.bundle_id, "pdf"),
            sha256=rendered.sha256,
            size=rendered.size,
            pages=rendered.pages,
        ),
        seal=None
        if sealed is None
        else ManifestSeal(
            entry_seq=sealed.entry_seq,
            contents_sha256=sealed.contents_sha256,
            proof=sealed.proof,
            keep_checkpoint=sealed.proof.partition("\n\n")[2],
            witnessed_by=sealed.witnessed_by,
        ),
    )


async def _record_seal(bundle_id: uuid.UUID, worker: str, details: dict[str, Any]) -> audit.Queued:
    """Record the seal entry, if the job is still this worker's (the bundle's state stays)."""
    async with db.transaction():
        rows = await lock_for_update(EvidenceBundle.select().where(EvidenceBundle.id == bundle_id))
        row = typed(rows[0], BundleRow)
        if row.worker != worker or row.state not in states.WORKING:
            raise LeaseLost(f"bundle {bundle_id} is now {row.state} with worker {row.worker}")
        return await audit.record_change(
            actor=SYSTEM,
            action=seal_.ACTION,
            resource_type=RESOURCE,
            resource_id=str(bundle_id),
            details={"worker": worker, **details},
        )


async def seal(evidence: Evidence, bundle_id: uuid.UUID, worker: str, contents: BundleContents) -> SealSection:
    """Commit the contents' digest to the log and prove it: the entry, numbered, in a checkpoint
    signed for it (and offered to the witnesses), as a tlog-proof that carries the entry.

    The proof is checked here as an auditor will check it before it goes into the bundle.
    """
    digest = seal_.digest_of(contents_of(contents))
    queued = await _record_seal(
        bundle_id,
        worker,
        {"contents_sha256": digest, "checkpoint_size": contents.audit.tree_size if contents.audit else None},
    )
    seq = await audit.sequenced(queued)
    log_key = evidence.log_key
    await audit.sign_checkpoint(log_key)
    witnesses = evidence.witnesses
    if witnesses is not None and witnesses.statuses:
        # The latest checkpoint (this one, or a newer one: a witness holding a newer tree
        # would refuse an older one), asked of the witnesses as the checkpoint job would.
        await witnesses_.submit(log_key, witnesses)
    checkpoint = await audit.latest_checkpoint(log_key)
    if checkpoint is None or checkpoint.tree_size <= seq:  # pragma: no cover - just signed
        raise RuntimeError(f"no checkpoint covers the seal entry {seq}")
    proof = await proofs.proof_in(checkpoint, seq, witnesses, with_entry=True)
    verifier = log_key.verifier_for(checkpoint.tree_size)
    if verifier is None:  # pragma: no cover - the current key signs every new size
        raise RuntimeError(f"no key of this log is valid for size {checkpoint.tree_size}")
    proven = proof_file.verify(proof, verifier, witnesses=witnesses.keys if witnesses else (), quorum=0)
    return SealSection(
        entry_seq=seq,
        contents_sha256=digest,
        entry=proven.entry.decode(),
        proof=proof,
        checkpoint_size=checkpoint.tree_size,
        witnessed_by=proven.witnessed_by,
        verify_steps=assembly.seal_steps(str(bundle_id), checkpoint.tree_size),
    )


async def gather(evidence: Evidence, row: BundleRow, now: datetime) -> BundleContents:
    """The contents of the bundle ``row`` asks for, judged at ``now``.

    First the policy files this process runs on are recorded as in force, if they changed
    (a worker may have started after the last service start), so the bundle can cite them.
    """
    await record_in_force(evidence.policies, now)
    # The bundle cites entries by number (its request's, in the sign-off): none may still be queued.
    await audit.number_queued()
    return await assembly.gather(
        bundle_id=row.id,
        title=row.title,
        period_start=row.period_start,
        period_end=row.period_end,
        sections=msgspec.json.decode(row.sections),
        mentor_ids=[uuid.UUID(m) for m in msgspec.json.decode(row.mentor_ids)] if row.mentor_ids else None,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        vetting=evidence.vetting,
        log_key=evidence.log_key,
        now=now,
    )


@dataclass(slots=True)
class _Progress:
    """The job's progress (0 to 1), published by the heartbeat and, when given, to a watcher."""

    on_change: Callable[[float], None] | None = None
    _value: float = 0.0

    @property
    def value(self) -> float:
        return self._value

    @value.setter
    def value(self, value: float) -> None:
        self._value = value
        if self.on_change is not None:
            self.on_change(value)


async def _under_lease(
    evidence: Evidence,
    bundle_id: uuid.UUID,
    worker: str,
    clock: Clock,
    progress: _Progress,
    work: Coroutine[Any, Any, None],
) -> None:
    """Run ``work`` in a task of its own while keeping the lease (and publishing progress).

    When another worker has taken the job over, that task is cancelled (never the caller:
    its database context dies with it) and ``LeaseLost`` is raised. Cancelling the caller
    (the worker stopping, or a test simulating its death) cancels the task too.
    """
    task = asyncio.create_task(work)
    lost = False

    async def beat() -> None:
        nonlocal lost
        interval = max(evidence.lease.total_seconds() / 3, 0.05)
        while not task.done():
            await asyncio.sleep(interval)
            try:
                held = await heartbeat(bundle_id, worker, progress.value, clock.now(), evidence.lease)
            except Exception:
                # The database hiccuped: try again next beat; if the lease runs out meanwhile,
                # the next state change (or upload) finds the job taken over and stops.
                log.warning("evidence_heartbeat_failed", bundle_id=str(bundle_id), worker=worker, exc_info=True)
                continue
            if not held:
                lost = True
                task.cancel()
                return

    beating = asyncio.create_task(beat())
    try:
        await task
    except asyncio.CancelledError:
        caller = asyncio.current_task()
        if lost and (caller is None or caller.cancelling() == 0):
            raise LeaseLost(f"bundle {bundle_id} was taken over by another worker") from None
        raise
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def produce(
    evidence: Evidence,
    row: BundleRow,
    worker: str,
    clock: Clock,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Gather, render (in a separate process), store and confirm one claimed bundle.

    A failure the job can name (rendering, storage, checksum) fails the bundle with that
    reason; cancellation (the worker stopping or dying) leaves it for the next claim.
    """
    bundle_id = row.id
    # One directory per attempt: a renderer orphaned by a dead worker may still be writing
    # into the last one. What earlier attempts left behind goes.
    for stale in evidence.work_dir.glob(f"{bundle_id}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work_dir = evidence.work_dir / f"{bundle_id}-{row.attempts}"
    work_dir.mkdir(parents=True)
    progress = _Progress(on_change=on_progress)
    try:
        await _under_lease(
            evidence, bundle_id, worker, clock, progress, _produce(evidence, row, worker, clock, work_dir, progress)
        )
    except LeaseLost as exc:
        log.warning("evidence_bundle_taken_over", bundle_id=str(bundle_id), worker=worker, detail=str(exc))
    except RenderFailed as exc:
        await fail(bundle_id, worker, f"rendering failed: {exc}", clock.now())
    except ChecksumMismatch as exc:
        await fail(bundle_id, worker, f"the stored object is not what was rendered: {exc}", clock.now())
    except ObjectStoreError as exc:
        await fail(bundle_id, worker, f"storing failed: {exc}", clock.now())
    except Exception as exc:
        log.exception("evidence_bundle_failed", bundle_id=str(bundle_id))
        await fail(bundle_id, worker, f"unexpected error: {type(exc).__name__}: {exc}", clock.now())
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


async def _produce(
    evidence: Evidence, row: BundleRow, worker: str, clock: Clock, work_dir: Path, progress: _Progress
) -> None:
    bundle_id = row.id
    contents = await gather(evidence, row, clock.now())
    progress.value = GATHERED

    def rendered_share(share: float) -> None:
        progress.value = GATHERED + (RENDERED - GATHERED) * min(max(share, 0.0), 1.0)

    pdf_path = work_dir / FILES["pdf"][0]
    sealed = await seal(evidence, bundle_id, worker, contents)
    contents = msgspec.structs.replace(contents, seal=sealed)
    rendered = await render_in_subprocess(contents, pdf_path, on_progress=rendered_share)
    progress.value = RENDERED
    await _advance(
        bundle_id, worker, "uploading", clock.now(), {"pages": rendered.pages, "pdf_sha256": rendered.sha256}
    )
    manifest = msgspec.json.format(msgspec.json.encode(manifest_of(contents, rendered)))
    manifest_path = work_dir / FILES["manifest"][0]
    manifest_path.write_bytes(manifest)
    manifest_sha256 = hashlib.sha256(manifest).hexdigest()
    retain_until = evidence.retention.add_to(clock.now())
    pdf = await _store(
        evidence, worker, clock, progress, bundle_id, "pdf", pdf_path, rendered.sha256, rendered.size, retain_until
    )
    progress.value = PDF_STORED
    stored_manifest = await _store(
        evidence, worker, clock, progress, bundle_id, "manifest", manifest_path, manifest_sha256, len(manifest),
        retain_until,
    )  # fmt: skip
    locked = pdf.locked and stored_manifest.locked
    await _advance(
        bundle_id,
        worker,
        "ready",
        clock.now(),
        {
            "pdf_sha256": rendered.sha256,
            "pdf_size": rendered.size,
            "pages": rendered.pages,
            "manifest_sha256": manifest_sha256,
            "pdf_key": pdf.key,
            "pdf_version": pdf.version_id,
            "manifest_key": stored_manifest.key,
            "manifest_version": stored_manifest.version_id,
            "checkpoint_size": contents.audit.tree_size if contents.audit else None,
            "sealed_seq": sealed.entry_seq,
            "contents_sha256": sealed.contents_sha256,
            "retain_until": retain_until.isoformat() if locked else None,
        },
        {
            EvidenceBundle.progress: 1.0,
            EvidenceBundle.lease_until: None,
            EvidenceBundle.pdf_key: pdf.key,
            EvidenceBundle.pdf_sha256: rendered.sha256,
            EvidenceBundle.pdf_size: rendered.size,
            EvidenceBundle.pdf_version: pdf.version_id,
            EvidenceBundle.pages: rendered.pages,
            EvidenceBundle.manifest_key: stored_manifest.key,
            EvidenceBundle.manifest_sha256: manifest_sha256,
            EvidenceBundle.manifest_version: stored_manifest.version_id,
            EvidenceBundle.checkpoint_size: contents.audit.tree_size if contents.audit else None,
            EvidenceBundle.retain_until: retain_until if locked else None,
            EvidenceBundle.object_lock: locked,
            EvidenceBundle.ready_at: clock.now(),
        },
    )


async def _store(
    evidence: Evidence,
    worker: str,
    clock: Clock,
    progress: _Progress,
    bundle_id: uuid.UUID,
    file: str,
    path: Path,
    sha256: str,
    size: int,
    retain_until: datetime,
) -> StoredObject:
    """Upload one file, if the job is still this worker's, and confirm the store holds
    exactly that version (ChecksumMismatch otherwise)."""
    if not await heartbeat(bundle_id, worker, progress.value, clock.now(), evidence.lease):
        raise LeaseLost(f"bundle {bundle_id} was taken over by another worker before its {file} was stored")
    key = object_key(bundle_id, file)
    stored = await evidence.store.put_file(key, path, media_type=FILES[file][1], retain_until=retain_until)
    if stored.sha256 != sha256 or stored.size != size:  # the file changed on disk between render and upload
        raise ChecksumMismatch(
            f"{key}: uploaded {stored.sha256} ({stored.size} bytes), rendered {sha256} ({size} bytes)"
        )
    await evidence.store.verify_stored(
        key, sha256=sha256, size=size, checksum=stored.checksum, version_id=stored.version_id
    )
    return stored
