"""Proofs (RFC 9162 §2.1.3, §2.1.4) and tiles (c2sp.org/tlog-tiles), read from the stored nodes.

Served for trees up to the latest signed checkpoint: that is the size the nodes are
integrated to and the size a client can check a root against. Each proof reads its
``O(log n)`` nodes in one query (:mod:`governance.audit.tree_store`).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from governance.audit import service, tree, tree_store
from governance.audit import witnesses as witnesses_
from governance.audit.leaf import stored_leaf_input
from governance.audit.schemas import ConsistencyProof, InclusionProof
from governance.audit.tables import AuditEntry, CheckpointRow
from governance.audit.verification import COLUMNS
from governance.core import db

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT
TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"
MAX_ENTRY_BYTES: Final = 0xFFFF  # entry bundles prefix each entry with a uint16 length


class ProofRefused(ValueError):
    """The request names no proof this log can give (``field`` says which parameter)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class EntryTooLong(ValueError):
    """An entry longer than an entry bundle's uint16 length prefix can announce."""


class NotYetSigned(LookupError):
    """No checkpoint covers what was asked yet."""


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


async def _bound(log_key: service.LogKey) -> CheckpointRow:
    latest = await service.latest_checkpoint(log_key)
    if latest is None:
        raise NotYetSigned("No checkpoint has been signed yet")
    return latest


async def _bound_and_hashes(
    log_key: service.LogKey, ranges: list[tree.Range] | None
) -> tuple[CheckpointRow, Callable[[], list[bytes]]]:
    """The latest checkpoint, and the hashes of ``ranges`` (None: not wanted), read at once.

    A proof needs both, and neither depends on the other: two round trips side by side
    (outside a transaction, whose one connection takes one statement at a time) cost one.
    The hashes come as a function that raises what reading them raised, so the caller
    checks the request against the checkpoint first, as it did when it read them after."""
    if ranges is None:
        return await _bound(log_key), list
    reading = tree_store.range_hashes(ranges)
    found: list[bytes] | BaseException
    if db.in_transaction():
        latest = await _bound(log_key)
        [found] = await asyncio.gather(reading, return_exceptions=True)
    else:
        latest_or_error, found = await asyncio.gather(_bound(log_key), reading, return_exceptions=True)
        if isinstance(latest_or_error, BaseException):
            raise latest_or_error
        latest = latest_or_error

    def result() -> list[bytes]:
        if isinstance(found, BaseException):
            raise found
        return found

    return latest, result


async def inclusion(log_key: service.LogKey, index: int, tree_size: int) -> InclusionProof:
    """The inclusion proof of entry ``index`` in the tree of ``tree_size`` entries."""
    ranges = [(index, index + 1), *tree.inclusion_ranges(index, tree_size)] if 0 <= index < tree_size else None
    latest, hashes = await _bound_and_hashes(log_key, ranges)
    if not 1 <= tree_size <= latest.tree_size:
        raise ProofRefused("tree_size", f"tree_size must be between 1 and {latest.tree_size}, the latest checkpoint")
    if not 0 <= index < tree_size:
        raise ProofRefused("index", f"index must be below tree_size ({tree_size})")
    leaf, *path = hashes()
    return InclusionProof(index=index, tree_size=tree_size, leaf_hash=_b64(leaf), hashes=[_b64(h) for h in path])


async def consistency(log_key: service.LogKey, first: int, second: int) -> ConsistencyProof:
    """The consistency proof from the tree of ``first`` entries to the tree of ``second``."""
    ranges = tree.consistency_ranges(first, second) if 1 <= first <= second else None
    latest, hashes = await _bound_and_hashes(log_key, ranges)
    if not 1 <= second <= latest.tree_size:
        raise ProofRefused("to", f"to must be between 1 and {latest.tree_size}, the latest checkpoint")
    if not 1 <= first <= second:
        # Every tree extends the empty one: verifiers (transparency-dev's too) refuse from = 0.
        raise ProofRefused("from", f"from must be between 1 and to ({second})")
    return ConsistencyProof(from_=first, to=second, hashes=[_b64(h) for h in hashes()])


async def entry_proof(
    log_key: service.LogKey, seq: int, witnesses: witnesses_.Witnesses | None = None, *, with_entry: bool = False
) -> str | None:
    """A c2sp.org/tlog-proof@v1 of entry ``seq`` in the latest checkpoint (signed now if
    none covers it yet), with the cosignatures the configured ``witnesses`` stored for it:
    verifiable offline with the log's verifier key. ``with_entry`` puts the entry's leaf
    input in the ``extra`` line, so the file stands alone. None: no such entry."""
    if seq >= await service.tree_size():
        return None
    checkpoint = await service.latest_checkpoint(log_key)
    if checkpoint is None or checkpoint.tree_size <= seq:
        checkpoint = await service.sign_checkpoint(log_key)
    return await proof_in(checkpoint, seq, witnesses, with_entry=with_entry)


async def proof_in(
    checkpoint: CheckpointRow, seq: int, witnesses: witnesses_.Witnesses | None = None, *, with_entry: bool = False
) -> str:
    """The tlog-proof of entry ``seq`` (below the checkpoint's size) in that checkpoint."""
    hashes = await tree_store.range_hashes(tree.inclusion_ranges(seq, checkpoint.tree_size))
    signed = await witnesses_.attached(checkpoint, witnesses) if witnesses is not None else checkpoint.note
    lines = [TLOG_PROOF_HEADER]
    if with_entry:
        entry = await leaf_input_of(seq)
        if entry is None:  # pragma: no cover - below a checkpoint's size every entry is stored
            raise tree_store.MissingNodes(f"audit entry {seq} is not stored")
        lines.append(f"extra {_b64(entry)}")
    lines += [f"index {seq}", *(_b64(h) for h in hashes)]
    return "\n".join(lines) + "\n\n" + signed


async def leaf_input_of(seq: int) -> bytes | None:
    """The exact bytes entry ``seq`` was hashed from (None: no such entry)."""
    rows = await AuditEntry.raw(f"SELECT {COLUMNS} FROM audit_entry WHERE seq = {{}}", seq)  # noqa: S608
    return stored_leaf_input(rows[0]) if rows else None


@dataclass(frozen=True, slots=True)
class Tile:
    """Tile bytes and whether they can never change (a full tile)."""

    data: bytes
    full: bool


def _width(available: int, index: int, width: int | None) -> int:
    """The width served for tile ``index`` when ``available`` hashes of its level exist."""
    wanted = TILE_WIDTH if width is None else width
    if not 1 <= wanted <= TILE_WIDTH or (width is not None and width == TILE_WIDTH):
        raise ProofRefused("width", "a partial tile is 1 to 255 wide")
    if (index + 1) * TILE_WIDTH > available and index * TILE_WIDTH + wanted > available:
        raise NotYetSigned(f"tile {index} is not {wanted} wide in the latest checkpoint")
    return wanted


async def hash_tile(log_key: service.LogKey, level: int, index: int, width: int | None) -> Tile:
    """Tile ``index`` of tile level ``level``: hashes of tree level ``8 * level``."""
    if not 0 <= level <= 63:
        raise ProofRefused("level", "a tile level is 0 to 63")
    latest = await _bound(log_key)
    tree_level = TILE_HEIGHT * level
    available = latest.tree_size >> tree_level if tree_level < 64 else 0
    served = _width(available, index, width)
    if tree_level >= tree.LEVEL_SHIFT:
        raise NotYetSigned("no tree is that tall")
    hashes = await tree_store.level_range(tree_level, index * TILE_WIDTH, served)
    return Tile(b"".join(hashes), full=width is None)


async def entry_bundle(log_key: service.LogKey, index: int, width: int | None) -> Tile:
    """Entry bundle ``index``: each entry's exact leaf input behind a big-endian uint16 length."""
    latest = await _bound(log_key)
    served = _width(latest.tree_size, index, width)
    first = index * TILE_WIDTH
    rows = await AuditEntry.raw(
        f"SELECT {COLUMNS} FROM audit_entry WHERE seq >= {{}} AND seq < {{}} ORDER BY seq",  # noqa: S608
        first,
        first + served,
    )
    if [row["seq"] for row in rows] != list(range(first, first + served)):
        raise tree_store.MissingNodes(f"audit entries {first} to {first + served - 1} are not all stored")
    bundle = bytearray()
    for row in rows:
        leaf = stored_leaf_input(row)
        if len(leaf) > MAX_ENTRY_BYTES:
            raise EntryTooLong(
                f"audit entry {row['seq']} is {len(leaf)} bytes, longer than an entry bundle can hold; "
                f"read it at /api/v1/audit/entries/{row['seq']}"
            )
        bundle += len(leaf).to_bytes(2, "big") + leaf
    return Tile(bytes(bundle), full=width is None)
