"""Gather a bundle's contents from the modules: the same summaries their APIs answer, the
registers for the period, and a freshly signed checkpoint of the audit log."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Final
from uuid import UUID

from governance import __version__
from governance.audit import policies as audit_policies
from governance.audit import service as audit
from governance.complaints import reporting as complaints_register
from governance.complaints import summary as complaints_summary
from governance.core import db
from governance.core.periods import bounds
from governance.evidence.contents import (
    Artifact,
    AuditSection,
    BundleContents,
    Cover,
    PolicyVersion,
    SignOff,
)
from governance.privacy import reporting as privacy_register
from governance.privacy import summary as privacy_summary
from governance.vetting import reporting as vetting_register
from governance.vetting import summary as vetting_summary
from governance.vetting.service import Vetting

GENERATOR: Final = f"governance {__version__}"
RESOURCE: Final = "evidence_bundle"  # the bundles' resource type in the log


def verify_steps(origin: str, tree_size: int) -> list[str]:
    """How an auditor checks, offline, that this bundle is bound into the log."""
    return [
        "Pin the deployment's verifier key (GET /api/v1/audit/public-key) through a channel you trust, "
        "and compare it with the key printed here.",
        "Download an export of the log, signed later than this bundle: GET /api/v1/audit/export "
        "(with your auditor token) into audit.jsonl.",
        "Save the checkpoint printed here as checkpoint.txt and verify the export offline (Python and the "
        "cryptography package only): python tools/verify_export.py audit.jsonl --key '<verifier key>' "
        f"--previous checkpoint.txt. This also checks that the export's first {tree_size} leaves hash to "
        f"the root of this checkpoint (origin {origin}): the log you hold extends the one this bundle was "
        "made from.",
        "Find the entry with action evidence.bundle.ready and this bundle's id as resource: its pdf_sha256 "
        "and manifest_sha256 must equal sha256sum of the PDF and of manifest.json you received. Its proof, "
        "verifiable offline, is GET /api/v1/evidence/bundles/{id}/proof (see the seal below).",
        "Check every artifact listed in the appendix (and in manifest.json) against the files you sample.",
        "Sample the records the registers list, with your auditor token (each read is recorded in the log): "
        "GET /api/v1/mentors/{id}/dossier, GET /api/v1/documents/{id} (its Repr-Digest must equal the SHA-256 "
        "in the register), GET /api/v1/disputes/{id} and GET /api/v1/attestations/{id}.",
    ]


def seal_steps(bundle_id: str, proof_size: int) -> list[str]:
    """How an auditor checks the seal offline, from the PDF alone or with manifest.json."""
    return [
        "The entry printed above (evidence.bundle.sealed, resource evidence_bundle "
        f"{bundle_id}) was recorded before this PDF was rendered. Its contents_sha256 is the SHA-256 of the "
        "canonical JSON (keys sorted, no whitespace) of manifest.json without its pdf and seal members: the "
        "cover, the summary figures, the artifacts and the checkpoint this PDF prints.",
        "Save the proof printed above as seal.tlog-proof (or: jq -r .seal.proof manifest.json > "
        "seal.tlog-proof) and check it offline with the pinned key: governance audit verify-proof "
        "seal.tlog-proof --key '<verifier key>' (add --witness '<witness key>' for each witness you trust). "
        "It prints the entry the proof carries: it must name this bundle and the contents_sha256 printed here.",
        "With manifest.json: governance evidence verify-manifest manifest.json --key '<verifier key>' checks "
        "the same proof and recomputes contents_sha256 from the manifest, so a changed figure, artifact or "
        "checkpoint fails. Add --pdf bundle.pdf --ready-proof ready.tlog-proof (GET "
        f"/api/v1/evidence/bundles/{bundle_id}/proof) to tie the exact bytes of both files to the log too: "
        "the evidence.bundle.ready entry records their SHA-256 and the seal's number.",
        f"Keep for next time the checkpoint at the end of the proof (tree size {proof_size}: the lines after "
        "the blank line) as checkpoint.txt. Next time, governance audit verify --since checkpoint.txt (on "
        "the server), or python tools/verify_export.py audit.jsonl --key '<verifier key>' --previous "
        "checkpoint.txt, proves that the log still extends it.",
    ]


async def audit_section(log_key: audit.LogKey) -> tuple[AuditSection, Artifact]:
    """A checkpoint signed now, so the bundle names a tree that covers everything it reports."""
    checkpoint = await audit.sign_checkpoint(log_key)
    section = AuditSection(
        checkpoint=checkpoint.note,
        origin=log_key.origin,
        tree_size=checkpoint.tree_size,
        root_hash=base64.b64encode(checkpoint.root_hash).decode(),
        verifier_key=log_key.verifier_key,
        verify_steps=verify_steps(log_key.origin, checkpoint.tree_size),
    )
    raw = checkpoint.note.encode()
    artifact = Artifact(
        name=f"checkpoint {checkpoint.tree_size}",
        kind="checkpoint",
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
    )
    return section, artifact


async def policies_in_force(period_start: date, period_end: date) -> list[PolicyVersion]:
    """The version of each policy file in force at any time during the period, with its text."""
    start, end = bounds(period_start, period_end)
    return [
        PolicyVersion(
            name=version.name,
            label=version.label,
            sha256=version.sha256,
            size=version.size,
            in_force_from=version.in_force_from,
            in_force_until=version.in_force_until,
            text=version.text,
        )
        for version in await audit_policies.in_force(start, end)
    ]


async def sign_off(bundle_id: UUID, requested_by: str, requested_at: datetime) -> SignOff:
    """Who asked for the bundle, with the roles their request's audit entry records."""
    entries = [
        entry for entry in await audit.history(RESOURCE, str(bundle_id)) if entry.action == "evidence.bundle.requested"
    ]
    first = entries[0] if entries else None
    return SignOff(
        requested_by=requested_by,
        roles=list(first.actor.roles) if first else [],
        requested_at=requested_at,
        request_entry=first.seq if first else None,
    )


async def gather(
    *,
    bundle_id: UUID,
    title: str,
    period_start: date,
    period_end: date,
    sections: Sequence[str],
    mentor_ids: Sequence[UUID] | None,
    requested_by: str,
    requested_at: datetime,
    vetting: Vetting,
    log_key: audit.LogKey,
    now: datetime,
) -> BundleContents:
    """Everything one bundle prints, judged at ``now``; sections not asked for stay empty.

    Read in one snapshot, so that the summaries and the registers they count agree; then a
    checkpoint is signed, whose tree covers at least everything read.
    """
    wanted = set(sections)
    summarised = "summary" in wanted
    keyring = vetting.keyring
    async with db.snapshot():
        mentors = (
            await vetting_register.mentors_active(period_start, period_end, mentor_ids) if "vetting" in wanted else []
        )
        never_approved = (
            await vetting_register.mentors_never_approved(period_start, period_end, mentor_ids)
            if "vetting" in wanted
            else []
        )
        vetting_reasons = await vetting_register.decision_reasons([*mentors, *never_approved], period_end, keyring)
        complaints, refunds = (
            await complaints_register.complaints_received(period_start, period_end, mentor_ids)
            if "complaints" in wanted
            else ([], [])
        )
        disputes = (
            await complaints_register.disputes_opened(period_start, period_end, mentor_ids)
            if "disputes" in wanted
            else []
        )
        complaint_reasons = await complaints_register.complaint_reasons(complaints, refunds, keyring)
        dispute_reasons = await complaints_register.dispute_reasons(disputes, keyring)
        policies = await policies_in_force(period_start, period_end)
        requester = await sign_off(bundle_id, requested_by, requested_at)
        data_requests = (
            await privacy_register.data_requests(period_start, period_end, now) if "privacy" in wanted else []
        )
        readiness = await vetting_summary.readiness(vetting, now) if summarised else None
        complaint_figures = (
            await complaints_summary.period_summary(period_start, period_end, now)
            if summarised or "complaints" in wanted
            else None
        )
        privacy_figures = (
            await privacy_summary.period_summary(period_start, period_end, now)
            if summarised or "privacy" in wanted
            else None
        )
    artifacts = [
        Artifact(
            name=f"{mentor.external_id} {check.check_type} {document.document_id}",
            kind="vetting_document",
            sha256=document.sha256,
            size=document.size,
        )
        for mentor in [*mentors, *never_approved]
        for check in mentor.checks
        for document in check.documents
    ]
    artifacts.extend(
        Artifact(
            name=f"{policy.name} in force from {policy.in_force_from.isoformat()}",
            kind="policy",
            sha256=policy.sha256,
            size=policy.size,
        )
        for policy in policies
    )
    # Always: the manifest names the checkpoint even when the PDF leaves the audit section out.
    audit_part, checkpoint = await audit_section(log_key)
    artifacts.append(checkpoint)
    return BundleContents(
        cover=Cover(
            bundle_id=str(bundle_id),
            title=title,
            period_start=period_start,
            period_end=period_end,
            requested_by=requested_by,
            requested_at=requested_at,
            requested_by_roles=requester.roles,
            generated_at=now,
            generator=GENERATOR,
            sections=list(sections),
            mentor_filter=[str(m) for m in mentor_ids] if mentor_ids else None,
        ),
        vetting_summary=readiness,
        complaints_summary=complaint_figures,
        privacy_summary=privacy_figures,
        mentors=mentors,
        complaints=complaints,
        refunds=refunds,
        disputes=disputes,
        data_requests=data_requests,
        audit=audit_part,
        artifacts=artifacts,
        mentors_never_approved=never_approved,
        vetting_reasons=vetting_reasons,
        complaint_reasons=complaint_reasons,
        dispute_reasons=dispute_reasons,
        policies=policies,
        sign_off=requester,
    )
