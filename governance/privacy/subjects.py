"""Privacy's own data about a subject: consent history, receipts, retention choices, data requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from governance.core.crypto import SEALED_PREFIXES, Keyring
from governance.core.rows import Row, typed_all
from governance.core.storage import ObjectStore
from governance.core.subjects import Erased, ErasureOutcome, Hold, Kept, RetentionRecord, SubjectData
from governance.privacy import exports
from governance.privacy.tables import ConsentReceipt, ConsentRecord, DataRequest

TERMINAL: Final = ("completed", "rejected", "withdrawn")


class _Open(Row):
    id: uuid.UUID
    request_type: str


class _Closed(Row):
    id: uuid.UUID
    subject: str
    closed_at: datetime


class _Exported(Row):
    id: uuid.UUID
    subject: str
    export_created_at: datetime


class PrivacySubjects:
    """The :class:`~governance.core.subjects.SubjectProvider` of the privacy module."""

    module = "privacy"
    retention_categories = ("data_request_records", "data_exports")

    def __init__(self, keyring: Keyring, store: ObjectStore) -> None:
        self._keyring = keyring
        self._store = store

    async def export(self, subject: str) -> SubjectData:
        data, resource_ids = await exports.privacy_export(self._keyring, subject)
        return SubjectData(module=self.module, data=data, resource_ids=resource_ids)

    async def holds(self, subject: str) -> list[Hold]:
        rows = await DataRequest.select(DataRequest.id, DataRequest.request_type).where(
            (DataRequest.subject == subject) & DataRequest.state.not_in(list(TERMINAL))
        )
        return [
            Hold(self.module, "data_request", str(r.id), f"open {r.request_type} request about the subject")
            for r in typed_all(rows, _Open)
        ]

    async def on_erasure(self, subject: str, now: datetime) -> ErasureOutcome:
        requests = await DataRequest.count().where(DataRequest.subject == subject)
        described = await DataRequest.count().where(
            (DataRequest.subject == subject) & DataRequest.description.is_not_null()
        )
        extended = await DataRequest.count().where(
            (DataRequest.subject == subject) & DataRequest.extension_reason.is_not_null()
        )
        rejected = await DataRequest.count().where(
            (DataRequest.subject == subject) & DataRequest.rejection_reason.is_not_null()
        )
        consents = await ConsentRecord.count().where(ConsentRecord.subject == subject)
        receipts = await ConsentReceipt.count().where(ConsentReceipt.subject == subject)
        # Export files are plaintext copies: they go with the key.
        exports = (
            await DataRequest.select(DataRequest.export_key)
            .where((DataRequest.subject == subject) & DataRequest.export_key.is_not_null())
            .output(as_list=True)
        )
        for key in exports:
            await self._store.delete(key)
        await DataRequest.update(
            {DataRequest.erased_at: now, DataRequest.export_key: None, DataRequest.export_sha256: None}
        ).where(DataRequest.subject == subject)
        # Extension reasons were kept in clear before they were sealed: they go now.
        legacy, sealed = (f"{prefix}%" for prefix in SEALED_PREFIXES)
        await DataRequest.update({DataRequest.extension_reason: None}).where(
            (DataRequest.subject == subject)
            & DataRequest.extension_reason.not_like(legacy)
            & DataRequest.extension_reason.not_like(sealed)
        )
        kept = [
            Kept(
                self.module,
                "data_request",
                requests,
                "proof that each request was answered in time (GDPR Art. 5(2), 12)",
            ),
            Kept(
                self.module, "consent_record", consents, "proof of consent (GDPR Art. 7(1)); holds no personal fields"
            ),
            Kept(self.module, "consent_receipt", receipts, "receipts issued to the mentee; hold no personal fields"),
        ]
        erased = [
            Erased(self.module, "data_request.description", described, "crypto-shredded"),
            Erased(self.module, "data_request.extension_reason", extended, "crypto-shredded"),
            Erased(self.module, "data_request.rejection_reason", rejected, "crypto-shredded"),
            Erased(self.module, "export_file", len(exports), "deleted from the object store"),
        ]
        return ErasureOutcome(erased=[e for e in erased if e.count], kept=[k for k in kept if k.count])

    async def retention_records(self, category: str, since_before: datetime, limit: int) -> list[RetentionRecord]:
        if category == "data_request_records":
            rows = (
                await DataRequest.select(DataRequest.id, DataRequest.subject, DataRequest.closed_at)
                .where(DataRequest.closed_at.is_not_null() & (DataRequest.closed_at < since_before))
                .order_by(DataRequest.closed_at)
                .limit(limit)
            )
            return [
                RetentionRecord(self.module, category, "data_request", str(r.id), r.subject, r.closed_at)
                for r in typed_all(rows, _Closed)
            ]
        if category == "data_exports":
            rows = (
                await DataRequest.select(DataRequest.id, DataRequest.subject, DataRequest.export_created_at)
                .where(DataRequest.export_key.is_not_null() & (DataRequest.export_created_at < since_before))
                .order_by(DataRequest.export_created_at)
                .limit(limit)
            )
            return [
                RetentionRecord(self.module, category, "export", str(r.id), r.subject, r.export_created_at)
                for r in typed_all(rows, _Exported)
            ]
        return []

    async def dispose(self, records: Sequence[RetentionRecord], now: datetime) -> int:
        ids = [uuid.UUID(r.record_id) for r in records]
        if not ids:
            return 0
        exports = (
            await DataRequest.select(DataRequest.export_key)
            .where(DataRequest.id.is_in(ids) & DataRequest.export_key.is_not_null())
            .output(as_list=True)
        )
        for key in exports:
            await self._store.delete(key)  # deleting a missing object is not an error
        if records[0].category == "data_request_records":
            deleted = await DataRequest.delete().where(DataRequest.id.is_in(ids)).returning(DataRequest.id)
        else:
            deleted = (
                await DataRequest.update({DataRequest.export_key: None, DataRequest.export_sha256: None})
                .where(DataRequest.id.is_in(ids))
                .returning(DataRequest.id)
            )
        return len(deleted)
