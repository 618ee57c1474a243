"""Checkpoint key rotation (issue 15, item 5): each checkpoint verifies under the key that was
valid for its size, a retired key cannot sign past its sizes, and the origin never changes."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import keys, note, service
from governance.core.identity import Identity
from governance.settings import Settings

from .tampering import restored_afterwards

OFFICER = Identity(sub="officer-rotation", roles=("compliance_officer",))


async def _record(count: int) -> None:
    for i in range(count):
        await service.record_event(actor=OFFICER, action="test.rotation", resource_type="thing", details={"i": i})


def _said(problems: list[str], words: str) -> bool:
    return any(words in problem for problem in problems)


async def test_after_a_rotation_each_checkpoint_verifies_under_the_key_valid_for_it(database: Settings) -> None:
    old = service.load_log_key(database)
    await _record(2)
    async with restored_afterwards():
        last_old = await service.sign_checkpoint(old)
        new_signer = note.Signer(old.origin, Ed25519PrivateKey.generate())
        history = keys.parse_history(
            f"# retired when the new key came in\n{old.verifier_key} 0 {last_old.tree_size}\n", new_signer.verifier
        )
        new = service.LogKey(signer=new_signer, history=history)
        await _record(3)
        first_new = await service.sign_checkpoint(new)
        assert first_new.tree_size > last_old.tree_size
        # The new key's first checkpoint is numbered after, and linked to, the old key's last.
        assert first_new.link
        assert (await service.latest_checkpoint(new)) == first_new
        result = await service.verify(new)
        assert result.ok, result.problems
        # Either key alone fails the other's checkpoints.
        assert not (await service.verify(service.LogKey(signer=new_signer))).ok
        assert not (await service.verify(old)).ok
        # A checkpoint an auditor saved under the old key still proves the log extends it.
        assert (await service.verify_since(new, last_old.note)).ok

        # The retired key, stolen, signs a checkpoint past its sizes: refused.
        await _record(1)
        forged = await service.sign_checkpoint(old)
        assert forged.tree_size > first_new.tree_size
        result = await service.verify(new)
        assert not result.ok
        assert result.first_bad_checkpoint == forged.tree_size
        assert _said(result.problems, f"checkpoint at size {forged.tree_size}: no signature from key")
        with pytest.raises(ValueError, match="no signature"):
            new.open_checkpoint(forged.note)


async def test_the_history_file_is_read_from_the_settings(database: Settings, tmp_path: Path) -> None:
    current = service.load_log_key(database)
    retired = note.Signer(current.origin, Ed25519PrivateKey.generate())
    path = tmp_path / "history.txt"
    path.write_text(f"{retired.verifier_key()} 0 0\n")
    settings = msgspec.structs.replace(database, checkpoint_key_history=path)
    loaded = service.load_log_key(settings)
    assert loaded.verifier_for(0) == retired.verifier
    assert loaded.verifier_for(1) == current.signer.verifier
    renamed = note.Signer("renamed.example/audit", Ed25519PrivateKey.generate())
    path.write_text(f"{renamed.verifier_key()} 0 0\n")
    with pytest.raises(keys.KeyHistoryError, match="origin rename is refused"):
        service.load_log_key(settings)


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ("{a} 0 10\n{b} 5 20\n", "overlap"),
        ("{a} 10 5\n", "first size is after the last"),
        ("{current} 0 10\n", "the current key"),
        ("{a} 0 10 extra\n", "expected"),
        ("{a} 00 10\n", "expected"),
        ("{a} 0 -1\n", "expected"),
        ("not-a-key 0 1\n", "malformed verifier key"),
        ("{a}\x00 0 1\n", "not valid base64"),
    ],
)
def test_a_bad_history_is_refused(lines: str, problem: str) -> None:
    current = note.Signer("log.test/audit", Ed25519PrivateKey.generate())
    a = note.Signer("log.test/audit", Ed25519PrivateKey.generate()).verifier_key()
    b = note.Signer("log.test/audit", Ed25519PrivateKey.generate()).verifier_key()
    text = lines.format(a=a, b=b, current=current.verifier_key())
    with pytest.raises(keys.KeyHistoryError, match=problem):
        keys.parse_history(text, current.verifier)


def test_sizes_between_retired_ranges_have_no_key() -> None:
    current = note.Signer("log.test/audit", Ed25519PrivateKey.generate())
    a = note.Signer("log.test/audit", Ed25519PrivateKey.generate())
    b = note.Signer("log.test/audit", Ed25519PrivateKey.generate())
    history = keys.parse_history(f"{a.verifier_key()} 0 10\n{b.verifier_key()} 20 30\n", current.verifier)
    assert history.for_size(10) == a.verifier
    assert history.for_size(15) is None
    assert history.for_size(20) == b.verifier
    assert history.for_size(31) == current.verifier
