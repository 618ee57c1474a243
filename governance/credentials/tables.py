"""Issued credentials and the history of their status bits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from piccolo.columns import UUID, Boolean, Integer, Timestamptz, Varchar
from piccolo.table import Table

from governance.core.rows import Row


class IssuedCredential(Table, tablename="credential_issued"):
    """One OpenBadgeCredential per attestation version; its bits sit at ``status_index`` in both lists.

    The signed document is rebuilt from the attestation and this row when asked for
    (Ed25519 is deterministic: the same key gives the same bytes).
    """

    id = UUID(primary_key=True)
    attestation_id = UUID(index=True)
    attestation_version = Integer()
    status_index = Integer(unique=True)
    salt = Varchar(length=64)
    issued_at = Timestamptz()
    replaces = UUID(null=True, default=None)
    revoked = Boolean(default=False)
    suspended = Boolean(default=False)


class CredentialStatusChange(Table, tablename="credential_status_change"):
    """A bit set or cleared, and when: a past list is these changes folded up to a time."""

    id = UUID(primary_key=True)
    status_index = Integer(index=True)
    purpose = Varchar(length=20)
    value = Boolean()
    at = Timestamptz(index=True)


class IssuedRow(Row):
    id: uuid.UUID
    attestation_id: uuid.UUID
    attestation_version: int
    status_index: int
    salt: str
    issued_at: datetime
    replaces: uuid.UUID | None
    revoked: bool
    suspended: bool


TABLES: Final = (IssuedCredential, CredentialStatusChange)
