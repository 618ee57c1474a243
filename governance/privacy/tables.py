"""Privacy tables.

Consent history and receipts are append-only (database triggers refuse UPDATE and
DELETE, as on the audit tables): the current preferences are derived from the history,
never stored apart from it. Data requests are working records with a state machine;
their only personal field (the requester's description) is ciphertext under the
subject's key.

Beside a table, its row as the services read it (a :class:`~governance.core.rows.Row`);
rows only one service reads in part are declared where it reads them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from piccolo.columns import UUID, BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from governance.core.rows import Row
from governance.privacy.schemas import ReasonCode, RequestState, RequestType


class NoticeVersion(Table, tablename="privacy_notice_version"):
    """A notice version as first seen: its text's hash, so a later edit of it is refused."""

    key = Varchar(length=200, unique=True)  # purpose:version:language
    purpose = Varchar(length=80)
    version = Integer()
    language = Varchar(length=8)
    sha256 = Varchar(length=64)
    first_seen_at = Timestamptz()


class ConsentRecord(Table, tablename="privacy_consent_record"):
    """One consent event (ISO/IEC TS 27560 record): append-only."""

    id = UUID(primary_key=True)
    subject = Varchar(length=200, index=True)
    purpose = Varchar(length=80)
    state = Varchar(length=10)  # opt_in, opt_out
    method = Varchar(length=20)  # explicit, gpc, default, expired, erasure
    notice_version = Integer(null=True, default=None)
    language = Varchar(length=8, null=True, default=None)
    jurisdiction = Varchar(length=2)
    source = Varchar(length=60)
    actor = Varchar(length=200)
    recorded_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None, index=True)
    receipt_id = UUID(null=True, default=None)
    # The audit entry that recorded it: orders records and points into the verifiable log.
    # Its id as queued (the change does not wait for the sequencer); records from before the
    # queue hold the sequence number given at once instead (see audit.service.log_order).
    recorded_seq = BigInt(null=True, default=None)
    recorded_entry_id = BigInt(null=True, default=None)


class ConsentReceipt(Table, tablename="privacy_consent_receipt"):
    """The receipt given for one change of preferences (JSON, no personal data): append-only."""

    id = UUID(primary_key=True)
    subject = Varchar(length=200, index=True)
    issued_at = Timestamptz()
    body = Text()
    recorded_seq = BigInt(null=True, default=None)
    recorded_entry_id = BigInt(null=True, default=None)


class ConsentReceiptRow(Row):
    """A ``privacy_consent_receipt`` row (see :class:`ConsentReceipt`)."""

    id: uuid.UUID
    issued_at: datetime
    body: str  # JSON
    recorded_seq: int | None
    recorded_entry_id: int | None


class RetentionChoice(Table, tablename="privacy_retention_choice"):
    """A mentee's shorter retention period for a category (the latest one counts)."""

    id = UUID(primary_key=True)
    subject = Varchar(length=200, index=True)
    category = Varchar(length=80)
    period = Varchar(length=40)
    chosen_at = Timestamptz()
    recorded_seq = BigInt(null=True, default=None)
    recorded_entry_id = BigInt(null=True, default=None)


class DataRequest(Table, tablename="privacy_data_request"):
    """A data subject request (GDPR Art. 15-21) and where it stands."""

    id = UUID(primary_key=True)
    subject = Varchar(length=200, index=True)
    request_type = Varchar(length=20)
    state = Varchar(length=30, index=True)
    reason_code = Varchar(length=40, null=True, default=None)
    description = Text(null=True, default=None)  # ciphertext
    filed_by = Varchar(length=200)
    received_at = Timestamptz()
    due_at = Timestamptz(index=True)
    extended_at = Timestamptz(null=True, default=None)
    extension_reason = Text(null=True, default=None)
    rejection_reason = Text(null=True, default=None)  # ciphertext, under the mentee
    closed_at = Timestamptz(null=True, default=None, index=True)
    export_key = Varchar(length=300, null=True, default=None)
    export_sha256 = Varchar(length=64, null=True, default=None)
    export_created_at = Timestamptz(null=True, default=None, index=True)
    certificate = Text(null=True, default=None)  # JSON, no personal data
    erased_at = Timestamptz(null=True, default=None)
    version = BigInt(default=1)
    last_seq = BigInt(null=True, default=None)
    last_entry_id = BigInt(null=True, default=None)


class DataRequestRow(Row):
    """A ``privacy_data_request`` row (see :class:`DataRequest`)."""

    id: uuid.UUID
    subject: str
    request_type: RequestType
    state: RequestState
    reason_code: ReasonCode | None
    description: str | None  # ciphertext
    filed_by: str
    received_at: datetime
    due_at: datetime
    extended_at: datetime | None
    extension_reason: str | None  # ciphertext, or clear text written before reasons were sealed
    rejection_reason: str | None  # ciphertext
    closed_at: datetime | None
    export_key: str | None
    export_sha256: str | None
    export_created_at: datetime | None
    certificate: str | None  # JSON
    erased_at: datetime | None
    version: int
    last_seq: int | None
    last_entry_id: int | None
