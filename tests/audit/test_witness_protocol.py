"""The witness (c2sp.org/tlog-witness) on its own: request parsing, every refusal the spec
names, cosignatures that verify, and state that survives a restart."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import cosignature, merkle, note, tree, witness

ORIGIN = "governance.test/audit"
LEAVES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(40)]


def _checkpoint(signer: note.Signer, size: int, leaves: list[bytes] = LEAVES) -> str:
    return signer.sign_note(note.checkpoint_body(signer.name, size, merkle.root(leaves[:size])))


def _proof(old: int, new: int, leaves: list[bytes] = LEAVES) -> list[bytes]:
    return [merkle.root(leaves[lo:hi]) for lo, hi in tree.consistency_ranges(old, new)]


def _body(old: int, proof: list[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode()


@pytest.fixture
def log() -> note.Signer:
    return note.Signer(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "witness.pem"


def _witness(log: note.Signer, key_file: Path) -> tuple[witness.Witness, httpx.AsyncClient]:
    cosigner = cosignature.Cosigner("accreditor.test/w1", witness.load_or_create_key(key_file))
    found = witness.Witness(cosigner, {ORIGIN: [log.verifier]}, witness.State(witness.state_path(key_file)))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=witness.application(found)), base_url="http://w")
    return found, client


async def _add(client: httpx.AsyncClient, body: bytes, content_type: str | None = "text/plain") -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return await client.post("/add-checkpoint", content=body, headers=headers)


async def test_a_witness_cosigns_a_consistent_history_and_its_cosignatures_verify(
    log: note.Signer, key_file: Path
) -> None:
    found, client = _witness(log, key_file)
    first = await _add(client, _body(0, [], _checkpoint(log, 5)))
    assert first.status_code == 200, first.text
    text = note.checkpoint_body(ORIGIN, 5, merkle.root(LEAVES[:5]))
    assert found.cosigner.key.open(text, first.text) > 1_700_000_000
    grown = await _add(client, _body(5, _proof(5, 32), _checkpoint(log, 32)))
    assert grown.status_code == 200, grown.text
    # The witness's key verifies as a note signature too, by the vkey it prints.
    parsed = cosignature.parse_cosigner_key(found.cosigner.key.encode())
    assert parsed == found.cosigner.key
    assert parsed.open(note.checkpoint_body(ORIGIN, 32, merkle.root(LEAVES[:32])), grown.text)
    # Another checkpoint's text does not carry the cosignature.
    with pytest.raises(note.NoteError):
        parsed.open(text, grown.text)
    # The key was created private, the state beside it survives a restart.
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again, client = _witness(log, key_file)
    assert again.state.get(ORIGIN) == witness.Cosigned(32, merkle.root(LEAVES[:32]))
    assert (await _add(client, _body(0, [], _checkpoint(log, 33)))).status_code == 409


async def test_replaying_an_old_checkpoint_is_a_conflict_naming_the_size_held(log: note.Signer, key_file: Path) -> None:
    _, client = _witness(log, key_file)
    assert (await _add(client, _body(0, [], _checkpoint(log, 8)))).status_code == 200
    assert (await _add(client, _body(8, _proof(8, 20), _checkpoint(log, 20)))).status_code == 200
    replay = await _add(client, _body(8, _proof(8, 20), _checkpoint(log, 20)))
    assert replay.status_code == 409
    assert replay.headers["content-type"] == "text/x.tlog.size"
    assert replay.text == "20\n"
    older = await _add(client, _body(20, [], _checkpoint(log, 8)))
    assert older.status_code == 400  # old size beyond the checkpoint's
    same = await _add(client, _body(20, [], _checkpoint(log, 20)))
    assert same.status_code == 200  # the same tree again is cosigned again


async def test_a_forked_history_is_refused(log: note.Signer, key_file: Path) -> None:
    found, client = _witness(log, key_file)
    assert (await _add(client, _body(0, [], _checkpoint(log, 10)))).status_code == 200
    forked = [*LEAVES[:3], hashlib.sha256(b"rewritten").digest(), *LEAVES[4:]]
    # The forked log's own proof is internally fine, but not from the root the witness holds.
    bad = await _add(client, _body(10, _proof(10, 16, forked), _checkpoint(log, 16, forked)))
    assert bad.status_code == 422
    same_size = await _add(client, _body(10, [], _checkpoint(log, 10, forked)))
    assert same_size.status_code == 409
    assert found.state.get(ORIGIN).size == 10
    wrong_proof = await _add(client, _body(10, _proof(11, 16), _checkpoint(log, 16)))
    assert wrong_proof.status_code == 422
    from_zero = await _add(client, _body(0, _proof(10, 16), _checkpoint(log, 16)))
    assert from_zero.status_code == 409


async def test_unknown_logs_and_keys_are_refused(log: note.Signer, key_file: Path) -> None:
    _, client = _witness(log, key_file)
    stranger = note.Signer("elsewhere.test/log", Ed25519PrivateKey.generate())
    assert (await _add(client, _body(0, [], _checkpoint(stranger, 3)))).status_code == 404
    impostor = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
    assert (await _add(client, _body(0, [], _checkpoint(impostor, 3)))).status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"old 0\n\n" + b"\x00", 400),
        (b"old 0\x00\n\nx", 400),
        (b"old 00\n\ngovernance.test/audit\n1\n", 400),
        (b"old -1\n\ngovernance.test/audit\n1\n", 400),
        (b"old 0\nnot base64!\n\ngovernance.test/audit\n1\n", 400),
        (b"old 0\n" + base64.b64encode(b"short") + b"\n\ncheckpoint\n", 400),
        (b"old 0\n" + b"\n".join([base64.b64encode(bytes(32))] * 64) + b"\n\ncheckpoint\n", 400),
        (b"old 0", 400),
        (b"old 0\n\nno signatures\n", 400),
        (b"\xff\xfe", 400),
        (b"old 0\r\n\r\n", 400),
        (b"old 0\n\n" + b"a" * (witness.MAX_BODY + 1), 413),
    ],
    ids=["nul-in-note", "nul-in-size", "leading-zero", "negative", "bad-base64", "short-hash", "64-lines",
         "no-blank-line", "unsigned", "not-utf8", "crlf", "over-long"],
)  # fmt: skip
async def test_malformed_requests_are_refused_without_a_cosignature(
    log: note.Signer, key_file: Path, body: bytes, status: int
) -> None:
    found, client = _witness(log, key_file)
    response = await _add(client, body)
    assert response.status_code == status, response.text
    assert "\u2014" not in response.text
    assert found.state.get(ORIGIN).size == 0


async def test_the_wrong_content_type_method_or_path_is_refused(log: note.Signer, key_file: Path) -> None:
    _, client = _witness(log, key_file)
    good = _body(0, [], _checkpoint(log, 2))
    assert (await _add(client, good, "application/json")).status_code == 415
    assert (await _add(client, good, "application/x-www-form-urlencoded")).status_code == 415
    assert (await client.get("/add-checkpoint")).status_code == 405
    assert (await client.post("/elsewhere", content=good)).status_code == 404
    assert (await _add(client, good, None)).status_code == 200  # the spec names no media type


def test_witness_keys_are_told_apart_from_log_keys(log: note.Signer) -> None:
    with pytest.raises(note.NoteError):
        cosignature.parse_cosigner_key(log.verifier_key())  # type 0x01, a log's key
    cosigner = cosignature.Cosigner("w.test/one", Ed25519PrivateKey.generate())
    encoded = cosigner.key.encode()
    with pytest.raises(note.NoteError):
        note.parse_verifier_key(encoded)
    name, _, encoded_key = encoded.split("+", 2)
    with pytest.raises(note.NoteError):
        cosignature.parse_cosigner_key(f"{name}+00000000+{encoded_key}")
    line = cosigner.cosign("o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", 1_800_000_000)
    assert cosignature.split_line(line)[2] == 1_800_000_000


async def test_a_witness_given_both_keys_of_a_rotating_log_accepts_either(log: note.Signer, key_file: Path) -> None:
    rotated = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
    cosigner = cosignature.Cosigner("accreditor.test/w1", witness.load_or_create_key(key_file))
    both = witness.Witness(
        cosigner, {ORIGIN: [log.verifier, rotated.verifier]}, witness.State(witness.state_path(key_file))
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=witness.application(both)), base_url="http://w")
    assert (await _add(client, _body(0, [], _checkpoint(log, 4)))).status_code == 200
    assert (await _add(client, _body(4, _proof(4, 9), _checkpoint(rotated, 9)))).status_code == 200


def test_a_cosignature_is_what_the_spec_spells_checked_by_hand() -> None:
    """c2sp.org/tlog-cosignature, read independently of the module: the key ID is
    SHA-256(name || 0x0A || 0x04 || key)[:4], then a big-endian u64 timestamp, then the
    Ed25519 signature of "cosignature/v1\\ntime <t>\\n" followed by the checkpoint text."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    body = f"{ORIGIN}\n7\n{base64.b64encode(bytes(range(32))).decode()}\n"
    line = cosignature.Cosigner("witness.example/w1", private).cosign(body, 1_679_315_147)
    assert line.startswith("\u2014 witness.example/w1 ") and line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + public).digest()[:4]
    assert int.from_bytes(blob[4:12], "big") == 1_679_315_147
    private.public_key().verify(blob[12:], b"cosignature/v1\ntime 1679315147\n" + body.encode())
    vkey = cosignature.Cosigner("witness.example/w1", private).key.encode()
    assert base64.b64decode(vkey.split("+", 2)[2]) == b"\x04" + public
