"""Numbered, linked checkpoints and `verify --since`: the four rewrites of issue 15.

Someone who owns the database can switch the triggers off and rewrite anything in it, the
checkpoints and tree nodes included. Each test below does one rewrite the way such a
person would, then shows what catches it: the database alone (the chain of checkpoints),
or only a checkpoint kept outside it (an auditor's saved file, or a witness). Each test
puts every row back afterwards: the suite shares one log.
"""

from __future__ import annotations

import asyncio

import pytest

from governance.audit import merkle, note, service, verification
from governance.audit.leaf import stored_leaf_input
from governance.audit.schemas import Verification
from governance.audit.tables import AuditEntry, CheckpointRow
from governance.core.identity import Identity
from governance.settings import Settings

from .tampering import everything_unlocked, restored_afterwards, row, sql

OFFICER = Identity(sub="officer-rewrites", roles=("compliance_officer",))


async def _record(count: int, action: str = "test.rewrite") -> None:
    await asyncio.gather(
        *(
            service.record_event(actor=OFFICER, action=action, resource_type="thing", details={"i": i})
            for i in range(count)
        )
    )


async def _signed(log_key: service.LogKey, entries: int = 3) -> str:
    """Record some entries and sign a checkpoint: its note, as an auditor saves it."""
    await _record(entries)
    return (await service.sign_checkpoint(log_key)).note


async def _checkpoints() -> list[dict[str, object]]:
    return await sql("SELECT tree_size, note, link FROM audit_checkpoint ORDER BY tree_size")


async def _verify_since(log_key: service.LogKey, saved: str) -> Verification:
    return await service.verify_since(log_key, saved)


def _said(result: Verification, words: str) -> bool:
    return any(words in problem for problem in result.problems)


async def test_each_checkpoint_is_numbered_and_linked_to_the_one_before(database: Settings) -> None:
    log_key = service.load_log_key(database)
    for _ in range(3):
        await _signed(log_key, 2)
    stored = await _checkpoints()
    links = [verification.open_link(str(c["link"]), log_key.signer.verifier) for c in stored if c["link"]]
    assert len(links) >= 3
    numbered = [c for c in stored if c["link"]]
    for before, after, link in zip(numbered, numbered[1:], links[1:], strict=False):
        assert link.previous == verification.note_digest(str(before["note"]))
        assert link.checkpoint == verification.note_digest(str(after["note"]))
        assert link.size == after["tree_size"]
    assert [link.number for link in links] == list(range(links[0].number, links[0].number + len(links)))
    assert links[-1].number == len(stored) - 1  # numbered by place, checkpoints from before links included
    # The checkpoint stays a plain three-line tlog-checkpoint; the link is a note of its own.
    checkpoint = note.verify_checkpoint(str(stored[-1]["note"]), log_key.verifier_key)
    assert checkpoint.extensions == ()
    assert (await service.verify(log_key)).ok


async def test_concurrent_signers_number_checkpoints_without_gaps(
    database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signers take turns (an advisory lock on PostgreSQL, the write lock on SQLite): a signer
    that starts while another is between reading the latest checkpoint and storing its own
    links to the other's, not to the same predecessor under the same number."""
    log_key = service.load_log_key(database)
    number_after = service._next_number
    inside = asyncio.Event()

    async def slow_first_signer(previous: CheckpointRow | None, key: service.LogKey) -> int:
        if not inside.is_set():
            inside.set()
            await asyncio.sleep(0.3)
        return await number_after(previous, key)

    monkeypatch.setattr(service, "_next_number", slow_first_signer)
    await _record(1)
    first = asyncio.create_task(service.sign_checkpoint(log_key))
    await inside.wait()
    await _record(2)
    second = asyncio.create_task(service.sign_checkpoint(log_key))
    signed = await asyncio.gather(first, second)
    assert signed[0].tree_size < signed[1].tree_size
    links = [verification.open_link(c.link, log_key.signer.verifier) for c in signed]
    assert links[1].number == links[0].number + 1
    assert links[1].previous == verification.note_digest(signed[0].note)
    assert (await service.verify(log_key)).ok


async def test_rewrite_1_deleting_a_stored_checkpoint_breaks_the_chain(database: Settings) -> None:
    """Caught by the database alone, unless it is the newest (next test)."""
    log_key = service.load_log_key(database)
    await _signed(log_key)
    middle = await _signed(log_key)
    await _signed(log_key)
    size = note.verify_checkpoint(middle, log_key.verifier_key).size
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size = {}", size)
        result = await service.verify(log_key)
        assert not result.ok
        assert _said(result, "1 checkpoint(s) were deleted")
        assert result.first_bad_checkpoint is not None and result.first_bad_checkpoint > size
    assert (await service.verify(log_key)).ok


async def test_rewrite_1_deleting_the_newest_checkpoint_needs_the_saved_one(database: Settings) -> None:
    """Nothing stored after the newest checkpoint names it: only a copy kept outside the
    database (here the auditor's, with a witness it would be the witness's) shows it gone,
    even once the service has signed a new one in its place."""
    log_key = service.load_log_key(database)
    saved = await _signed(log_key)
    size = note.verify_checkpoint(saved, log_key.verifier_key).size
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size = {}", size)
        assert (await service.verify(log_key)).ok, "the database alone cannot tell"
        result = await _verify_since(log_key, saved)
        assert not result.ok
        assert _said(result, f"the checkpoint saved earlier (size {size}) is no longer stored")
        assert _said(result, "older than the one saved earlier")

        await _record(2)
        await service.sign_checkpoint(log_key)  # takes the deleted one's number: the chain looks whole
        assert (await service.verify(log_key)).ok
        assert _said(await _verify_since(log_key, saved), "is no longer stored")
    assert (await _verify_since(log_key, saved)).ok


async def test_rewrite_2_history_rewritten_and_signed_afresh(database: Settings) -> None:
    """Every checkpoint deleted, an entry edited and rehashed, the service then signs a fresh
    checkpoint over the rewritten history. Left in place, the stored tree nodes still hold
    the old hashes, so the fresh checkpoint and the entries disagree; an attacker who deletes
    the nodes too leaves a self-consistent database that only a saved checkpoint contradicts."""
    log_key = service.load_log_key(database)
    saved = await _signed(log_key)
    target = note.verify_checkpoint(saved, log_key.verifier_key).size - 2
    original = await row(target)
    forged = dict(original, details='{"i":99}')
    for thorough in (False, True):
        async with restored_afterwards():
            async with everything_unlocked():
                await sql("DELETE FROM audit_checkpoint")
                if thorough:
                    await sql("DELETE FROM audit_tree_node")
                await sql(
                    "UPDATE audit_entry SET details = {}, leaf_hash = {} WHERE seq = {}",
                    forged["details"],
                    merkle.leaf_hash(stored_leaf_input(forged)),
                    target,
                )
            await service.sign_checkpoint(log_key)
            alone = await service.verify(log_key)
            if thorough:
                assert alone.ok, "a thorough rewrite leaves nothing in the database to contradict it"
            else:
                assert not alone.ok
            result = await _verify_since(log_key, saved)
            assert not result.ok
            assert _said(result, "the entries no longer hash to its root")
            # Rebuilt from the rewritten entries, the tree no longer extends the saved one.
            assert _said(result, "the log does not extend the checkpoint saved earlier") is thorough
        assert (await _verify_since(log_key, saved)).ok


async def test_rewrite_3_truncating_the_entries_after_the_last_checkpoint(database: Settings) -> None:
    """Entries after the last stored checkpoint removed and the head moved back. Entries no
    checkpoint covers can be removed without a trace in the database; once a checkpoint over
    them is held outside it (the auditor saved it, or a witness cosigned it), the truncation
    shows even after the attacker deletes that checkpoint too."""
    log_key = service.load_log_key(database)
    older = await _signed(log_key)
    kept = note.verify_checkpoint(older, log_key.verifier_key).size
    saved = await _signed(log_key, 4)  # the auditor downloads this one
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size > {}", kept)
            await sql("DELETE FROM audit_entry WHERE seq >= {}", kept)
            await sql("UPDATE audit_head SET next_seq = {} WHERE name = 'audit'", kept)
        assert (await service.verify(log_key)).ok, "the database alone cannot tell"
        assert (await _verify_since(log_key, older)).ok, "nor a checkpoint from before the removed entries"
        result = await _verify_since(log_key, saved)
        assert not result.ok
        assert _said(result, "it was truncated")
        assert result.first_bad_seq == kept
    assert (await _verify_since(log_key, saved)).ok


async def test_rewrite_4_forged_entries_appended_after_the_last_checkpoint(database: Settings) -> None:
    """Forged entries with correct leaf hashes, appended and the head moved on. An append is
    what the log exists to accept: no checkpoint, saved or witnessed, can tell a forged one
    from a genuine one written at the same time (only the application's own records could).
    What a saved checkpoint does catch is an append that takes the place of entries it
    covers: truncating genuine entries and appending others at their positions."""
    log_key = service.load_log_key(database)
    saved = await _signed(log_key)
    size = note.verify_checkpoint(saved, log_key.verifier_key).size
    template = await row(size - 1)

    async def append_forged(at: int, count: int) -> None:
        for seq in range(at, at + count):
            forged = dict(template, seq=seq, action="forged.entry")
            forged["leaf_hash"] = merkle.leaf_hash(stored_leaf_input(forged))
            await AuditEntry.insert(AuditEntry(**forged))
        await sql("UPDATE audit_head SET next_seq = {} WHERE name = 'audit'", at + count)

    async with restored_afterwards():
        async with everything_unlocked():
            await append_forged(size, 3)
        await service.sign_checkpoint(log_key)
        assert (await service.verify(log_key)).ok
        assert (await _verify_since(log_key, saved)).ok, "a forged append is not detectable by any checkpoint"

    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size >= {}", size - 2)
            await sql("DELETE FROM audit_tree_node")
            await sql("DELETE FROM audit_entry WHERE seq >= {}", size - 2)
            await append_forged(size - 2, 4)
        await service.sign_checkpoint(log_key)
        assert (await service.verify(log_key)).ok, "the database alone cannot tell"
        result = await _verify_since(log_key, saved)
        assert not result.ok
        assert _said(result, "the entries no longer hash to its root")
    assert (await _verify_since(log_key, saved)).ok


async def test_a_restored_old_backup_fails_against_the_saved_checkpoint(database: Settings) -> None:
    """Restoring yesterday's backup is a truncation of everything since: the saved checkpoint
    is then ahead of the log."""
    log_key = service.load_log_key(database)
    backup = await service.sign_checkpoint(log_key)
    saved = await _signed(log_key, 3)
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size > {}", backup.tree_size)
            await sql("DELETE FROM audit_entry WHERE seq >= {}", backup.tree_size)
            await sql("DELETE FROM audit_tree_node")
            await sql("UPDATE audit_head SET next_seq = {} WHERE name = 'audit'", backup.tree_size)
        result = await _verify_since(log_key, saved)
        assert not result.ok
        assert _said(result, "older than the one saved earlier")


async def test_a_checkpoint_from_another_log_is_refused(database: Settings) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    log_key = service.load_log_key(database)
    other = note.Signer(database.log_origin, Ed25519PrivateKey.generate())
    forged = other.sign_note(note.checkpoint_body(database.log_origin, 1, b"\0" * 32))
    for text in (forged, "not a checkpoint\n", ""):
        try:
            await _verify_since(log_key, text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was accepted as a saved checkpoint")
