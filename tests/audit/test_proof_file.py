"""Offline checking of c2sp.org/tlog-proof@v1 files (governance.audit.proof_file): the published
inclusion vectors, proofs built here under a real key, a proof as copied out of a PDF, and
every way a changed proof, entry, key or witness fails."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import merkle, note, proof_file
from governance.audit.cosignature import Cosigner
from governance.cli import main

from .test_tree import _b64, _inclusion, _stored, _vectors

ORIGIN = "governance.test/proofs"
SIGNER = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
ENTRIES = [json.dumps({"seq": n, "action": "test.proof", "v": 1}, separators=(",", ":")).encode() for n in range(13)]


@pytest.mark.parametrize(("name", "vector"), _vectors("inclusion"))
def test_inclusion_agrees_with_every_published_vector(name: str, vector: dict[str, Any]) -> None:
    leaf, root = base64.b64decode(vector["leafHash"] or ""), base64.b64decode(vector["root"] or "")
    ok = proof_file.inclusion_holds(vector["leafIdx"], vector["treeSize"], leaf, root, _b64(vector["proof"]))
    assert ok is not vector["wantErr"], name


def _proof(index: int, size: int, *, extra: bool = True, cosigners: tuple[Cosigner, ...] = ()) -> str:
    hashes = [merkle.leaf_hash(entry) for entry in ENTRIES[:size]]
    body = note.checkpoint_body(ORIGIN, size, merkle.root(hashes))
    signed = SIGNER.sign_note(body) + "".join(c.cosign(body, 1_700_000_000) for c in cosigners)
    lines = [proof_file.HEADER]
    if extra:
        lines.append("extra " + base64.b64encode(ENTRIES[index]).decode())
    lines += [f"index {index}", *(base64.b64encode(h).decode() for h in _inclusion(_stored(hashes), index, size))]
    return "\n".join(lines) + "\n\n" + signed


def _reflowed(text: str, width: int = 60) -> str:
    """As a PDF reader hands it back: long lines cut, blank lines gone, trailing spaces added."""
    out = []
    for line in text.split("\n"):
        if not line:
            continue
        out.extend(line[i : i + width] + " " for i in range(0, len(line), width))
    return "\n".join(out)


def test_every_entry_of_every_size_is_proven_and_a_reflowed_copy_too() -> None:
    vkey = SIGNER.verifier_key()
    for size in range(1, len(ENTRIES) + 1):
        for index in range(size):
            text = _proof(index, size)
            proven = proof_file.verify(text, vkey)
            assert (proven.index, proven.entry, proven.checkpoint.size) == (index, ENTRIES[index], size)
            assert proof_file.verify(_reflowed(text), vkey).entry == ENTRIES[index]
    # Without an extra line the caller gives the entry; it must be the one proven.
    assert proof_file.verify(_proof(3, 7, extra=False), vkey, entry=ENTRIES[3]).index == 3
    other = json.dumps({"seq": 3, "action": "test.other", "v": 1}, separators=(",", ":")).encode()
    with pytest.raises(proof_file.ProofError, match="does not lead to the root"):
        proof_file.verify(_proof(3, 7, extra=False), vkey, entry=other)
    with pytest.raises(proof_file.ProofError, match="says it is entry 4"):
        proof_file.verify(_proof(3, 7, extra=False), vkey, entry=ENTRIES[4])
    with pytest.raises(proof_file.ProofError, match="carries no entry"):
        proof_file.verify(_proof(3, 7, extra=False), vkey)


@pytest.mark.parametrize(
    ("extra", "change", "message"),
    [
        (True, lambda t: t.replace("index 5", "index 6"), "says it is entry 5"),
        (True, lambda t: t.replace(proof_file.HEADER, "c2sp.org/tlog-proof@v2"), "first line"),
        (True, lambda t: t.partition("\n\n")[0] + "\n", "no checkpoint"),
        (True, lambda t: t.replace("\nindex 5", "\nindex 05"), "leading zeros"),
        (True, lambda t: t.replace("extra ", "extra !"), "extra line is not base64"),
        (False, lambda t: t.replace("\nindex 5", "\nnumber 5"), "no `index N` line"),
    ],
)
def test_a_changed_proof_fails_saying_what(extra: bool, change: Any, message: str) -> None:
    text = _proof(5, 11, extra=extra)
    assert proof_file.verify(text, SIGNER.verifier_key(), entry=ENTRIES[5]).index == 5
    with pytest.raises(proof_file.ProofError, match=message):
        proof_file.verify(change(text), SIGNER.verifier_key(), entry=None if extra else ENTRIES[5])


def test_a_changed_entry_or_hash_or_another_key_fails() -> None:
    text = _proof(5, 11)
    entry = json.dumps({"seq": 5, "action": "test.forged", "v": 1}, separators=(",", ":")).encode()
    forged = text.replace(base64.b64encode(ENTRIES[5]).decode(), base64.b64encode(entry).decode())
    with pytest.raises(proof_file.ProofError, match="does not lead to the root"):
        proof_file.verify(forged, SIGNER.verifier_key())
    lines = text.split("\n")
    lines[3] = base64.b64encode(bytes(32)).decode()
    with pytest.raises(proof_file.ProofError, match="does not lead to the root"):
        proof_file.verify("\n".join(lines), SIGNER.verifier_key())
    stranger = note.Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier_key()
    with pytest.raises(proof_file.ProofError, match="not signed by the key given"):
        proof_file.verify(text, stranger)


def test_witnesses_are_counted_by_their_valid_cosignatures() -> None:
    first, second = (Cosigner(name, Ed25519PrivateKey.generate()) for name in ("w1.test/a", "w2.test/b"))
    text = _proof(2, 9, cosigners=(first,))
    vkey = SIGNER.verifier_key()
    assert proof_file.verify(text, vkey, witnesses=[first.key]).witnessed_by == ["w1.test/a"]
    with pytest.raises(proof_file.ProofError, match=r"lacks a valid cosignature by w2\.test/b"):
        proof_file.verify(text, vkey, witnesses=[first.key, second.key])
    assert proof_file.verify(text, vkey, witnesses=[first.key, second.key], quorum=1).witnessed_by == ["w1.test/a"]
    # Reflowed as a PDF prints it, a cosignature line cut at its space or in its base64 still counts.
    # (reportlab cuts a long line at its last space that fits, else within the word.)
    for width in (len("\u2014 w1.test/a "), 60):
        cut = [_reflowed(line, width) if line.startswith("\u2014 w1") else line for line in text.split("\n")]
        copied = "\n".join(cut)
        assert proof_file.verify(copied, vkey, witnesses=[first.key]).witnessed_by == ["w1.test/a"]
    # A cosignature of another checkpoint does not count.
    other = _proof(2, 10, cosigners=(second,)).partition("\n\n")[2].split("\n")[-2]
    with pytest.raises(proof_file.ProofError, match=r"lacks a valid cosignature by w2\.test/b"):
        proof_file.verify(text + other + "\n", vkey, witnesses=[second.key])


def test_the_command_checks_a_proof_file_offline(tmp_path: Path) -> None:
    """`governance audit verify-proof` needs no deployment: only the file and the key."""
    (tmp_path / "entry.json").write_bytes(ENTRIES[4] + b"\n")
    (tmp_path / "with.tlog-proof").write_text(_proof(4, 8))
    (tmp_path / "without.tlog-proof").write_text(_proof(4, 8, extra=False))
    runner = CliRunner()
    vkey = SIGNER.verifier_key()
    shown = runner.invoke(main, ["audit", "verify-proof", str(tmp_path / "with.tlog-proof"), "--key", vkey])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == [f"OK: entry 4 is in the checkpoint of {ORIGIN} at size 8", ENTRIES[4].decode()]
    given = ["audit", "verify-proof", str(tmp_path / "without.tlog-proof"), "--key", vkey]
    assert runner.invoke(main, [*given, "--entry", str(tmp_path / "entry.json")]).exit_code == 0
    refused = runner.invoke(main, given)
    assert refused.exit_code == 1 and "carries no entry" in refused.output
    stranger = note.Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier_key()
    refused = runner.invoke(main, ["audit", "verify-proof", str(tmp_path / "with.tlog-proof"), "--key", stranger])
    assert refused.exit_code == 1 and refused.output.startswith("FAILED: the checkpoint is not signed")
