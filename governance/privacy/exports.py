"""The access export: its typed document, privacy's own records in it, and its JSON Schema.

Every module contributes typed records (:class:`~governance.core.subjects.ExportRecord`);
:class:`SubjectExport` puts them together with the audit entries about the subject. The
JSON Schema published beside this file (``export.schema.json``, package data) is generated
from these Structs by :func:`schema` and a test keeps the committed file equal to it, so the
documented format cannot drift from what the service writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Protocol

import msgspec

from governance.audit import service as audit
from governance.audit.schemas import AuditEntryView
from governance.core.crypto import Keyring, SubjectCipher, is_sealed
from governance.core.idempotency import StoredResponse
from governance.core.rows import typed_all
from governance.core.subjects import ExportRecord, Instant, SubjectData
from governance.privacy.tables import (
    ConsentReceipt,
    ConsentReceiptRow,
    ConsentRecord,
    DataRequest,
    DataRequestRow,
    RetentionChoice,
)

EXPORT_FORMAT: Final = "governance.subject-export/2"
SCHEMA_ID: Final = "urn:governance:schema:subject-export:2"
SCHEMA_FILE: Final = "export.schema.json"


class ConsentRecordExport(ExportRecord):
    """One consent event (ISO/IEC TS 27560 record), as kept in the append-only history."""

    id: uuid.UUID
    purpose: str
    state: str
    method: str
    notice_version: int | None
    language: str | None
    jurisdiction: str
    source: str
    actor: str
    recorded_at: Instant
    expires_at: Instant | None
    receipt_id: uuid.UUID | None
    # The audit entry that recorded it: its sequence number once numbered (null before) and
    # the id it was queued under (null for records from before the queue).
    recorded_seq: int | None
    audit_entry_id: int | None = None


class ConsentReceiptExport(ExportRecord):
    """A consent receipt as issued."""

    id: uuid.UUID
    issued_at: Instant
    receipt: dict[str, Any]
    # The audit entry that recorded it: its sequence number once numbered (null before) and
    # the id it was queued under (null for records from before the queue).
    recorded_seq: int | None
    audit_entry_id: int | None = None


class RetentionChoiceExport(ExportRecord):
    """A shorter retention period the subject chose for a data category."""

    id: uuid.UUID
    category: str
    period: Annotated[str, msgspec.Meta(description="ISO 8601 duration.")]
    chosen_at: Instant
    # The audit entry that recorded it: its sequence number once numbered (null before) and
    # the id it was queued under (null for records from before the queue).
    recorded_seq: int | None
    audit_entry_id: int | None = None


class DataRequestExport(ExportRecord):
    """A data subject request about the subject, and where it stands."""

    id: uuid.UUID
    type: str
    state: str
    reason_code: str | None
    description: str | None
    filed_by: str
    received_at: Instant
    due_at: Instant
    extended_at: Instant | None
    extension_reason: str | None
    rejection_reason: str | None
    closed_at: Instant | None
    export_created_at: Instant | None
    export_sha256: str | None
    erased_at: Instant | None
    certificate: Annotated[dict[str, Any] | None, msgspec.Meta(description="An erasure's certificate.")]


class PrivacyExport(ExportRecord):
    """Everything the privacy module holds about the subject."""

    consent_history: list[ConsentRecordExport]
    consent_receipts: list[ConsentReceiptExport]
    retention_choices: list[RetentionChoiceExport]
    data_requests: list[DataRequestExport]


class CoreExport(ExportRecord):
    """What the shared kernel keeps about the subject: responses stored for Idempotency-Key replays."""

    stored_responses: list[StoredResponse]


class ExportedDocument(Protocol):
    """What privacy reads of a built document: which modules it holds, and its audit entries."""

    @property
    def modules(self) -> msgspec.Struct: ...

    @property
    def audit_entries(self) -> list[AuditEntryView]: ...


class ExportDocument(Protocol):
    """Builds the access export document from every module's records.

    The document names each module's record types, so it is put together where the
    modules are wired (:func:`governance.wiring.export_document`), not here: privacy
    gathers the records and stores the document without knowing the others' types."""

    def __call__(
        self,
        *,
        mentee_id: str,
        request_id: uuid.UUID,
        generated_at: datetime,
        parts: list[SubjectData],
        stored_responses: list[StoredResponse],
        audit_entries: list[AuditEntryView],
    ) -> ExportedDocument: ...


def extension_reason_of(stored: str | None, cipher: SubjectCipher | None) -> str | None:
    """Why a request was extended, from the stored column: ciphertext under the mentee's key
    (None once erased), or text written in clear before reasons were sealed."""
    if stored is None or not is_sealed(stored):
        return stored
    return cipher.read(stored) if cipher else None


def _receipt_with_seq(body: dict[str, Any], sequences: Mapping[int, int]) -> dict[str, Any]:
    """A receipt issued before its entry was numbered, with the number its entry has now (if any)."""
    cited = body.get("audit_entry_id")
    if body.get("audit_seq") is None and isinstance(cited, int):
        body["audit_seq"] = sequences.get(cited)
    return body


def _open(cipher: SubjectCipher | None, value: str | None) -> str | None:
    return cipher.read(value) if cipher else None


async def privacy_export(keyring: Keyring, subject: str) -> tuple[PrivacyExport, list[str]]:
    """Privacy's own records about ``subject``, and their ids."""
    in_log = audit.in_log("recorded_entry_id", "recorded_seq")
    records = await ConsentRecord.select().where(ConsentRecord.subject == subject).order_by(*in_log)
    receipts = typed_all(
        await ConsentReceipt.select().where(ConsentReceipt.subject == subject).order_by(*in_log),
        ConsentReceiptRow,
    )
    choices = await RetentionChoice.select().where(RetentionChoice.subject == subject).order_by(*in_log)
    sequences = await audit.entry_sequences(
        [row["recorded_entry_id"] for row in (*records, *choices)] + [row.recorded_entry_id for row in receipts]
    )

    def cited(row: dict[str, Any]) -> dict[str, Any]:
        # A row's entry, by number once numbered, and by the id it was queued under.
        entry = audit.entry_ref(row["recorded_seq"], row["recorded_entry_id"], sequences)
        return {**row, "recorded_seq": entry.seq, "audit_entry_id": entry.entry_id}

    requests = typed_all(
        await DataRequest.select().where(DataRequest.subject == subject).order_by(DataRequest.received_at),
        DataRequestRow,
    )
    cipher = (await keyring.readable([subject]))[subject]
    part = PrivacyExport(
        consent_history=[
            ConsentRecordExport(**{f: r[f] for f in ConsentRecordExport.__struct_fields__}) for r in map(cited, records)
        ],
        consent_receipts=[
            ConsentReceiptExport(
                id=r.id,
                issued_at=r.issued_at,
                receipt=_receipt_with_seq(msgspec.json.decode(r.body), sequences),
                recorded_seq=audit.entry_ref(r.recorded_seq, r.recorded_entry_id, sequences).seq,
                audit_entry_id=r.recorded_entry_id,
            )
            for r in receipts
        ],
        retention_choices=[
            RetentionChoiceExport(**{f: r[f] for f in RetentionChoiceExport.__struct_fields__})
            for r in map(cited, choices)
        ],
        data_requests=[
            DataRequestExport(
                id=r.id,
                type=r.request_type,
                state=r.state,
                reason_code=r.reason_code,
                description=_open(cipher, r.description),
                filed_by=r.filed_by,
                received_at=r.received_at,
                due_at=r.due_at,
                extended_at=r.extended_at,
                extension_reason=extension_reason_of(r.extension_reason, cipher),
                rejection_reason=_open(cipher, r.rejection_reason),
                closed_at=r.closed_at,
                export_created_at=r.export_created_at,
                export_sha256=r.export_sha256,
                erased_at=r.erased_at,
                certificate=msgspec.json.decode(r.certificate) if r.certificate else None,
            )
            for r in requests
        ],
    )
    ids = [str(record.id) for record in part.consent_history]
    ids += [str(receipt.id) for receipt in part.consent_receipts]
    ids += [str(choice.id) for choice in part.retention_choices]
    ids += [str(request.id) for request in part.data_requests]
    return part, ids
