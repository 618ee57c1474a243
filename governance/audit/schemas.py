"""API shapes of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from governance.core.pagination import DEFAULT_LIMIT, Limit
from governance.core.shapes import View


class EntryActor(View):
    sub: str
    roles: list[str]


class EntryResource(View):
    type: str
    id: str | None


class AuditEntryView(View):
    """One audit entry as stored, with its RFC 9162 leaf hash (hex)."""

    seq: int
    time: datetime
    actor: EntryActor
    action: str
    resource: EntryResource
    request_id: str | None
    outcome: str
    details: dict[str, Any]
    leaf_hash: str


class AuditQuery(View):
    """Search filters; every given filter must match."""

    actor: str | None = None
    action: Annotated[str, msgspec.Meta(description="Action prefix, e.g. `access.` or `access.denied`.")] | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: Literal["asc", "desc"] = "asc"
    limit: Limit = DEFAULT_LIMIT
    cursor: str | None = None


class Verification(View):
    """The result of a full verification of the log."""

    ok: bool
    size: int
    root: str
    checkpoints_checked: int
    first_bad_seq: int | None
    first_bad_checkpoint: int | None = None
    # When leaf hashes were rewritten along with an entry: [last good checkpoint size, first bad one).
    suspect_range: list[int] | None = None
    problems: list[str] = []


class ExportEntry(View, tag="entry", tag_field="type"):
    seq: int
    entry: AuditEntryView
    leaf_input: str  # base64 of the exact leaf input bytes
    leaf_hash: str  # hex SHA-256(0x00 || leaf input)


class ExportCheckpoint(View, tag="checkpoint", tag_field="type"):
    tree_size: int
    root: str
    checkpoint: str  # the C2SP signed note
    verifier_key: str  # <name>+<hex key id>+<base64(0x01 || Ed25519 public key)>


class ExportPrefix(View, tag="prefix", tag_field="type"):
    """Opens an export that starts at ``tree_size`` instead of 0: what stands for the entries left out."""

    tree_size: int  # the entries 0 .. tree_size - 1 are left out
    root: str  # hex Merkle root of those entries: equal to the root of a checkpoint of that size
    compact_range: list[str]  # hex roots of the complete subtrees covering them, left (largest) first


class InclusionProof(View):
    """RFC 9162 §2.1.3: the hashes from the leaf's sibling up to the root's child (base64)."""

    index: int
    tree_size: int
    leaf_hash: str
    hashes: list[str]


class ConsistencyProof(View):
    """RFC 9162 §2.1.4: the hashes proving the tree of ``from`` leaves is a prefix of the tree of ``to``."""

    from_: int = msgspec.field(name="from")
    to: int
    hashes: list[str]
