"""Stored tree nodes, the proof routes and the tlog-tiles routes, as an auditor's client uses them."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from governance.audit import merkle, note, service, tree, tree_store
from governance.audit.leaf import stored_leaf_input
from governance.core import db
from governance.core.identity import Identity
from governance.settings import Settings

from ..conftest import AuthHeaders
from .tampering import everything_unlocked, restored_afterwards, sql
from .test_tree import rfc_verify_consistency, rfc_verify_inclusion

OFFICER = Identity(sub="officer-proofs", roles=("compliance_officer",))
REFUSED_ROLES = ("mentee", "mentor", "support_agent", "platform", "admin")


async def _record(count: int) -> None:
    await asyncio.gather(
        *(
            service.record_event(actor=OFFICER, action="test.proofs", resource_type="thing", details={"i": i})
            for i in range(count)
        )
    )


async def _leaf_hashes(size: int) -> list[bytes]:
    rows = await sql("SELECT leaf_hash FROM audit_entry WHERE seq < {} ORDER BY seq", size)
    return [bytes(row["leaf_hash"]) for row in rows]


async def _stored_nodes() -> dict[int, bytes]:
    return {int(row["node_id"]): bytes(row["hash"]) for row in await sql("SELECT node_id, hash FROM audit_tree_node")}


def _b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(value) for value in values]


# --- stored nodes ----------------------------------------------------------------------


async def test_signing_stores_every_complete_subtree_and_nothing_else(database: Settings) -> None:
    log_key = service.load_log_key(database)
    await _record(5)
    checkpoint = await service.sign_checkpoint(log_key)
    size = checkpoint.tree_size
    assert await tree_store.integrated_size() == size
    expected = dict(tree.NodeBuilder().extend_nodes(await _leaf_hashes(size)))
    assert await _stored_nodes() == expected
    assert await tree_store.root(size) == checkpoint.root_hash == merkle.root(await _leaf_hashes(size))


async def test_an_existing_log_gets_its_nodes_at_the_first_checkpoint(
    database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log from before the nodes existed (no node rows) is integrated from its first entry,
    in batches, by the next checkpoint; and an integration cut short resumes where it stopped."""
    log_key = service.load_log_key(database)
    await _record(max(0, 30 - await service.tree_size()) + 1)
    await service.sign_checkpoint(log_key)
    before = await _stored_nodes()
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_tree_node")
        assert await tree_store.integrated_size() == 0
        monkeypatch.setattr(tree_store, "BATCH", 7)
        calls = 0
        store = tree_store._store

        async def crash_on_the_third_batch(nodes: list[tuple[int, bytes]]) -> None:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise ConnectionError("the process died here")
            await store(nodes)

        monkeypatch.setattr(tree_store, "_store", crash_on_the_third_batch)
        with pytest.raises(ConnectionError):
            await service.sign_checkpoint(log_key)
        assert await tree_store.integrated_size() == 14  # two whole batches, nothing half-written
        monkeypatch.setattr(tree_store, "_store", store)
        await _record(2)
        signed = await service.sign_checkpoint(log_key)
        nodes = await _stored_nodes()
        assert nodes == dict(tree.NodeBuilder().extend_nodes(await _leaf_hashes(signed.tree_size)))
        assert before.items() <= nodes.items()
        assert (await service.verify(log_key)).ok


@pytest.mark.parametrize("statement", ["UPDATE audit_tree_node SET hash = {}", "DELETE FROM audit_tree_node"])
async def test_the_database_refuses_to_rewrite_tree_nodes(database: Settings, statement: str) -> None:
    await _record(1)
    await service.sign_checkpoint(service.load_log_key(database))
    args = [b"\0" * 32] if "{}" in statement else []
    with pytest.raises(Exception, match="append-only"):
        async with db.transaction():
            await sql(statement, *args)


# --- proofs ------------------------------------------------------------------------------


async def test_every_inclusion_and_consistency_proof_verifies_against_signed_roots(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings
) -> None:
    log_key = service.load_log_key(settings)
    await _record(3)
    first = await service.sign_checkpoint(log_key)
    await _record(19)
    latest = await service.sign_checkpoint(log_key)
    leaves = await _leaf_hashes(latest.tree_size)
    headers = auth("auditor")
    sizes = sorted({1, 2, first.tree_size, latest.tree_size - 7, latest.tree_size})
    for size in sizes:
        root = merkle.root(leaves[:size])
        for index in sorted({0, size // 2, size - 1}):
            answer = await client.get(
                "/api/v1/audit/proofs/inclusion", params={"index": index, "tree_size": size}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert (body["index"], body["tree_size"]) == (index, size)
            assert base64.b64decode(body["leaf_hash"]) == leaves[index]
            assert rfc_verify_inclusion(index, size, leaves[index], root, _b64(body["hashes"]))
        for old in sorted({1, first.tree_size, size}):
            if old > size:
                continue
            answer = await client.get(
                "/api/v1/audit/proofs/consistency", params={"from": old, "to": size}, headers=auth("compliance_officer")
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert (body["from"], body["to"]) == (old, size)
            assert rfc_verify_consistency(old, size, merkle.root(leaves[:old]), root, _b64(body["hashes"]))
    signed = note.verify_checkpoint(first.note, log_key.verifier_key)
    proof = await client.get(
        "/api/v1/audit/proofs/consistency", params={"from": signed.size, "to": latest.tree_size}, headers=headers
    )
    assert rfc_verify_consistency(
        signed.size, latest.tree_size, signed.root, latest.root_hash, _b64(proof.json()["hashes"])
    )


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("inclusion", {"index": 0}, "tree_size"),
        ("inclusion", {"tree_size": 1}, "index"),
        ("inclusion", {"index": 5, "tree_size": 5}, "index"),
        ("inclusion", {"index": 0, "tree_size": 0}, "tree_size"),
        ("inclusion", {"index": -1, "tree_size": 1}, "index"),
        ("inclusion", {"index": 0, "tree_size": 2**62}, "tree_size"),
        ("inclusion", {"index": 0, "tree_size": 2**64}, "tree_size"),
        ("inclusion", {"index": "one", "tree_size": 1}, "index"),
        ("inclusion", {"index": "0\x00", "tree_size": 1}, None),
        ("inclusion", {"index": "9" * 5000, "tree_size": 1}, None),
        ("consistency", {"from": 1}, "to"),
        ("consistency", {"from": 0, "to": 1}, "from"),
        ("consistency", {"from": 3, "to": 2}, "from"),
        ("consistency", {"from": "１", "to": 2}, "from"),
        ("consistency", {"from": "1\x00", "to": 2}, None),
        ("consistency", {"from": "1", "to": "9" * 21}, "to"),
        ("consistency", {"from": 1, "to": 2**62}, "to"),
    ],
)
async def test_bad_proof_parameters_are_a_400_naming_the_parameter(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings, path: str, params: dict[str, Any], field: str
) -> None:
    await _record(3)
    await service.sign_checkpoint(service.load_log_key(settings))
    answer = await client.get(f"/api/v1/audit/proofs/{path}", params=params, headers=auth("auditor"))
    assert answer.status_code in {400, 414, 422}, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    if field is not None and answer.status_code == 400:
        assert field in answer.text


@pytest.mark.parametrize("role", REFUSED_ROLES)
async def test_only_auditors_and_compliance_officers_get_proofs(
    client: httpx.AsyncClient, auth: AuthHeaders, role: str
) -> None:
    for url in (
        "/api/v1/audit/proofs/inclusion?index=0&tree_size=1",
        "/api/v1/audit/proofs/consistency?from=1&to=1",
        "/api/v1/audit/entries/0/proof",
        "/tlog/tile/entries/000.p/1",
    ):
        assert (await client.get(url, headers=auth(role))).status_code == 403, url
        assert (await client.get(url)).status_code == 401, url


def _parse_tlog_proof(text: str) -> tuple[int, list[bytes], str]:
    """c2sp.org/tlog-proof@v1, as the spec describes it: header, `index N`, hashes, a blank
    line, the checkpoint verbatim."""
    head, _, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1].startswith("index ")
    index = lines[1].removeprefix("index ")
    assert index == str(int(index))
    return int(index), [base64.b64decode(line, validate=True) for line in lines[2:]], checkpoint


async def test_an_entry_proof_file_verifies_offline(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings
) -> None:
    log_key = service.load_log_key(settings)
    await _record(4)
    await service.sign_checkpoint(log_key)
    await _record(1)  # not covered by any checkpoint yet: one is signed for it
    seq = await service.tree_size() - 1
    entry = (await client.get(f"/api/v1/audit/entries/{seq}", headers=auth("auditor"))).json()
    answer = await client.get(f"/api/v1/audit/entries/{seq}/proof", headers=auth("auditor"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == f'attachment; filename="audit-entry-{seq}.tlog-proof"'
    index, hashes, checkpoint = _parse_tlog_proof(answer.text)
    assert index == seq
    signed = note.verify_checkpoint(checkpoint, log_key.verifier_key, expected_origin=settings.log_origin)
    assert rfc_verify_inclusion(seq, signed.size, bytes.fromhex(entry["leaf_hash"]), signed.root, hashes)
    older = await client.get("/api/v1/audit/entries/0/proof", headers=auth("compliance_officer"))
    index, hashes, checkpoint = _parse_tlog_proof(older.text)
    signed = note.verify_checkpoint(checkpoint, log_key.verifier_key)
    assert rfc_verify_inclusion(0, signed.size, (await _leaf_hashes(1))[0], signed.root, hashes)
    missing = await client.get(f"/api/v1/audit/entries/{2**62}/proof", headers=auth("auditor"))
    assert missing.status_code == 404


# --- tiles -------------------------------------------------------------------------------


async def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> bytes:
    answer = await client.get(path, headers=headers or {})
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"
    assert answer.headers["content-type"] == "application/octet-stream"
    return answer.content


def _tile_url(level: int | str, index: int, width: int) -> str:
    suffix = "" if width == 256 else f".p/{width}"
    return f"/tlog/tile/{level}/{tree.tile_path(index)}{suffix}"


async def test_a_tlog_tiles_client_recomputes_the_checkpoint_root(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings
) -> None:
    """A client written from c2sp.org/tlog-tiles: it reads the checkpoint, verifies it, fetches
    the level 0 tiles (full and partial) and the entry bundles the size calls for, hashes the
    entries into the tile hashes, checks the level 1 tile against the full level 0 tiles, and
    recomputes the root."""
    log_key = service.load_log_key(settings)
    size = await service.tree_size()
    await _record(max(0, 530 - size) + 3)
    await service.sign_checkpoint(log_key)

    checkpoint = await client.get("/tlog/checkpoint")
    assert checkpoint.status_code == 200
    assert checkpoint.headers["content-type"] == "text/plain; charset=utf-8"
    signed = note.verify_checkpoint(checkpoint.text, log_key.verifier_key, expected_origin=settings.log_origin)
    size = signed.size
    assert size > 512

    leaf_hashes: list[bytes] = []
    full_tiles = size // 256
    for index in range(full_tiles + 1):
        width = 256 if index < full_tiles else size % 256
        if width == 0:
            break
        tile = await _get(client, _tile_url(0, index, width))  # public: no token
        assert len(tile) == 32 * width
        hashes = [tile[i : i + 32] for i in range(0, len(tile), 32)]
        bundle = await _get(client, _tile_url("entries", index, width), auth("auditor"))
        entries = []
        while bundle:
            length = int.from_bytes(bundle[:2], "big")
            entries.append(bundle[2 : 2 + length])
            bundle = bundle[2 + length :]
        assert [merkle.leaf_hash(entry) for entry in entries] == hashes
        leaf_hashes += hashes
    level1 = await _get(client, _tile_url(1, 0, full_tiles))
    for index in range(full_tiles):
        assert level1[32 * index : 32 * (index + 1)] == merkle.root(leaf_hashes[256 * index : 256 * (index + 1)])
    assert merkle.root(leaf_hashes) == signed.root

    # The entries are the exact leaf inputs the log hashed.
    [first] = await sql("SELECT * FROM audit_entry WHERE seq = 0")
    bundle = await _get(client, _tile_url("entries", 0, 256), auth("compliance_officer"))
    assert bundle[2 : 2 + int.from_bytes(bundle[:2], "big")] == stored_leaf_input(first)


async def test_full_tiles_are_immutable_and_partial_ones_short_lived(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings
) -> None:
    log_key = service.load_log_key(settings)
    size = await service.tree_size()
    await _record(max(0, 260 - size) + 1)
    checkpoint = await service.sign_checkpoint(log_key)
    full = await client.get("/tlog/tile/0/000")
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    width = checkpoint.tree_size % 256 or 1
    partial = await client.get(f"/tlog/tile/0/{tree.tile_path(checkpoint.tree_size // 256)}.p/{width}")
    assert partial.status_code == 200
    assert "immutable" not in partial.headers["cache-control"]
    bundle = await client.get("/tlog/tile/entries/000", headers=auth("auditor"))
    assert bundle.status_code == 200
    assert bundle.headers["cache-control"] == "no-store"  # entries are personal evidence: never cached
    level = await client.get(f"/tlog/tile/0/{tree.tile_path(checkpoint.tree_size // 256)}")
    assert level.status_code == 404, "a full tile the checkpoint does not cover is not served"


@pytest.mark.parametrize(
    "path",
    [
        "/tlog/tile/0/x000/001",
        "/tlog/tile/0/0000",
        "/tlog/tile/0/000.p/0",
        "/tlog/tile/0/000.p/256",
        "/tlog/tile/0/000.p/01",
        "/tlog/tile/0/000.p/",
        "/tlog/tile/64/000",
        "/tlog/tile/-1/000",
        "/tlog/tile/0/x999/x999/x999/x999/x999/x999/999",
        "/tlog/tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        "/tlog/tile/7/000",
        "/tlog/tile/0/abc",
        "/tlog/tile/entries/x000/001",
        "/tlog/tile/entries/999999",
    ],
)
async def test_tiles_that_do_not_exist_are_a_404(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings, path: str
) -> None:
    await _record(1)
    await service.sign_checkpoint(service.load_log_key(settings))
    answer = await client.get(path, headers=auth("auditor"))
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
