"""Complaints' data about a subject, for access requests, legal holds, erasure and retention.

A mentee is the complainant of their complaints, the payer of their refunds and the
candidate of their attestations and disputes; a mentor is the issuer of attestations and
a party to disputes about them. Personal text (descriptions, remedies, reasons, notes,
severity and move reasons, dispute evidence) is ciphertext under the mentee's key of that
case (one per complaint, refund and dispute): an erasure makes it unreadable (and clears
what was written in clear before it was sealed), while the cases' non-personal parts
(category, states, dates, outcomes, amounts) are kept under the ``complaint_files``
retention period. An open complaint, dispute or refund is a legal hold: its key survives
the erasure, so the staff working it still read it, until the hold ends and the retention
sweep destroys the key.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from governance.complaints import exports
from governance.complaints.rows import RecordId
from governance.complaints.states import OPEN_COMPLAINT_STATES
from governance.complaints.tables import (
    Attestation,
    Complaint,
    ComplaintEvent,
    ComplaintNote,
    Dispute,
    Refund,
)
from governance.core.crypto import SEALED_PREFIXES, Keyring
from governance.core.identity import SYSTEM
from governance.core.rows import Row, typed_all
from governance.core.subjects import Erased, ErasureOutcome, Hold, Kept, RetentionRecord, SubjectData

CATEGORY: Final = "complaint_files"
# A resolved complaint may still be appealed: it holds like an open one.
HOLDING_COMPLAINT_STATES: Final = frozenset({*OPEN_COMPLAINT_STATES, "resolved"})
OPEN_REFUND_STATES: Final = ("requested", "approved")
CLOSED_COMPLAINT_STATES: Final = ("closed", "withdrawn")
KEPT_REASON: Final = (
    "complaint file under retention (complaint_files): category, states, dates, outcome and amounts kept; "
    "descriptions, reasons and notes unreadable"
)


async def _clear_unsealed(subject: str) -> None:
    """Clear the subject's text written in clear before it was sealed under their key (the
    system's generated event reasons hold no personal data and stay)."""
    legacy, sealed = (f"{prefix}%" for prefix in SEALED_PREFIXES)
    await Complaint.update({Complaint.severity_reason: None}).where(
        (Complaint.complainant_id == subject)
        & Complaint.severity_reason.not_like(legacy)
        & Complaint.severity_reason.not_like(sealed)
    )
    ids = [
        row.id
        for row in typed_all(await Complaint.select(Complaint.id).where(Complaint.complainant_id == subject), RecordId)
    ]
    if ids:
        await ComplaintEvent.update({ComplaintEvent.reason: None}).where(
            ComplaintEvent.complaint_id.is_in(ids)
            & (ComplaintEvent.actor != SYSTEM.sub)
            & ComplaintEvent.reason.not_like(legacy)
            & ComplaintEvent.reason.not_like(sealed)
        )
    await Dispute.update({Dispute.evidence: "[]"}).where(
        (Dispute.candidate_id == subject) & Dispute.evidence.like("[%") & (Dispute.evidence != "[]")
    )


class _Case(Row):
    """A case that may hold an erasure back: which, and in what state."""

    id: uuid.UUID
    state: str


class _Closed(Row):
    """A closed complaint whose retention period may have ended."""

    id: uuid.UUID
    complainant_id: str
    closed_at: datetime | None
    updated_at: datetime


class ComplaintSubjects:
    """The :class:`~governance.core.subjects.SubjectProvider` of the complaints module."""

    module = "complaints"
    retention_categories = (CATEGORY,)

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def export(self, subject: str) -> SubjectData:
        data, resource_ids = await exports.export(self._keyring, subject)
        return SubjectData(module=self.module, data=data, resource_ids=resource_ids)

    async def holds(self, subject: str) -> list[Hold]:
        complaints = await Complaint.select(Complaint.id, Complaint.state).where(
            (Complaint.complainant_id == subject) & Complaint.state.is_in(sorted(HOLDING_COMPLAINT_STATES))
        )
        disputes = await Dispute.select(Dispute.id, Dispute.state).where(
            ((Dispute.candidate_id == subject) | (Dispute.mentor_id == subject)) & Dispute.closed_at.is_null()
        )
        refunds = await Refund.select(Refund.id, Refund.state).where(
            (Refund.mentee_id == subject) & Refund.state.is_in(list(OPEN_REFUND_STATES))
        )
        return [
            *(
                Hold(self.module, "complaint", str(c.id), f"open complaint ({c.state})")
                for c in typed_all(complaints, _Case)
            ),
            *(Hold(self.module, "dispute", str(d.id), f"open dispute ({d.state})") for d in typed_all(disputes, _Case)),
            *(
                Hold(self.module, "refund", str(r.id), f"refund in progress ({r.state})")
                for r in typed_all(refunds, _Case)
            ),
        ]

    async def on_erasure(self, subject: str, now: datetime) -> ErasureOutcome:
        await _clear_unsealed(subject)
        complaints = await Complaint.count().where(Complaint.complainant_id == subject)
        refunds = await Refund.count().where(Refund.mentee_id == subject)
        disputes = await Dispute.count().where(Dispute.candidate_id == subject)
        attestations = await Attestation.count().where(Attestation.candidate_id == subject)
        # Cases under a hold kept their key (the certificate lists them): not erased yet.
        held = dict.fromkeys(("complaint", "refund", "dispute"), 0)
        candidate_of = {
            str(d.id)
            for d in typed_all(await Dispute.select(Dispute.id).where(Dispute.candidate_id == subject), RecordId)
        }
        for hold in await self.holds(subject):
            # A mentor's hold on a dispute keeps the candidate's key, not theirs.
            if hold.record_type != "dispute" or hold.record_id in candidate_of:
                held[hold.record_type] += 1
        erased = [
            Erased(
                self.module,
                "complaint.description,desired_remedy,resolution_reasons,severity_reason,notes,event reasons",
                complaints - held["complaint"],
                "crypto-shredded",
            ),
            Erased(
                self.module,
                "refund.reason,failure_reason,approval reasons",
                refunds - held["refund"],
                "crypto-shredded",
            ),
            Erased(
                self.module,
                "dispute.reason,evidence,decision reasons",
                disputes - held["dispute"],
                "crypto-shredded",
            ),
        ]
        kept = [
            Kept(self.module, "complaint", complaints, KEPT_REASON),
            Kept(self.module, "refund", refunds, "financial record (accounting law): amount, currency, states kept"),
            Kept(self.module, "dispute", disputes, "the attestation's dispute history; reason unreadable"),
            Kept(self.module, "attestation", attestations, "issued attestation: evidence for accreditors"),
        ]
        return ErasureOutcome(erased=[e for e in erased if e.count], kept=[k for k in kept if k.count])

    async def retention_records(self, category: str, since_before: datetime, limit: int) -> list[RetentionRecord]:
        if category != CATEGORY:
            return []
        rows = (
            await Complaint.select(Complaint.id, Complaint.complainant_id, Complaint.closed_at, Complaint.updated_at)
            .where(
                Complaint.state.is_in(list(CLOSED_COMPLAINT_STATES))
                & (
                    (Complaint.closed_at.is_not_null() & (Complaint.closed_at < since_before))
                    | (Complaint.closed_at.is_null() & (Complaint.updated_at < since_before))
                )
            )
            .order_by(Complaint.closed_at)  # oldest first, as the provider contract says
            .order_by(Complaint.updated_at)
            .limit(limit)
        )
        return [
            RetentionRecord(
                self.module, category, "complaint", str(r.id), r.complainant_id, r.closed_at or r.updated_at
            )
            for r in typed_all(rows, _Closed)
        ]

    async def dispose(self, records: Sequence[RetentionRecord], now: datetime) -> int:
        ids = [uuid.UUID(r.record_id) for r in records]
        if not ids:
            return 0
        await ComplaintNote.delete().where(ComplaintNote.complaint_id.is_in(ids))
        await ComplaintEvent.delete().where(ComplaintEvent.complaint_id.is_in(ids))
        deleted = await Complaint.delete().where(Complaint.id.is_in(ids)).returning(Complaint.id)
        return len(deleted)
