"""Where every hash of the Merkle tree sits, so that proofs and tiles are read, never rebuilt.

A *node* is the hash of a complete subtree: level ``L``, index ``N`` covers the leaves
``[N * 2**L, (N + 1) * 2**L)`` (level 0 holds the leaf hashes). Each node is stored once,
under the key :func:`node_id`, as soon as the last of its leaves is integrated, and never
changes after, because the tree only grows on the right.

Any other tree hash (the root of a tree whose size is not a power of two, or the right
part of one) is the fold of the few complete subtrees that cover its range
(:func:`cover`): RFC 9162 §2.1.1 splits a range at the largest power of two, which always
peels off exactly the largest aligned complete subtree. So an inclusion or consistency
proof of RFC 9162 §2.1.3/§2.1.4 is a list of ranges (:func:`inclusion_ranges`,
:func:`consistency_ranges`) whose nodes are read in one query: ``O(log n)`` of them,
because every incomplete range of a proof ends at the tree's right edge and so folds
nodes of the tree size's own cover.

Also here, the tile paths of c2sp.org/tlog-tiles (:func:`tile_path`, :func:`parse_tile_index`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from governance.audit import merkle

__all__ = [
    "LEVEL_SHIFT",
    "MAX_SIZE",
    "NodeBuilder",
    "consistency_ranges",
    "cover",
    "fold",
    "inclusion_ranges",
    "node_id",
    "parse_tile_index",
    "tile_path",
]

#: A node's key is ``level << LEVEL_SHIFT | index``: one 64-bit integer, and the nodes of
#: one level are contiguous (a tile is one range scan).
LEVEL_SHIFT: Final = 56
#: The largest tree this keying can hold (2**56 entries: far beyond any audit log).
MAX_SIZE: Final = 1 << LEVEL_SHIFT

Range = tuple[int, int]


def node_id(level: int, index: int) -> int:
    """The stored key of the node at ``level``, ``index``."""
    if not 0 <= index < MAX_SIZE >> level:
        raise ValueError(f"no node {index} at level {level}")
    return level << LEVEL_SHIFT | index


def _largest_power_below(n: int) -> int:
    """RFC 9162's ``k``: the largest power of two smaller than ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def cover(start: int, end: int) -> list[tuple[int, int]]:
    """The (level, index) of the complete subtrees covering ``[start, end)``, left first.

    Each is the largest aligned power of two that fits, as RFC 9162's split makes them;
    folding their hashes from the right (:func:`fold`) gives ``MTH(D[start:end])``.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    nodes = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        while start % size:
            size >>= 1
        level = size.bit_length() - 1
        nodes.append((level, start >> level))
        start += size
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a range from the hashes of its :func:`cover`, folded right to left."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = merkle.node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes make the inclusion proof of leaf ``index`` in a tree of
    ``size`` leaves, leaf side first (RFC 9162 §2.1.3.1, PATH(m, D[n]))."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[Range] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _largest_power_below(hi - lo)
        if m < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m = lo + k, m - k
    ranges.reverse()  # the recursion appends on the way out: the deepest sibling comes first
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The ranges whose hashes prove that the tree of ``old`` leaves is a prefix of the
    tree of ``new`` (RFC 9162 §2.1.4.1, PROOF(m, D[n])); empty when ``old`` is 0 or ``new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    ranges: list[Range] = []
    lo, hi, m, whole = 0, new, old, True
    # SUBPROOF(m, D[lo:hi], whole), iteratively; each step appends what the recursion
    # would append after its inner call, so the list is reversed at the end.
    while m != hi - lo:
        k = _largest_power_below(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


class NodeBuilder(merkle.TreeBuilder):
    """A :class:`~governance.audit.merkle.TreeBuilder` that also reports every node it
    completes, as ``(node_id, hash)``: the leaf itself and each merge it causes."""

    __slots__ = ()

    def extend_nodes(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, bytes]]:
        completed: list[tuple[int, bytes]] = []
        stack, size = self._stack, self._size
        for leaf in leaf_hashes:
            if len(leaf) != merkle.HASH_SIZE:
                raise ValueError(f"leaf hash must be {merkle.HASH_SIZE} bytes, got {len(leaf)}")
            completed.append((size, leaf))  # level 0: the key is the index
            h, n, level, index = leaf, size, 0, size
            while n & 1:
                h = merkle.node_hash(stack.pop(), h)
                n >>= 1
                level += 1
                index >>= 1
                completed.append((level << LEVEL_SHIFT | index, h))
            stack.append(h)
            size += 1
            self._size = size
        return completed


# c2sp.org/tlog-tiles: "index 1234067 will be encoded as x001/x234/067".
_GROUP: Final = re.compile(r"(x[0-9]{3}/)*[0-9]{3}")


def tile_path(index: int) -> str:
    """The tile index ``index`` as tlog-tiles path elements: ``x001/x234/067``."""
    if index < 0:
        raise ValueError("a tile index is not negative")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*("x" + group for group in groups[:-1]), groups[-1]])


def parse_tile_index(path: str) -> int:
    """The tile index a tlog-tiles path spells; ValueError unless it is the one spelling of it."""
    if not _GROUP.fullmatch(path) or len(path) > 4 * 7:
        raise ValueError(f"{path!r} is not a tile index (like x001/x234/067)")
    index = int(path.replace("x", "").replace("/", ""))
    if tile_path(index) != path:  # "x000/001" spells 1 too: only the shortest is canonical
        raise ValueError(f"{path!r} is not the canonical spelling of tile index {index}")
    return index


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: whether ``proof`` shows the tree ``old_root`` of ``old`` leaves to be
    a prefix of the tree ``new_root`` of ``new`` leaves. Like the transparency-dev verifier,
    refuses ``old`` = 0: every tree extends the empty one, so there is nothing to prove."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if any(len(h) != merkle.HASH_SIZE for h in (old_root, new_root, *proof)):
        return False
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = merkle.node_hash(c, fr)
            sr = merkle.node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = merkle.node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
