"""Audit tables. Both are append-only: database triggers refuse UPDATE and DELETE."""

from piccolo.columns import BigInt, Bytea, Text, Timestamptz, Varchar
from piccolo.table import Table


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


class AuditHead(Table, tablename="audit_head"):
    """The next sequence number, in a single row.

    Appending locks this row (``UPDATE ... RETURNING``) until the transaction ends, so
    concurrent writers get a gap-free order on both engines with one round trip.
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
    # Hashes of the complete subtrees covering [0, tree_size): lets the next checkpoint
    # continue from here instead of rehashing the whole log. Verification ignores it.
    compact_range = Bytea()
