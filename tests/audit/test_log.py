"""The audit log: transactional recording, dense sequences, append-only tables, tamper evidence."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import merkle, note, sequencer, service
from governance.audit.leaf import stored_leaf_input
from governance.audit.tables import AuditCheckpoint, AuditEntry
from governance.audit.verification import VerificationPass
from governance.core import db, schedule
from governance.core.identity import Identity
from governance.core.tables import SubjectKey
from governance.settings import Settings

from ..conftest import AuthHeaders
from .tampering import put_back, row, sql, triggers_disabled

OFFICER = Identity(sub="officer-1", roles=("compliance_officer",))


@dataclass(frozen=True)
class _Numbered:
    seq: int
    leaf_hash: bytes


async def _queue(n: int = 1, **overrides: Any) -> list[service.Queued]:
    fields: dict[str, Any] = {
        "actor": OFFICER,
        "action": "test.event",
        "resource_type": "thing",
        "resource_id": "t-1",
        "details": {"n": 1},
    }
    fields.update(overrides)
    # Inside a test's transaction the entries stand for a change; outside, for events.
    record = service.record_change if db.in_transaction() else service.record_event
    return [await record(**fields) for _ in range(n)]


async def _record(n: int = 1, **overrides: Any) -> list[_Numbered]:
    """Events recorded, then numbered by the sequencer (as a running service does shortly after)."""
    numbered = []
    for entry in await _queue(n, **overrides):
        seq = await service.sequenced(entry)
        view = await service.get_entry(seq)
        assert view is not None
        numbered.append(_Numbered(seq, bytes.fromhex(view.leaf_hash)))
    return numbered


async def test_an_entry_commits_with_its_change(database: Settings) -> None:
    async with db.transaction():
        await SubjectKey.insert(SubjectKey(subject="kept-1", wrapped_key=b"k", master_key_id="m"))
        [queued] = await _queue(action="test.kept")
    assert await SubjectKey.exists().where(SubjectKey.subject == "kept-1")
    assert (await service.get_entry(await service.sequenced(queued))) is not None


async def test_rolling_back_the_change_removes_its_entry_and_its_sequence_number(database: Settings) -> None:
    before = await service.tree_size()
    with pytest.raises(RuntimeError, match="change failed"):
        async with db.transaction():
            await _queue(action="test.rolled_back")
            raise RuntimeError("change failed")
    assert await service.tree_size() == before
    assert not await AuditEntry.exists().where(AuditEntry.action == "test.rolled_back")
    [after] = await _record()
    assert after.seq == before, "no gap is left by a rolled-back entry"


async def test_the_entry_of_a_change_refuses_to_run_outside_a_transaction(database: Settings) -> None:
    before = await service.tree_size()
    with pytest.raises(service.OutsideTransaction, match="records a change"):
        await service.record_change(actor=OFFICER, action="test.forgot_transaction", resource_type="thing")
    assert await service.tree_size() == before, "no sequence number was taken"
    assert not await AuditEntry.exists().where(AuditEntry.action == "test.forgot_transaction")


async def test_a_standalone_event_refuses_to_join_a_transaction(database: Settings) -> None:
    before = await service.tree_size()
    with pytest.raises(service.OutsideTransaction, match="stands alone"):
        async with db.transaction():
            await SubjectKey.insert(SubjectKey(subject="event-in-tx-1", wrapped_key=b"k", master_key_id="m"))
            await service.record_event(actor=OFFICER, action="test.event_in_transaction", resource_type="thing")
    assert await service.tree_size() == before
    assert not await AuditEntry.exists().where(AuditEntry.action == "test.event_in_transaction")
    assert not await SubjectKey.exists().where(SubjectKey.subject == "event-in-tx-1")


async def test_a_failed_entry_cancels_the_change(database: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(sequencer, "enqueue", refuse)
    with pytest.raises(OSError, match="disk full"):
        async with db.transaction():
            await SubjectKey.insert(SubjectKey(subject="never-1", wrapped_key=b"k", master_key_id="m"))
            await _queue()
    assert not await SubjectKey.exists().where(SubjectKey.subject == "never-1")


async def test_details_that_are_not_plain_json_are_refused_before_anything_is_written(
    database: Settings,
) -> None:
    before = await service.tree_size()
    with pytest.raises(ValueError, match="plain JSON"):
        await _record(details={"when": object()})
    assert await service.tree_size() == before


async def test_concurrent_writers_get_a_gap_free_increasing_sequence(database: Settings) -> None:
    start = await service.tree_size()

    async def writer(index: int) -> list[int]:
        seqs = []
        for _ in range(5):
            [recorded] = await _record(resource_id=f"writer-{index}")
            seqs.append(recorded.seq)
        return seqs

    per_writer = await asyncio.gather(*(writer(i) for i in range(24)))
    seqs = sorted(s for batch in per_writer for s in batch)
    assert seqs == list(range(start, start + 24 * 5))
    for batch in per_writer:
        assert batch == sorted(batch), "each writer sees its own entries strictly increasing"
    stored = await sql("SELECT seq FROM audit_entry WHERE seq >= {} ORDER BY seq", start)
    assert [r["seq"] for r in stored] == seqs
    assert (await service.verify(service.load_log_key(database))).ok


async def test_concurrent_transactions_each_commit_their_change_with_a_dense_sequence(database: Settings) -> None:
    start = await service.tree_size()

    async def change(index: int) -> int:
        async with db.transaction():
            await SubjectKey.insert(
                SubjectKey(subject=f"tx-writer-{start}-{index}", wrapped_key=b"k", master_key_id="m")
            )
            [queued] = await _queue(action="test.tx_writer", resource_id=str(index))
        return await service.sequenced(queued)

    seqs = await asyncio.gather(*(change(i) for i in range(20)))
    assert sorted(seqs) == list(range(start, start + 20))
    assert await SubjectKey.count().where(SubjectKey.subject.like(f"tx-writer-{start}-%")) == 20


async def test_a_failed_group_commit_fails_every_caller_and_writes_nothing(
    database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await service.tree_size()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(sequencer, "enqueue", refuse)
    results = await asyncio.gather(*(_queue(action="test.lost") for _ in range(10)), return_exceptions=True)
    assert all(isinstance(result, OSError) for result in results)
    monkeypatch.undo()
    assert await service.tree_size() == before
    assert not await AuditEntry.exists().where(AuditEntry.action == "test.lost")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'rewritten' WHERE seq = 0",
        "DELETE FROM audit_entry WHERE seq = 0",
        "UPDATE audit_checkpoint SET note = 'forged'",
        "DELETE FROM audit_checkpoint",
    ],
)
async def test_the_database_refuses_to_rewrite_history(database: Settings, statement: str) -> None:
    await _record()
    await service.sign_checkpoint(service.load_log_key(database))
    with pytest.raises(Exception, match="append-only"):
        await sql(statement)
    assert (await service.verify(service.load_log_key(database))).ok


async def test_postgres_refuses_truncate(database: Settings) -> None:
    if db.is_sqlite():
        pytest.skip("SQLite has no TRUNCATE")
    for table in ("audit_entry", "audit_checkpoint"):
        with pytest.raises(Exception, match="append-only"):
            await sql(f"TRUNCATE {table}")


async def test_leaf_input_is_the_documented_canonical_json(database: Settings) -> None:
    [recorded] = await _record(details={"b": 2, "a": [1, "x"]})
    stored = await row(recorded.seq)
    raw = stored_leaf_input(stored)
    decoded = msgspec.json.decode(raw)
    assert list(decoded) == sorted(decoded)
    assert decoded["v"] == 1
    assert decoded["seq"] == recorded.seq
    assert decoded["details"] == {"a": [1, "x"], "b": 2}
    assert decoded["actor"] == {"roles": ["compliance_officer"], "sub": "officer-1"}
    assert b" " not in raw
    assert merkle.leaf_hash(raw) == recorded.leaf_hash == bytes(stored["leaf_hash"])


async def test_a_checkpoint_is_a_signed_note_over_the_whole_log(database: Settings) -> None:
    log_key = service.load_log_key(database)
    await _record(3)
    checkpoint = await service.sign_checkpoint(log_key)
    signed = note.verify_checkpoint(checkpoint.note, log_key.verifier_key)
    assert signed.origin == database.log_origin
    assert signed.size == await service.tree_size() == checkpoint.tree_size
    leaves = [bytes(r["leaf_hash"]) for r in await sql("SELECT leaf_hash FROM audit_entry ORDER BY seq")]
    assert signed.root == merkle.root(leaves)
    again = await service.sign_checkpoint(log_key)
    assert again.tree_size == checkpoint.tree_size, "nothing grew: no new checkpoint"


# --- tampering ---------------------------------------------------------------------------


async def _fresh_signed_log(settings: Settings, entries: int = 6) -> tuple[service.LogKey, list[int]]:
    log_key = service.load_log_key(settings)
    recorded = await _record(entries, action="test.tamper")
    await service.sign_checkpoint(log_key)
    assert (await service.verify(log_key)).ok
    return log_key, [r.seq for r in recorded]


async def test_an_edited_entry_is_reported_by_its_sequence_number(database: Settings) -> None:
    log_key, seqs = await _fresh_signed_log(database)
    target = seqs[2]
    original = await row(target)
    try:
        async with triggers_disabled():
            await sql("UPDATE audit_entry SET outcome = 'failure' WHERE seq = {}", target)
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq == target
    finally:
        await put_back(original)
    assert (await service.verify(log_key)).ok


async def test_an_edit_with_a_rewritten_leaf_hash_is_caught_by_the_checkpoint(database: Settings) -> None:
    log_key, seqs = await _fresh_signed_log(database)
    target = seqs[3]
    original = await row(target)
    forged = dict(original, details='{"n":2}')
    forged_leaf = merkle.leaf_hash(stored_leaf_input(forged))
    try:
        async with triggers_disabled():
            await sql(
                "UPDATE audit_entry SET details = {}, leaf_hash = {} WHERE seq = {}",
                '{"n":2}',
                forged_leaf,
                target,
            )
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq is None
        first_bad = result.first_bad_checkpoint
        assert first_bad is not None and first_bad > target
        assert result.suspect_range is not None
        assert result.suspect_range[0] <= target < result.suspect_range[1]
    finally:
        await put_back(original)
    assert (await service.verify(log_key)).ok


async def test_a_deleted_entry_is_reported(database: Settings) -> None:
    log_key, seqs = await _fresh_signed_log(database)
    target = seqs[1]
    original = await row(target)
    try:
        async with triggers_disabled():
            await sql("DELETE FROM audit_entry WHERE seq = {}", target)
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq == target
    finally:
        async with triggers_disabled():
            await AuditEntry.insert(AuditEntry(**original))
    assert (await service.verify(log_key)).ok


async def test_deleting_the_newest_entries_is_reported(database: Settings) -> None:
    log_key, seqs = await _fresh_signed_log(database)
    last = seqs[-1]
    original = await row(last)
    try:
        async with triggers_disabled():
            await sql("DELETE FROM audit_entry WHERE seq = {}", last)
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq == last
    finally:
        async with triggers_disabled():
            await AuditEntry.insert(AuditEntry(**original))


async def test_reordered_entries_are_reported(database: Settings) -> None:
    log_key, seqs = await _fresh_signed_log(database)
    first, second = await row(seqs[1]), await row(seqs[2])
    try:
        async with triggers_disabled():
            await sql("DELETE FROM audit_entry WHERE seq IN ({}, {})", first["seq"], second["seq"])
            await AuditEntry.insert(AuditEntry(**dict(second, seq=first["seq"])))
            await AuditEntry.insert(AuditEntry(**dict(first, seq=second["seq"])))
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq == seqs[1]
    finally:
        await put_back(first)
        await put_back(second)
    assert (await service.verify(log_key)).ok


@pytest.mark.parametrize("forgery", ["other-key", "edited-body"])
async def test_a_forged_checkpoint_is_reported(database: Settings, forgery: str) -> None:
    log_key, _ = await _fresh_signed_log(database)
    size = await service.tree_size()
    leaves = [bytes(r["leaf_hash"]) for r in await sql("SELECT leaf_hash FROM audit_entry ORDER BY seq")]
    body = note.checkpoint_body(database.log_origin, size + 1, merkle.root([*leaves, leaves[0]]))
    if forgery == "other-key":
        forged = note.Signer(database.log_origin, Ed25519PrivateKey.generate()).sign_note(body)
    else:
        genuine = log_key.signer.sign_note(note.checkpoint_body(database.log_origin, size, merkle.root(leaves)))
        forged = genuine.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
    await AuditCheckpoint.insert(
        AuditCheckpoint(tree_size=size + 1, root_hash=b"\x00" * 32, note=forged, key_id="00000000", compact_range=b"")
    )
    try:
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_checkpoint == size + 1
    finally:
        async with triggers_disabled():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size = {}", size + 1)
    assert (await service.verify(log_key)).ok


# --- HTTP ------------------------------------------------------------------------------


async def test_search_filters_and_pages(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    actor = Identity(sub="searcher-1", roles=("support_agent",))
    for index in range(7):
        await service.record_event(
            actor=actor,
            action=f"search.case.{'opened' if index % 2 else 'closed'}",
            resource_type="case",
            resource_id=f"case-{index % 3}",
        )
    headers = auth("auditor")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"actor": "searcher-1", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/audit/entries", params=params, headers=headers)).json()
        seen += [item["seq"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and seen == sorted(seen)

    opened = await client.get(
        "/api/v1/audit/entries", params={"actor": "searcher-1", "action": "search.case.op"}, headers=headers
    )
    assert [i["action"] for i in opened.json()["items"]] == ["search.case.opened"] * 3
    by_resource = await client.get(
        "/api/v1/audit/entries",
        params={"actor": "searcher-1", "resource_type": "case", "resource_id": "case-0", "order": "desc"},
        headers=headers,
    )
    items = by_resource.json()["items"]
    assert {i["resource"]["id"] for i in items} == {"case-0"}
    assert [i["seq"] for i in items] == sorted((i["seq"] for i in items), reverse=True)
    first_time = items[-1]["time"]
    since = await client.get(
        "/api/v1/audit/entries", params={"actor": "searcher-1", "since": first_time}, headers=headers
    )
    since_items = since.json()["items"]
    assert since_items
    assert all(_instant(i["time"]) >= _instant(first_time) for i in since_items)
    until = await client.get(
        "/api/v1/audit/entries", params={"actor": "searcher-1", "until": first_time}, headers=headers
    )
    until_items = until.json()["items"]
    assert all(_instant(i["time"]) < _instant(first_time) for i in until_items)
    assert {i["seq"] for i in since_items}.isdisjoint(i["seq"] for i in until_items)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_wildcard_in_the_action_filter_is_literal(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    await service.record_event(actor=OFFICER, action="literal.x_y", resource_type="t")
    await service.record_event(actor=OFFICER, action="literal.xzy", resource_type="t")
    found = await client.get("/api/v1/audit/entries", params={"action": "literal.x_"}, headers=auth("auditor"))
    assert [i["action"] for i in found.json()["items"]] == ["literal.x_y"]


async def test_a_foreign_cursor_is_a_400_naming_cursor(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.get("/api/v1/audit/entries", params={"cursor": "!!nope"}, headers=auth("auditor"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


async def test_one_entry_by_sequence_number(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    queued = await service.record_event(actor=OFFICER, action="test.one", resource_type="t", details={"k": "v"})
    seq = await service.sequenced(queued)
    found = await client.get(f"/api/v1/audit/entries/{seq}", headers=auth("compliance_officer"))
    assert found.status_code == 200
    assert found.json()["details"] == {"k": "v"}
    assert found.json()["leaf_hash"] == bytes((await row(seq))["leaf_hash"]).hex()
    missing = await client.get("/api/v1/audit/entries/99999999", headers=auth("compliance_officer"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_checkpoint_public_key_and_verify_over_http(
    client: httpx.AsyncClient,
    auth: AuthHeaders,
    settings: Settings,
) -> None:
    headers = auth("auditor")
    await service.record_event(actor=OFFICER, action="test.http", resource_type="t")
    await service.sign_checkpoint(service.load_log_key(settings))
    checkpoint = await client.get("/api/v1/audit/checkpoint", headers=headers)
    assert checkpoint.headers["content-type"].startswith("text/plain")
    vkey = (await client.get("/api/v1/audit/public-key", headers=headers)).text.strip()
    name, key_id, key = vkey.split("+", 2)
    assert name == settings.log_origin and len(key_id) == 8
    assert base64.b64decode(key)[0] == 1
    signed = note.verify_checkpoint(checkpoint.text, vkey)
    assert checkpoint.text.startswith(f"{settings.log_origin}\n{signed.size}\n")
    verified = (await client.get("/api/v1/audit/verify", headers=headers)).json()
    assert verified["ok"] is True
    assert verified["first_bad_seq"] is None
    assert verified["checkpoints_checked"] >= 1
    assert set(verified) >= {"ok", "size", "root", "checkpoints_checked", "first_bad_seq"}


async def test_the_action_filter_is_case_sensitive(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    await service.record_event(actor=OFFICER, action="casecheck.lower", resource_type="t")
    found = await client.get("/api/v1/audit/entries", params={"action": "CaseCheck."}, headers=auth("auditor"))
    assert found.json()["items"] == []


async def test_an_empty_log_with_a_checkpoint_verifies(database: Settings) -> None:
    # The suite shares one database; an empty tree is exercised on the pure verifier instead.
    log_key = service.load_log_key(database)
    empty = note.checkpoint_body(database.log_origin, 0, merkle.EMPTY_ROOT)
    state = VerificationPass(log_key.signer.verifier, [{"tree_size": 0, "note": log_key.signer.sign_note(empty)}])
    result = state.finish(head=0)
    assert result.ok
    assert result.checkpoints_checked == 1


async def test_verification_reads_one_snapshot_while_appends_go_on(database: Settings) -> None:
    log_key = service.load_log_key(database)
    await _record(20)
    await service.sign_checkpoint(log_key)

    async def keep_appending() -> None:
        for _ in range(30):
            await _record(action="test.during_verify")

    results = await asyncio.gather(*(service.verify(log_key) for _ in range(3)), keep_appending())
    for result in results[:3]:
        assert result is not None
        assert result.ok, result.problems


async def test_checkpoints_are_signed_automatically_while_the_log_grows(database: Settings) -> None:

    log_key = service.load_log_key(database)
    stop = asyncio.Event()
    signer = asyncio.create_task(
        schedule.every(timedelta(milliseconds=50), lambda: service.sign_checkpoint(log_key), stop, name="checkpoint")
    )
    try:
        await _record(2, action="test.auto_checkpoint")
        target = await service.tree_size()
        for _ in range(100):
            latest = await service.latest_checkpoint(log_key)
            if latest is not None and latest.tree_size >= target:
                break
            await asyncio.sleep(0.05)
        assert latest is not None
        assert latest.tree_size >= target
        note.verify_checkpoint(latest.note, log_key.verifier_key)
    finally:
        stop.set()
        await signer


# --- review findings: each was a way past the guarantees --------------------------------


async def test_shifting_json_between_roles_and_details_is_caught(database: Settings) -> None:
    """Two rows whose verbatim JSON concatenates to the same leaf bytes must not both verify."""
    log_key = service.load_log_key(database)
    [recorded] = await _record(
        actor=Identity(sub="officer-b", roles=("compliance_officer",)),
        details={"a": {"b": 1, "sub": "officer-c"}, "details": {}},
    )
    original = await row(recorded.seq)
    # Same leaf input bytes, different meaning: now officer-c acted.
    forged = dict(
        original,
        actor_sub="officer-c",
        actor_roles='["compliance_officer"],"sub":"officer-b"},"details":{"a":{"b":1',
        details="{}}",
    )
    assert stored_leaf_input(forged) == stored_leaf_input(original)
    try:
        async with triggers_disabled():
            await sql("DELETE FROM audit_entry WHERE seq = {}", recorded.seq)
            await AuditEntry.insert(AuditEntry(**forged))
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq == recorded.seq
    finally:
        await put_back(original)


async def test_replacing_an_entry_is_refused(database: Settings) -> None:
    if not db.is_sqlite():
        pytest.skip("REPLACE is SQLite's")
    [recorded] = await _record()
    with pytest.raises(Exception, match="append-only"):
        await sql(
            "INSERT OR REPLACE INTO audit_entry SELECT * FROM audit_entry WHERE seq = {}",
            recorded.seq,
        )


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_head SET next_seq = next_seq - 1", "DELETE FROM audit_head"],
)
async def test_the_sequence_head_only_moves_forward(database: Settings, statement: str) -> None:
    await _record()
    with pytest.raises(Exception, match="append-only"):
        await sql(statement)


async def test_entries_hidden_behind_a_lowered_head_are_reported(database: Settings) -> None:
    log_key = service.load_log_key(database)
    await _record(2)
    head = await service.tree_size()
    try:
        async with triggers_disabled():
            await sql("DROP TRIGGER audit_head_forward" + ("" if db.is_sqlite() else " ON audit_head"))
            await sql("UPDATE audit_head SET next_seq = {}", head - 1)
        result = await service.verify(log_key)
        assert not result.ok
        assert result.first_bad_seq == head - 1
    finally:
        async with triggers_disabled():
            await sql("UPDATE audit_head SET next_seq = {}", head)
            if db.is_sqlite():
                await sql(
                    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
                    "WHEN NEW.next_seq < OLD.next_seq OR NEW.name <> OLD.name "
                    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: the sequence head only moves forward'); "
                    "END"
                )
            else:
                await sql(
                    "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
                    "FOR EACH ROW EXECUTE FUNCTION governance_head_moves_forward()"
                )
    assert (await service.verify(log_key)).ok


async def test_a_forged_checkpoint_row_is_neither_served_nor_built_on(database: Settings) -> None:
    log_key = service.load_log_key(database)
    await _record()
    genuine = await service.sign_checkpoint(log_key)
    forged_size = 10**12
    await AuditCheckpoint.insert(
        AuditCheckpoint(tree_size=forged_size, root_hash=b"\0" * 32, note="forged", key_id="0", compact_range=b"")
    )
    try:
        latest = await service.latest_checkpoint(log_key)
        assert latest is not None
        assert latest.tree_size == genuine.tree_size
        await _record()
        signed = await service.sign_checkpoint(log_key)
        assert signed.tree_size == await service.tree_size()
        note.verify_checkpoint(signed.note, log_key.verifier_key)
    finally:
        async with triggers_disabled():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size = {}", forged_size)


async def test_one_bad_entry_does_not_sink_its_group_commit(
    database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_enqueue = sequencer.enqueue

    async def enqueue(rows: list[dict[str, Any]]) -> list[int]:
        if any(row["action"] == "test.poison" for row in rows):
            raise OSError("this one entry cannot be written")
        return await real_enqueue(rows)

    monkeypatch.setattr(sequencer, "enqueue", enqueue)
    results = await asyncio.gather(
        *(_queue(action="test.poison" if i == 3 else "test.neighbour") for i in range(12)),
        return_exceptions=True,
    )
    assert isinstance(results[3], OSError)
    assert all(isinstance(r, list) for i, r in enumerate(results) if i != 3)


async def test_oversized_fields_fail_only_their_own_caller(database: Settings) -> None:
    with pytest.raises(ValueError, match="actor_sub is longer than 200"):
        await service.record_event(actor=Identity(sub="x" * 201, roles=("auditor",)), action="a", resource_type="t")


async def test_out_of_range_and_offsetless_queries_answer_400(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    headers = auth("auditor")
    for params, field in (
        ({"since": "2026-11-22T10:00:00"}, "since"),
        ({"until": "0001-01-01T00:30:00+01:00"}, "until"),
        ({"cursor": "e30"}, "cursor"),
    ):
        response = await client.get("/api/v1/audit/entries", params=params, headers=headers)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["field"] == field
    huge = await client.get("/api/v1/audit/entries/99999999999999999999", headers=headers)
    assert huge.status_code == 400


async def test_options_is_not_a_server_error(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/v1/audit/entries")
    assert response.status_code < 500
