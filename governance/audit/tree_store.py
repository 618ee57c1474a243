"""The stored Merkle tree nodes: integrated in batches, read for proofs, tiles and roots.

Integration runs where checkpoints are signed (never in a change's transaction, so the
write path is not slowed): it reads the leaf hashes appended since the last integrated
leaf, and writes every node they complete, one transaction per batch. A batch commits
its leaves with all the nodes above them, so the largest stored leaf tells how far the
tree is integrated, after a crash too. The first run on an existing log integrates it
all (the backfill). Several instances may integrate at once: they compute the same
nodes and the primary key keeps one of each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Final

from governance.audit import merkle, tree
from governance.audit.tables import AuditEntry, AuditTreeNode
from governance.core import db
from governance.core.rows import Row, typed_all

BATCH: Final = 5000
_NODES_SQL: Final = "SELECT node_id, hash FROM audit_tree_node WHERE node_id = ANY($1::bigint[])"
# Rows per INSERT: two parameters each, well under both drivers' parameter limits.
INSERT_ROWS: Final = 1000


class MissingNodes(RuntimeError):
    """The tree is not integrated as far as asked (or its nodes were removed)."""


class _LeafHash(Row):
    seq: int
    leaf_hash: bytes


async def leaf_hash_batches(start: int, stop: int) -> AsyncIterator[list[bytes]]:
    """The stored leaf hashes of entries ``[start, stop)`` in order, a batch at a time;
    RuntimeError at the first missing entry."""
    position = start
    while position < stop:
        rows = await AuditEntry.raw(
            "SELECT seq, leaf_hash FROM audit_entry WHERE seq >= {} AND seq < {} ORDER BY seq LIMIT {}",
            position,
            stop,
            BATCH,
        )
        if not rows:
            raise RuntimeError(f"audit entries from {position} are missing; run `governance audit verify`")
        leaves = typed_all(rows, _LeafHash)
        for offset, leaf in enumerate(leaves):
            if leaf.seq != position + offset:
                raise RuntimeError(f"audit entry {position + offset} is missing; run `governance audit verify`")
        position += len(leaves)
        yield [bytes(leaf.leaf_hash) for leaf in leaves]


async def integrated_size() -> int:
    """How many leaves have their nodes stored (one index look-up: the largest leaf key)."""
    rows = await AuditTreeNode.raw("SELECT max(node_id) AS top FROM audit_tree_node WHERE node_id < {}", tree.MAX_SIZE)
    top = rows[0]["top"]
    return 0 if top is None else int(top) + 1


async def integrate(size: int) -> int:
    """Store the nodes of the tree up to ``size`` leaves; returns the size integrated."""
    start = await integrated_size()
    if start >= size:
        return start
    builder = tree.NodeBuilder.from_compact_range(start, b"".join(await cover_hashes(0, start)) if start else b"")
    async for batch in leaf_hash_batches(start, size):
        await _store(builder.extend_nodes(batch))
    return builder.size


async def _store(nodes: list[tuple[int, bytes]]) -> None:
    async with db.transaction():
        for first in range(0, len(nodes), INSERT_ROWS):
            chunk = nodes[first : first + INSERT_ROWS]
            values = ", ".join("({}, {})" for _ in chunk)
            await AuditTreeNode.raw(
                f"INSERT INTO audit_tree_node (node_id, hash) VALUES {values} "  # noqa: S608
                "ON CONFLICT (node_id) DO NOTHING",
                *(value for node in chunk for value in node),
            )


async def nodes(ids: Iterable[int]) -> dict[int, bytes]:
    """The stored hashes of the nodes ``ids``, in one query; MissingNodes if any is absent."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    pool = db.read_pool()
    if pool is not None:
        # Every proof asks: one prepared statement for any number of nodes, on a pooled
        # connection, costs less than Piccolo building the query anew each time.
        async with pool.acquire() as connection:
            rows = await connection.fetch(_NODES_SQL, wanted)
    else:
        marks = ", ".join("{}" for _ in wanted)
        rows = await AuditTreeNode.raw(
            f"SELECT node_id, hash FROM audit_tree_node WHERE node_id IN ({marks})",  # noqa: S608
            *wanted,
        )
    found = {int(row["node_id"]): bytes(row["hash"]) for row in rows}
    if len(found) != len(wanted):
        missing = next(node for node in wanted if node not in found)
        raise MissingNodes(f"tree node {missing >> tree.LEVEL_SHIFT}/{missing & (tree.MAX_SIZE - 1)} is not stored")
    return found


async def cover_hashes(start: int, end: int) -> list[bytes]:
    """The hashes of the complete subtrees covering ``[start, end)`` (see :func:`tree.cover`)."""
    ids = [tree.node_id(level, index) for level, index in tree.cover(start, end)]
    found = await nodes(ids)
    return [found[node] for node in ids]


async def range_hashes(ranges: list[tree.Range]) -> list[bytes]:
    """``MTH(D[start:end])`` for each range, from the nodes of all of them read at once."""
    covers = [[tree.node_id(level, index) for level, index in tree.cover(*span)] for span in ranges]
    found = await nodes(node for ids in covers for node in ids)
    return [tree.fold([found[node] for node in ids]) for ids in covers]


async def root(size: int) -> bytes:
    """The root of the tree of ``size`` leaves, from at most ``log2(size) + 1`` stored nodes."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return tree.fold(await cover_hashes(0, size))


async def level_range(level: int, first: int, count: int) -> list[bytes]:
    """The nodes ``first`` to ``first + count - 1`` of one level, in order (a tile's hashes)."""
    low = tree.node_id(level, first)
    rows = await AuditTreeNode.raw(
        "SELECT node_id, hash FROM audit_tree_node WHERE node_id >= {} AND node_id < {} ORDER BY node_id",
        low,
        low + count,
    )
    if len(rows) != count:
        raise MissingNodes(f"tree nodes {first} to {first + count - 1} of level {level} are not all stored")
    return [bytes(row["hash"]) for row in rows]
