"""Audit tables. All are append-only: database triggers refuse UPDATE and DELETE.

Beside a table, its row as the services read it (a :class:`~governance.core.rows.Row`).
"""

from __future__ import annotations

from datetime import datetime

from piccolo.columns import UUID, BigInt, Bytea, Text, Timestamptz, Varchar
from piccolo.table import Table

from governance.core.rows import Row


class AuditEntry(Table, tablename="audit_entry"):
    """One audited event; ``seq`` is its dense position in the Merkle tree (from 0)."""

    seq = BigInt(primary_key=True)
    recorded_at = Timestamptz(index=True)
    actor_sub = Varchar(length=200, index=True)
    actor_roles = Text()  # canonical JSON array
    action = Varchar(length=120, index=True)
    resource_type = Varchar(length=80, index=True)
    resource_id = Varchar(length=200, null=True, default=None, index=True)
    request_id = Varchar(length=64, null=True, default=None)
    outcome = Varchar(length=20)
    details = Text()  # canonical JSON object, never plaintext personal data
    leaf_hash = Bytea()


class AuditEntryRow(Row):
    """An ``audit_entry`` row (see :class:`AuditEntry`)."""

    seq: int
    recorded_at: datetime
    actor_sub: str
    actor_roles: str  # canonical JSON array
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str | None
    outcome: str
    details: str  # canonical JSON object
    leaf_hash: bytes


class AuditHead(Table, tablename="audit_head"):
    """The next sequence number, in a single row.

    Only the sequencer locks this row (``UPDATE ... RETURNING``) until its transaction
    ends, so entries get a gap-free order on both engines with one round trip. Changes
    queue their entries (``audit_queue``, see :mod:`governance.audit.sequencer`) and never
    wait for it.
    """

    name = Varchar(length=20, primary_key=True)
    next_seq = BigInt(default=0)


class AuditCheckpoint(Table, tablename="audit_checkpoint"):
    """A signed C2SP tlog-checkpoint of the log at ``tree_size``."""

    tree_size = BigInt(primary_key=True)
    root_hash = Bytea()
    note = Text()
    key_id = Varchar(length=8)
    signed_at = Timestamptz()
    # Hashes of the complete subtrees covering [0, tree_size) (the same as the stored tree
    # nodes of audit_tree_node there): folds to the root. Verification ignores it.
    compact_range = Bytea()
    # A note signed by the same key that numbers this checkpoint and names the one before
    # it (empty on checkpoints signed before numbering began): see service.link_body.
    link = Text(default="")


class CheckpointRow(Row):
    """An ``audit_checkpoint`` row (see :class:`AuditCheckpoint`): a signed checkpoint."""

    tree_size: int
    root_hash: bytes
    note: str  # the signed note (C2SP tlog-checkpoint)
    key_id: str
    signed_at: datetime
    compact_range: bytes
    link: str


class AuditTreeNode(Table, tablename="audit_tree_node"):
    """The hash of one complete subtree of the log's Merkle tree (see :mod:`governance.audit.tree`).

    ``node_id`` is ``level << 56 | index``; written in batches when checkpoints are signed,
    never changed (append-only like the log).
    """

    node_id = BigInt(primary_key=True)
    hash = Bytea()


class PolicyVersion(Table, tablename="audit_policy_version"):
    """A policy file as the service ran on it from ``in_force_from``: its exact text and SHA-256.

    One row each time a file's bytes differ from the version last in force (a revert to
    earlier bytes is a new row: it came into force again). Append-only like the log; the
    entry ``policy.version_in_force`` (queued as ``recorded_entry_id``; versions recorded
    before the queue hold its sequence number ``recorded_seq`` instead) binds it into the tree.
    """

    id = UUID(primary_key=True)
    name = Varchar(length=100, index=True)
    label = Varchar(length=100, null=True, default=None)
    sha256 = Varchar(length=64)
    size = BigInt()
    text = Text()
    in_force_from = Timestamptz(index=True)
    recorded_seq = BigInt(null=True, default=None)
    recorded_entry_id = BigInt(null=True, default=None)


class AuditCosignature(Table, tablename="audit_cosignature"):
    """A witness's cosignature (c2sp.org/tlog-cosignature) of the checkpoint at ``tree_size``.

    ``checkpoint`` is the note text the witness signed, kept whole: it still says which
    root the witness saw if the checkpoint row were ever replaced.
    """

    tree_size = BigInt(index=True)
    witness = Varchar(length=300)  # the witness's verifier key
    checkpoint = Text()
    cosignature = Text()  # the signature line, as the witness answered it
    cosigned_at = Timestamptz()  # the cosignature's own timestamp


class CosignatureRow(Row):
    """An ``audit_cosignature`` row (see :class:`AuditCosignature`)."""

    tree_size: int
    witness: str
    checkpoint: str
    cosignature: str
    cosigned_at: datetime
