"""RFC 9162 Merkle Tree Hash (SHA-256).

This module implements the Merkle Tree Hash (MTH) of RFC 9162 §2.1.1, which is
the same tree as RFC 6962 §2.1 and the one committed to by C2SP tlog-checkpoint
root hashes. Leaves and interior nodes are hashed with distinct one-byte
prefixes (0x00 and 0x01) so that a leaf can never be reinterpreted as an
interior node (second-preimage resistance, RFC 9162 §2.1.1 and §12.1).

Two ways to compute a root are offered:

* :func:`root` hashes a complete list of leaf hashes level by level. It is a
  straightforward, independent implementation used as the reference.
* :class:`TreeBuilder` is a streaming "compact range": it keeps only the roots
  of the maximal complete, aligned subtrees (at most ``log2(n) + 1`` hashes),
  so the root can be checked at many checkpoint sizes during a single pass
  over a very large log without keeping the leaves in memory.

All functions take *leaf hashes* (the output of :func:`leaf_hash`), not raw
leaf inputs, because audit code usually stores or receives the hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final, Self

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "TreeBuilder",
    "leaf_hash",
    "node_hash",
    "root",
]

#: Size in bytes of a SHA-256 digest, and therefore of every tree hash.
HASH_SIZE: Final = 32

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

#: MTH({}) = SHA-256() -- RFC 9162 §2.1.1: the hash of an empty list is the
#: hash of the empty string (no prefix byte).
EMPTY_ROOT: Final[bytes] = hashlib.sha256(b"").digest()

# A SHA-256 context that has already absorbed the node prefix. Copying it is
# cheaper than concatenating ``0x01 || left || right`` into a fresh buffer, and
# ``copy()`` never mutates the template, so sharing it is thread-safe.
_NODE_CTX: Final = hashlib.sha256(_NODE_PREFIX)


def leaf_hash(leaf_input: bytes) -> bytes:
    """Return ``SHA-256(0x00 || leaf_input)`` (RFC 9162 §2.1.1, MTH of one entry).

    The 0x00 prefix domain-separates leaves from interior nodes.
    """
    return hashlib.sha256(_LEAF_PREFIX + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)`` (RFC 9162 §2.1.1, interior node)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash of ``leaf_hashes`` (RFC 9162 §2.1.1).

    RFC 9162 defines MTH recursively, splitting ``n`` leaves at ``k``, the
    largest power of two smaller than ``n``. Because the left part is always a
    complete subtree of size ``k``, the same tree is obtained bottom-up by
    hashing adjacent pairs level by level and carrying an unpaired last node
    up unchanged. That is what this function does, iteratively, in ``O(n)``
    time and ``O(n)`` temporary memory.

    Raises ``ValueError`` if any element is not a 32-byte hash.
    """
    for h in leaf_hashes:
        _check_hash(h, "leaf hash")
    if not leaf_hashes:
        return EMPTY_ROOT
    copy = _NODE_CTX.copy
    level: list[bytes] = list(leaf_hashes)
    while len(level) > 1:
        nxt: list[bytes] = []
        append = nxt.append
        paired = len(level) & ~1
        for i in range(0, paired, 2):
            ctx = copy()
            ctx.update(level[i])
            ctx.update(level[i + 1])
            append(ctx.digest())
        if paired != len(level):
            append(level[-1])
        level = nxt
    return level[0]


class TreeBuilder:
    """Streaming Merkle tree root computation (a "compact range" from 0 to ``size``).

    The tree of ``n`` leaves decomposes into complete subtrees whose sizes are
    the set bits of ``n``, largest (leftmost) first; RFC 9162 §2.1.1's split at
    the largest power of two ``k < n`` always peels off exactly the first one.
    The builder keeps the roots of those subtrees on a stack.

    Appending a leaf pushes it as a subtree of size 1 and then merges equal
    sized neighbours, once for every trailing 1-bit of the old size (like a
    binary counter increment). That costs one node hash per leaf amortised.

    :meth:`root` folds the stack from right to left, ``O(log n)`` hashes, and
    does not modify the builder, so it can be called at any number of
    intermediate sizes (e.g. to check every published checkpoint while
    streaming a log once).
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @classmethod
    def from_compact_range(cls, size: int, hashes: bytes) -> Self:
        """Resume from :meth:`compact_range` output, e.g. as stored with a checkpoint."""
        count = bin(size).count("1")
        if size < 0 or len(hashes) != count * HASH_SIZE:
            raise ValueError(f"a compact range of size {size} holds {count} hashes")
        builder = cls()
        builder._stack = [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
        builder._size = size
        return builder

    def compact_range(self) -> bytes:
        """The roots of the complete subtrees covering [0, size), concatenated, left first."""
        return b"".join(self._stack)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (``leaf_hash(input)``, 32 bytes)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        stack = self._stack
        n = self._size
        h = leaf_hash
        # Each trailing 1-bit of the old size is a complete subtree of the same
        # size as the one being carried, immediately to its left: merge them.
        while n & 1:
            ctx = _NODE_CTX.copy()
            ctx.update(stack.pop())
            ctx.update(h)
            h = ctx.digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every leaf hash of ``leaf_hashes`` in order.

        Equivalent to calling :meth:`append` in a loop, with the per-leaf
        attribute look-ups hoisted out of the loop.
        """
        stack = self._stack
        push = stack.append
        pop = stack.pop
        copy = _NODE_CTX.copy
        size = self._size
        try:
            for h in leaf_hashes:
                if len(h) != HASH_SIZE:
                    raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(h)}")
                n = size
                while n & 1:
                    ctx = copy()
                    ctx.update(pop())
                    ctx.update(h)
                    h = ctx.digest()
                    n >>= 1
                push(h)
                size += 1
        finally:
            # Keep size consistent with the stack even if the iterable raises.
            self._size = size

    def copy(self) -> TreeBuilder:
        """An independent builder at the same size (the hashes are immutable, so shared)."""
        builder = TreeBuilder()
        builder._stack = list(self._stack)
        builder._size = self._size
        return builder

    def append_subtree(self, subtree_hash: bytes, height: int) -> None:
        """Append the root of a complete subtree of ``2**height`` leaves, as if its leaves
        were appended one by one. The size must be a multiple of ``2**height`` (the subtree
        is aligned in the tree), which holds for each subtree of a range's cover appended
        in order: how verification joins ranges of leaves hashed by separate processes."""
        _check_hash(subtree_hash, "subtree hash")
        width = 1 << height
        if self._size % width:
            raise ValueError(f"a subtree of {width} leaves cannot start at leaf {self._size}")
        stack = self._stack
        n = self._size >> height
        h = subtree_hash
        while n & 1:  # the same binary-counter merge as append(), one level up per step
            ctx = _NODE_CTX.copy()
            ctx.update(stack.pop())
            ctx.update(h)
            h = ctx.digest()
            n >>= 1
        stack.append(h)
        self._size += width

    def root(self) -> bytes:
        """Return the Merkle Tree Hash of the leaves appended so far.

        ``EMPTY_ROOT`` for an empty tree. ``O(log n)``; does not mutate state.
        """
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        copy = _NODE_CTX.copy
        h = stack[-1]
        for i in range(len(stack) - 2, -1, -1):
            ctx = copy()
            ctx.update(stack[i])
            ctx.update(h)
            h = ctx.digest()
        return h

    def __repr__(self) -> str:
        return f"TreeBuilder(size={self._size})"
