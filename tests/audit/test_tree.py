"""Proofs and tile paths from stored nodes (governance.audit.tree), against the published
transparency-dev vectors, an independent verifier, and the reference root."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.audit import merkle, tree

VECTORS = Path(__file__).resolve().parent / "vectors"
TRANSPARENCY_DEV = VECTORS / "transparency-dev"  # copied from transparency-dev/merkle: see vectors/README.md
RFC_LEAVES = [bytes.fromhex(h) for h in json.loads((VECTORS / "rfc9162-tree.json").read_text())["leaves_hex"]]


def _vectors(kind: str) -> list[tuple[str, dict[str, Any]]]:
    files = sorted((TRANSPARENCY_DEV / kind).glob("*/*.json"))
    assert len(files) > 80, f"missing the {kind} vectors"  # fail, never skip, without them
    return [(str(path.relative_to(TRANSPARENCY_DEV)), json.loads(path.read_text())) for path in files]


def _b64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(value) for value in values or []]


# RFC 9162 §2.1.3.2 and §2.1.4.2, transcribed step by step from the RFC's text, with
# hashlib only: an independent check of what governance.audit.tree serves.


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _sha256_sized(*hashes: bytes) -> bool:
    # Every value the algorithms combine is a SHA-256 output (RFC 9162 §2.1: HASH is SHA-256).
    return all(len(h) == 32 for h in hashes)


def rfc_verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, root: bytes, path: list[bytes]) -> bool:
    if not _sha256_sized(leaf, root, *path):
        return False
    if leaf_index >= tree_size:  # 1
        return False
    fn, sn = leaf_index, tree_size - 1  # 2
    r = leaf  # 3
    for p in path:  # 4
        if sn == 0:  # 4a
            return False
        if fn & 1 or fn == sn:  # 4b
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    return sn == 0 and r == root  # 5


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]) -> bool:
    if first < 1 or first > second:  # §2.1.4.2 starts from "0 < first <= second"
        return False
    if first == second:  # §2.1.4.1: the proof between equal trees is empty; the roots are equal
        return not path and first_hash == second_hash
    if not _sha256_sized(first_hash, second_hash, *path):
        return False
    if not path:  # 1
        return False
    path = list(path)
    if first & (first - 1) == 0:  # 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # 3
    while fn & 1:  # 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        if sn == 0:  # 6a
            return False
        if fn & 1 or fn == sn:  # 6b
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0  # 7


def _stored(leaf_hashes: list[bytes]) -> dict[int, bytes]:
    """Every node the integration would store for these leaves, by key."""
    return dict(tree.NodeBuilder().extend_nodes(leaf_hashes))


def _range_hash(nodes: dict[int, bytes], span: tuple[int, int]) -> bytes:
    return tree.fold([nodes[tree.node_id(level, index)] for level, index in tree.cover(*span)])


def _inclusion(nodes: dict[int, bytes], index: int, size: int) -> list[bytes]:
    return [_range_hash(nodes, span) for span in tree.inclusion_ranges(index, size)]


def _consistency(nodes: dict[int, bytes], old: int, new: int) -> list[bytes]:
    return [_range_hash(nodes, span) for span in tree.consistency_ranges(old, new)]


@pytest.mark.parametrize(("name", "vector"), _vectors("inclusion"))
def test_inclusion_vectors(name: str, vector: dict[str, Any]) -> None:
    """The independent verifier agrees with every published vector; on the happy paths the
    proof built from stored nodes is exactly the published one."""
    leaf, root = base64.b64decode(vector["leafHash"] or ""), base64.b64decode(vector["root"] or "")
    proof = _b64(vector["proof"])
    ok = rfc_verify_inclusion(vector["leafIdx"], vector["treeSize"], leaf, root, proof)
    assert ok is not vector["wantErr"], name
    hashes = [merkle.leaf_hash(x) for x in RFC_LEAVES]
    if (
        not vector["wantErr"]
        and vector["treeSize"] <= len(hashes)
        and merkle.root(hashes[: vector["treeSize"]]) == root
    ):
        nodes = _stored(hashes)
        assert nodes[vector["leafIdx"]] == leaf
        assert _inclusion(nodes, vector["leafIdx"], vector["treeSize"]) == proof


@pytest.mark.parametrize(("name", "vector"), _vectors("consistency"))
def test_consistency_vectors(name: str, vector: dict[str, Any]) -> None:
    root1, root2 = base64.b64decode(vector["root1"] or ""), base64.b64decode(vector["root2"] or "")
    proof = _b64(vector["proof"])
    for verify in (rfc_verify_consistency, tree.verify_consistency):
        assert verify(vector["size1"], vector["size2"], root1, root2, proof) is not vector["wantErr"], name
    hashes = [merkle.leaf_hash(x) for x in RFC_LEAVES]
    if not vector["wantErr"] and vector["size2"] <= len(hashes) and merkle.root(hashes[: vector["size2"]]) == root2:
        nodes = _stored(hashes)
        assert _consistency(nodes, vector["size1"], vector["size2"]) == proof


@settings(max_examples=150, deadline=None)
@given(st.data(), st.lists(st.binary(max_size=8), min_size=1, max_size=140))
def test_proofs_from_stored_nodes_verify_against_the_reference_root(data: st.DataObject, leaves: list[bytes]) -> None:
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    nodes = _stored(hashes)
    size = data.draw(st.integers(1, len(hashes)), label="tree_size")
    old = data.draw(st.integers(1, size), label="from")
    index = data.draw(st.integers(0, size - 1), label="index")
    root, old_root = merkle.root(hashes[:size]), merkle.root(hashes[:old])
    assert tree.fold([nodes[tree.node_id(*node)] for node in tree.cover(0, size)]) == root
    assert rfc_verify_inclusion(index, size, hashes[index], root, _inclusion(nodes, index, size))
    proof = _consistency(nodes, old, size)
    assert rfc_verify_consistency(old, size, old_root, root, proof)
    assert tree.verify_consistency(old, size, old_root, root, proof)
    if proof:  # any change to one hash breaks it
        broken = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not rfc_verify_consistency(old, size, old_root, root, broken)
        assert not tree.verify_consistency(old, size, old_root, root, broken)


def test_a_proof_reads_logarithmically_many_nodes() -> None:
    """Every incomplete range of a proof ends at the tree's right edge, so the distinct nodes
    read stay within twice the tree's height, at any size."""
    for size in (2**20 - 1, 2**20 + 1, 1_000_000, 999_999_937):
        for index in (0, size // 3, size - 1):
            nodes = {node for span in tree.inclusion_ranges(index, size) for node in tree.cover(*span)}
            assert len(nodes) <= 2 * size.bit_length()
        for old in (1, size // 2 + 1, size - 1):
            nodes = {node for span in tree.consistency_ranges(old, size) for node in tree.cover(*span)}
            assert len(nodes) <= 2 * size.bit_length()


def test_every_complete_subtree_is_stored_once() -> None:
    stored = tree.NodeBuilder().extend_nodes([merkle.leaf_hash(bytes([i])) for i in range(13)])
    keys = [key for key, _ in stored]
    assert len(keys) == len(set(keys))
    expected = {tree.node_id(level, index) for level in range(4) for index in range(13 >> level)}
    assert set(keys) == expected


def test_resuming_from_a_compact_range_stores_the_same_nodes() -> None:
    hashes = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    whole = tree.NodeBuilder().extend_nodes(hashes)
    first = tree.NodeBuilder()
    part = first.extend_nodes(hashes[:21])
    resumed = tree.NodeBuilder.from_compact_range(21, first.compact_range())
    assert part + resumed.extend_nodes(hashes[21:]) == whole


@pytest.mark.parametrize(
    ("index", "path"),
    [(1234067, "x001/x234/067"), (0, "000"), (1, "001"), (999, "999"), (1000, "x001/000"), (256, "256")],
)
def test_tile_index_paths_follow_the_spec(index: int, path: str) -> None:
    assert tree.tile_path(index) == path
    assert tree.parse_tile_index(path) == index


@pytest.mark.parametrize("path", ["x000/001", "1", "0001", "x001", "x001/", "001/x234", "x01/001", "-001", "0x1", ""])
def test_other_spellings_of_a_tile_index_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="tile index"):
        tree.parse_tile_index(path)


def test_node_keys_refuse_what_the_tree_cannot_hold() -> None:
    assert tree.node_id(3, 5) == 3 << 56 | 5
    with pytest.raises(ValueError):
        tree.node_id(0, tree.MAX_SIZE)
    with pytest.raises(ValueError):
        tree.cover(4, 4)
    with pytest.raises(ValueError):
        tree.inclusion_ranges(5, 5)
    with pytest.raises(ValueError):
        tree.consistency_ranges(6, 5)
