"""Tests for governance.audit.merkle (RFC 9162 §2.1.1 Merkle Tree Hash)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.audit.merkle import EMPTY_ROOT, HASH_SIZE, TreeBuilder, leaf_hash, node_hash, root

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"  # published vectors, see vectors/README.md
TREE_VECTORS = VECTORS_DIR / "rfc9162-tree.json"


def _load_tree_vectors() -> dict[str, Any]:
    # Deliberately fail (not skip) if the published vectors are missing.
    assert TREE_VECTORS.is_file(), f"missing test vectors: {TREE_VECTORS}"
    data: dict[str, Any] = json.loads(TREE_VECTORS.read_text(encoding="utf-8"))
    return data


def _reference_mth(leaf_hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, transcribed literally (recursive split at largest power of two < n)."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _reference_mth(leaf_hashes[:k]) + _reference_mth(leaf_hashes[k:])).digest()


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]


# ----------------------------------------------------------------- published vectors


def test_vectors_shape() -> None:
    data = _load_tree_vectors()
    assert len(data["roots_hex"]) == len(data["leaves_hex"]) + 1


def test_root_matches_published_vectors_at_every_size() -> None:
    data = _load_tree_vectors()
    hashes = [leaf_hash(bytes.fromhex(x)) for x in data["leaves_hex"]]
    for n, expected in enumerate(data["roots_hex"]):
        assert root(hashes[:n]).hex() == expected, f"size {n}"


def test_tree_builder_matches_published_vectors_at_every_size() -> None:
    data = _load_tree_vectors()
    hashes = [leaf_hash(bytes.fromhex(x)) for x in data["leaves_hex"]]
    builder = TreeBuilder()
    assert builder.size == 0
    assert builder.root().hex() == data["roots_hex"][0]
    for n, h in enumerate(hashes, start=1):
        builder.append(h)
        assert builder.size == n
        assert builder.root().hex() == data["roots_hex"][n], f"size {n}"


def test_reference_mth_matches_published_vectors() -> None:
    # Guards the test-local reference used below.
    data = _load_tree_vectors()
    hashes = [leaf_hash(bytes.fromhex(x)) for x in data["leaves_hex"]]
    for n, expected in enumerate(data["roots_hex"]):
        assert _reference_mth(hashes[:n]).hex() == expected


# ----------------------------------------------------------------- primitives


def test_primitives() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    # Domain separation: a leaf whose input is two hashes differs from the node over them.
    assert leaf_hash(a + b) != node_hash(a, b)
    assert root([a]) == a
    assert root([a, b]) == node_hash(a, b)
    assert root([]) == EMPTY_ROOT


def test_root_matches_reference_for_small_sizes() -> None:
    hashes = _leaves(70)
    for n in range(len(hashes) + 1):
        assert root(hashes[:n]) == _reference_mth(hashes[:n]), f"size {n}"


def test_root_accepts_any_sequence() -> None:
    hashes = _leaves(11)
    assert root(tuple(hashes)) == root(hashes)


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31, b"\x00" * 33])
def test_wrong_hash_length_rejected(bad: bytes) -> None:
    with pytest.raises(ValueError):
        root([bad])
    with pytest.raises(ValueError):
        root([*_leaves(3), bad])
    builder = TreeBuilder()
    with pytest.raises(ValueError):
        builder.append(bad)
    assert builder.size == 0
    with pytest.raises(ValueError):
        builder.extend([*_leaves(3), bad])
    assert builder.size == 3
    assert builder.root() == root(_leaves(3))


# ----------------------------------------------------------------- TreeBuilder


def test_root_does_not_mutate_builder() -> None:
    hashes = _leaves(13)
    builder = TreeBuilder()
    for i, h in enumerate(hashes, start=1):
        builder.append(h)
        first = builder.root()
        assert builder.root() == first
        assert builder.size == i
        assert first == root(hashes[:i])


def test_extend_equals_append() -> None:
    hashes = _leaves(100)
    a = TreeBuilder()
    for h in hashes:
        a.append(h)
    b = TreeBuilder()
    b.extend(hashes[:37])
    b.extend(iter(hashes[37:]))
    assert a.size == b.size == 100
    assert a.root() == b.root() == root(hashes)


def test_stack_stays_logarithmic() -> None:
    builder = TreeBuilder()
    builder.extend(_leaves(1023))
    assert len(builder._stack) == 10  # one subtree per set bit of 1023
    builder.append(leaf_hash(b"x"))
    assert len(builder._stack) == 1


def test_streaming_checkpoints() -> None:
    """One streaming pass checking the root at many sizes, including powers of two and their neighbours."""
    n = 5000
    hashes = _leaves(n)
    checkpoints = {1, 2, 3, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 4999, 5000}
    expected = {size: root(hashes[:size]) for size in checkpoints}
    builder = TreeBuilder()
    seen = 0
    for h in hashes:
        builder.append(h)
        if builder.size in expected:
            assert builder.root() == expected[builder.size]
            seen += 1
    assert seen == len(checkpoints)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE), max_size=300))
def test_builder_equals_root_at_every_prefix(hashes: list[bytes]) -> None:
    builder = TreeBuilder()
    assert builder.root() == root([])
    for n, h in enumerate(hashes, start=1):
        builder.append(h)
        assert builder.root() == root(hashes[:n])
    assert builder.size == len(hashes)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=16), max_size=40))
def test_root_equals_reference_for_random_leaf_inputs(inputs: list[bytes]) -> None:
    hashes = [leaf_hash(x) for x in inputs]
    assert root(hashes) == _reference_mth(hashes)


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=70), st.integers(min_value=0, max_value=70))
def test_resuming_from_a_compact_range_gives_the_same_roots(leaves: list[bytes], cut: int) -> None:
    cut = min(cut, len(leaves))
    first = TreeBuilder()
    first.extend(leaves[:cut])
    resumed = TreeBuilder.from_compact_range(cut, first.compact_range())
    resumed.extend(leaves[cut:])
    assert resumed.root() == root(leaves)
    assert resumed.size == len(leaves)


def test_a_compact_range_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="compact range"):
        TreeBuilder.from_compact_range(3, b"\x00" * 32)
