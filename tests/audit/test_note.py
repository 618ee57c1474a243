"""Tests for governance.audit.note (C2SP signed-note / tlog-checkpoint, Ed25519)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.audit.note import (
    MAX_SIGNATURES,
    Checkpoint,
    NoteError,
    Signer,
    VerifierKey,
    checkpoint_body,
    key_id,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    verifier_key,
    verify_checkpoint,
)

VECTORS_DIR = Path(__file__).resolve().parent / "vectors"  # published vectors, see vectors/README.md
NOTE_VECTORS = VECTORS_DIR / "c2sp-note.json"

EM_DASH = "\u2014"
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    # Deliberately fail (not skip) if the published vector is missing.
    assert NOTE_VECTORS.is_file(), f"missing test vectors: {NOTE_VECTORS}"
    data: dict[str, Any] = json.loads(NOTE_VECTORS.read_text(encoding="utf-8"))
    return data


def _body_of(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


def _signer(name: str = "example.com/log") -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# ----------------------------------------------------------------- published vector


def test_published_checkpoint_verifies(vector: dict[str, Any]) -> None:
    cp = verify_checkpoint(vector["note"], vector["vkey"])
    assert cp.origin == vector["origin"]
    assert cp.size == vector["size"]
    assert len(cp.root) == 32
    assert cp.extensions == ()
    assert cp.body() == _body_of(vector["note"])
    # Also as UTF-8 bytes, with a pre-parsed key, and with the origin pinned.
    verifier = parse_verifier_key(vector["vkey"])
    assert verify_checkpoint(vector["note"].encode("utf-8"), verifier) == cp
    assert verify_checkpoint(vector["note"], verifier, expected_origin=vector["origin"]) == cp
    with pytest.raises(NoteError, match="origin"):
        verify_checkpoint(vector["note"], verifier, expected_origin="other.example/log")


def test_published_key_id(vector: dict[str, Any]) -> None:
    vkey: str = vector["vkey"]
    parsed = parse_verifier_key(vkey)
    name, hex_id, _ = vkey.split("+", 2)
    assert parsed.name == name
    assert parsed.key_id == int(hex_id, 16)
    assert key_id(parsed.name, parsed.public_key) == parsed.key_id
    assert verifier_key(parsed.name, parsed.public_key) == vkey
    assert parsed.encode() == vkey


def test_every_body_character_substitution_fails(vector: dict[str, Any]) -> None:
    note: str = vector["note"]
    vkey = parse_verifier_key(vector["vkey"])
    body = _body_of(note)
    assert body
    assert note.startswith(body)
    for i, c in enumerate(body):
        for replacement in {chr(ord(c) ^ 1), "X" if c != "X" else "Y", "\n" if c != "\n" else " "}:
            tampered = note[:i] + replacement + note[i + 1 :]
            assert tampered != note
            with pytest.raises(NoteError):
                verify_checkpoint(tampered, vkey)


def test_every_body_byte_flip_fails(vector: dict[str, Any]) -> None:
    raw: bytes = vector["note"].encode("utf-8")
    vkey = parse_verifier_key(vector["vkey"])
    body_len = len(_body_of(vector["note"]).encode("utf-8"))
    for i in range(body_len):
        for mask in (0x01, 0x80):
            tampered = bytearray(raw)
            tampered[i] ^= mask
            with pytest.raises(NoteError):
                verify_checkpoint(bytes(tampered), vkey)


def _replace_sig_blob(note: str, mutate: Any) -> str:
    body = _body_of(note)
    sig_line = note[len(body) + 1 :]
    name, b64 = sig_line[len(EM_DASH) + 1 : -1].split(" ")
    blob = bytearray(base64.b64decode(b64))
    mutate(blob)
    return f"{body}\n{EM_DASH} {name} {base64.b64encode(bytes(blob)).decode()}\n"


def test_tampered_signature_fails(vector: dict[str, Any]) -> None:
    note: str = vector["note"]
    for pos in (4, 20, 67):  # inside the 64-byte Ed25519 signature

        def flip(blob: bytearray, pos: int = pos) -> None:
            blob[pos] ^= 0x01

        with pytest.raises(NoteError, match="bad signature"):
            verify_checkpoint(_replace_sig_blob(note, flip), vector["vkey"])

    def truncate(blob: bytearray) -> None:
        del blob[-1]

    with pytest.raises(NoteError, match="bad signature"):
        verify_checkpoint(_replace_sig_blob(note, truncate), vector["vkey"])

    def change_key_id(blob: bytearray) -> None:
        blob[0] ^= 0x01

    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(_replace_sig_blob(note, change_key_id), vector["vkey"])


def test_tampered_signature_text_fails(vector: dict[str, Any]) -> None:
    note: str = vector["note"]
    sig_start = len(_body_of(note)) + 1
    for i in range(sig_start, len(note)):
        c = note[i]
        tampered = note[:i] + ("A" if c != "A" else "B") + note[i + 1 :]
        with pytest.raises(NoteError):
            verify_checkpoint(tampered, vector["vkey"])


def test_different_key_fails(vector: dict[str, Any]) -> None:
    name = parse_verifier_key(vector["vkey"]).name
    other = verifier_key(name, _raw_public(Ed25519PrivateKey.generate()))
    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(vector["note"], other)


def test_colliding_key_id_from_wrong_key_fails(vector: dict[str, Any]) -> None:
    """A signature line claiming the trusted name and key ID but made by another key is rejected."""
    trusted = parse_verifier_key(vector["vkey"])
    body = _body_of(vector["note"])
    forged = Ed25519PrivateKey.generate().sign(body.encode())
    blob = trusted.key_id.to_bytes(4, "big") + forged
    note = f"{body}\n{EM_DASH} {trusted.name} {base64.b64encode(blob).decode()}\n"
    with pytest.raises(NoteError, match="bad signature"):
        verify_checkpoint(note, trusted)


# ----------------------------------------------------------------- round trip


def test_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    signer = Signer("example.com/log42", key)
    assert signer.public_key == _raw_public(key)
    assert signer.key_id == key_id("example.com/log42", signer.public_key)
    vkey = signer.verifier_key()
    assert vkey == verifier_key("example.com/log42", signer.public_key)
    assert vkey.startswith(f"example.com/log42+{signer.key_id:08x}+")
    parsed = parse_verifier_key(vkey)
    assert parsed == signer.verifier
    assert parsed.key_id == key_id(parsed.name, parsed.public_key)

    body = checkpoint_body("example.com/log42", 20852163, ROOT)
    assert body == f"example.com/log42\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    note = signer.sign_note(body)
    assert note.startswith(body + "\n" + EM_DASH + " example.com/log42 ")
    assert note.endswith("\n")
    assert open_note(note, parsed) == body
    assert verify_checkpoint(note, vkey) == Checkpoint("example.com/log42", 20852163, ROOT, ())


def test_round_trip_with_extensions_and_cosignatures() -> None:
    log, witness = _signer("example.com/log"), _signer("witness.example/w1")
    body = checkpoint_body("example.com/log", 0, ROOT, ["ext one", "ext\u00e9two"])
    note = log.sign_note(body) + witness.signature_line(body)
    for signer in (log, witness):
        cp = verify_checkpoint(note, signer.verifier_key())
        assert cp == Checkpoint("example.com/log", 0, ROOT, ("ext one", "ext\u00e9two"))
        assert cp.body() == body
    with pytest.raises(NoteError, match="no signature"):
        verify_checkpoint(note, _signer("example.com/log").verifier_key())


def test_arbitrary_note_text_round_trip() -> None:
    signer = _signer()
    for body in ["hello\n", "\n", "a\n\nb\n", "a\n\n", "Ognuno sta solo\n\ned \u00e8 subito sera.\n"]:
        assert open_note(signer.sign_note(body), signer.verifier) == body


def test_duplicate_and_bad_signatures_from_trusted_key() -> None:
    signer = _signer()
    body = checkpoint_body("example.com/log", 1, ROOT)
    line = signer.signature_line(body)
    assert open_note(body + "\n" + line + line, signer.verifier) == body
    bad = signer.signature_line("something else\n")
    # A signature from the trusted key that fails to verify rejects the note, even with a good one.
    with pytest.raises(NoteError, match="bad signature"):
        open_note(body + "\n" + line + bad, signer.verifier)


def test_unknown_signatures_are_ignored_but_must_be_well_formed() -> None:
    signer = _signer()
    body = checkpoint_body("example.com/log", 1, ROOT)
    unknown_blob = base64.b64encode(bytes([0, 0, 0, 1]) + b"junk").decode()
    unknown = f"{EM_DASH} other.example {unknown_blob}\n"
    assert open_note(body + "\n" + unknown + signer.signature_line(body), signer.verifier) == body
    malformed = f"{EM_DASH} other.example not*base64\n"
    with pytest.raises(NoteError, match="malformed"):
        open_note(body + "\n" + malformed + signer.signature_line(body), signer.verifier)


def test_signature_limit() -> None:
    signer = _signer()
    body = "text\n"
    other = _signer("other.example")
    filler = other.signature_line(body)
    ok = body + "\n" + filler * (MAX_SIGNATURES - 1) + signer.signature_line(body)
    assert open_note(ok, signer.verifier) == body
    with pytest.raises(NoteError, match="signatures"):
        open_note(body + "\n" + filler * MAX_SIGNATURES + signer.signature_line(body), signer.verifier)


@pytest.mark.parametrize(
    "body",
    ["", "no newline", "tab\there\n", "cr\r\n", "nul\x00\n", "surrogate \udc80\n"],
)
def test_sign_note_rejects_invalid_body(body: str) -> None:
    with pytest.raises(NoteError):
        _signer().sign_note(body)


# ----------------------------------------------------------------- malformed notes


def _good_note() -> tuple[Signer, str, str]:
    signer = _signer()
    body = checkpoint_body("example.com/log", 5, ROOT)
    return signer, body, signer.sign_note(body)


def test_malformed_notes() -> None:
    signer, body, note = _good_note()
    sig_line = note[len(body) + 1 :]
    cases = {
        "empty": "",
        "no separator": body + sig_line,
        "no signatures": body + "\n",
        "missing final newline": note[:-1],
        "blank line after sigs": note + "\n",
        "extra text after sigs": note + "trailing",
        "hyphen instead of em dash": note.replace(EM_DASH, "-"),
        "no space after dash": note.replace(EM_DASH + " ", EM_DASH),
        "no signature field": body + "\n" + f"{EM_DASH} example.com/log\n",
        "empty name": body + "\n" + sig_line.replace(" example.com/log ", "  "),
        "two spaces": body + "\n" + sig_line.replace(" example.com/log ", " example.com/log  "),
        "short sig": body + "\n" + f"{EM_DASH} example.com/log AAAAAA==\n",
        "crlf": note.replace("\n", "\r\n"),
        "control char": "\x01" + note,
        "lone surrogate": "\udc80" + note,
    }
    for label, bad in cases.items():
        with pytest.raises(NoteError):
            open_note(bad, signer.verifier)
        print(label)  # shows which case failed if the assertion above does not hold
    with pytest.raises(NoteError, match="UTF-8"):
        open_note(b"\xff" + note.encode(), signer.verifier)


def test_body_line_without_newline_is_rejected() -> None:
    signer, body, note = _good_note()
    # Dropping the body's final newline leaves no blank-line separator.
    with pytest.raises(NoteError, match="malformed"):
        open_note(body[:-1] + note[len(body) :], signer.verifier)


def test_signed_but_malformed_checkpoint_is_rejected() -> None:
    signer = _signer()
    for body in ["origin\n007\n" + base64.b64encode(ROOT).decode() + "\n", "only one line\n"]:
        note = signer.sign_note(body)
        assert open_note(note, signer.verifier) == body
        with pytest.raises(NoteError, match="malformed checkpoint"):
            verify_checkpoint(note, signer.verifier_key())


# ----------------------------------------------------------------- verifier keys


def test_verifier_key_rejections() -> None:
    key = _raw_public(Ed25519PrivateKey.generate())
    name = "example.com/log"
    good = verifier_key(name, key)
    kid = f"{key_id(name, key):08x}"

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    ed = b64(bytes([1]) + key)
    bad = {
        "wrong algorithm": f"{name}+{kid}+{b64(bytes([2]) + key)}",
        "short key": f"{name}+{kid}+{b64(bytes([1]) + key[:31])}",
        "long key": f"{name}+{kid}+{b64(bytes([1]) + key + bytes(1))}",
        "empty key": f"{name}+{kid}+",
        "wrong key id": f"{name}+{(int(kid, 16) ^ 1):08x}+{ed}",
        "uppercase key id": f"{name}+{kid.upper() if kid != kid.upper() else 'ABCDEF12'}+{ed}",
        "short key id": f"{name}+{kid[:7]}+{ed}",
        "long key id": f"{name}+0{kid}+{ed}",
        "empty name": f"+{kid}+{ed}",
        "space in name": verifier_key_unchecked("example.com log", key),
        "nbsp in name": verifier_key_unchecked("example.com\u00a0log", key),
        "plus in name": f"a+{name}+{kid}+{ed}",
        "bad base64": f"{name}+{kid}+{ed[:-1]}*",
        "missing parts": f"{name}+{kid}",
        "other name": f"other.example+{kid}+{ed}",
    }
    assert parse_verifier_key(good).public_key == key
    for label, vkey in bad.items():
        with pytest.raises(NoteError):
            parse_verifier_key(vkey)
        print(label)
    for bad_name in ["", "a b", "a+b", "a\tb", "a\u2003b"]:
        with pytest.raises(NoteError):
            verifier_key(bad_name, key)
        with pytest.raises(NoteError):
            Signer(bad_name, Ed25519PrivateKey.generate())
    with pytest.raises(NoteError):
        VerifierKey(name, key_id(name, key) ^ 1, key)


def verifier_key_unchecked(name: str, key: bytes) -> str:
    kid = key_id(name, key)
    encoded = base64.b64encode(bytes([1]) + key).decode()
    return f"{name}+{kid:08x}+{encoded}"


# ----------------------------------------------------------------- checkpoints


def test_parse_checkpoint_valid() -> None:
    r = base64.b64encode(ROOT).decode()
    assert parse_checkpoint(f"o\n0\n{r}\n") == Checkpoint("o", 0, ROOT)
    assert parse_checkpoint(f"o\n{2**64 - 1}\n{r}\na\nb\n").extensions == ("a", "b")


@pytest.mark.parametrize(
    "size",
    [
        "",
        "00",
        "01",
        "+1",
        "-1",
        " 1",
        "1 ",
        "1_000",
        "0x10",
        "1e3",
        "\u0661",
        "\uff11",
        str(2**64),
        "9" * 5000,
    ],
)
def test_parse_checkpoint_rejects_bad_size(size: str) -> None:
    r = base64.b64encode(ROOT).decode()
    with pytest.raises(NoteError, match="malformed checkpoint"):
        parse_checkpoint(f"origin\n{size}\n{r}\n")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "origin\n1\n",
        "origin\n1\n" + base64.b64encode(ROOT).decode(),  # no final newline
        "\n1\n" + base64.b64encode(ROOT).decode() + "\n",  # empty origin
        "origin\n1\n" + base64.b64encode(ROOT[:31]).decode() + "\n",
        "origin\n1\n" + base64.b64encode(ROOT + b"\x00").decode() + "\n",
        "origin\n1\n" + base64.b64encode(ROOT).decode().rstrip("=") + "\n",  # unpadded
        "origin\n1\n" + base64.b64encode(ROOT).decode()[:-2] + "B=\n",  # non-canonical trailing bits
        "origin\n1\n " + base64.b64encode(ROOT).decode() + "\n",
        "origin\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + "\n",
        "origin\n1\n" + base64.b64encode(ROOT).decode() + "\n\n",  # empty extension line
        "origin\n1\n" + base64.b64encode(ROOT).decode() + "\next\n\n",
        "orig\x00in\n1\n" + base64.b64encode(ROOT).decode() + "\n",
    ],
)
def test_parse_checkpoint_rejects(body: str) -> None:
    with pytest.raises(NoteError, match="malformed checkpoint"):
        parse_checkpoint(body)


def test_checkpoint_body_validation() -> None:
    with pytest.raises(NoteError):
        checkpoint_body("", 1, ROOT)
    with pytest.raises(NoteError):
        checkpoint_body("a\nb", 1, ROOT)
    with pytest.raises(NoteError):
        checkpoint_body("o", -1, ROOT)
    with pytest.raises(NoteError):
        checkpoint_body("o", 2**64, ROOT)
    with pytest.raises(NoteError):
        checkpoint_body("o", 1, ROOT[:31])
    with pytest.raises(NoteError):
        checkpoint_body("o", 1, ROOT, [""])
    with pytest.raises(NoteError):
        checkpoint_body("o", 1, ROOT, ["a\nb"])


@given(
    origin=st.text(min_size=1).filter(lambda s: "\n" not in s),
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(min_size=1).filter(lambda s: "\n" not in s), max_size=3),
)
def test_checkpoint_body_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    try:
        body = checkpoint_body(origin, size, root, extensions)
    except NoteError:
        return  # control characters or surrogates
    assert parse_checkpoint(body) == Checkpoint(origin, size, root, tuple(extensions))


# ----------------------------------------------------------------- fuzzing: only NoteError

_FUZZ_SIGNER = Signer("example.com/log", Ed25519PrivateKey.generate())
_FUZZ_BODY = checkpoint_body("example.com/log", 123, ROOT)
_FUZZ_NOTE = _FUZZ_SIGNER.sign_note(_FUZZ_BODY)
_FUZZ_VKEY = _FUZZ_SIGNER.verifier_key()

_note_alphabet = st.sampled_from(["\n", "\n\n", EM_DASH, " ", "+", "=", "A", "/", "0", "example.com/log", "\x00"])
_structured_text = st.lists(st.one_of(_note_alphabet, st.text(max_size=4)), max_size=30).map("".join)


@st.composite
def _mutated_note(draw: st.DrawFn) -> str:
    note = _FUZZ_NOTE
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        i = draw(st.integers(min_value=0, max_value=len(note)))
        j = draw(st.integers(min_value=i, max_value=min(len(note), i + 3)))
        note = note[:i] + draw(st.one_of(_note_alphabet, st.text(max_size=2))) + note[j:]
    return note


def _only_note_errors(note: str | bytes) -> None:
    try:
        cp = verify_checkpoint(note, _FUZZ_VKEY)
    except NoteError:
        return
    # Anything accepted must carry a valid signature over exactly the original body.
    assert cp == parse_checkpoint(_FUZZ_BODY)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), _structured_text, _mutated_note()))
def test_random_text_raises_only_note_error(note: str) -> None:
    _only_note_errors(note)


@settings(max_examples=200)
@given(st.binary())
def test_random_bytes_raise_only_note_error(note: bytes) -> None:
    _only_note_errors(note)
    _only_note_errors(_FUZZ_NOTE.encode() + note)


@settings(max_examples=200)
@given(st.one_of(st.text(), _structured_text))
def test_random_verifier_keys_raise_only_note_error(vkey: str) -> None:
    try:
        parsed = parse_verifier_key(vkey)
    except NoteError:
        return
    assert parsed.encode() == vkey


@settings(max_examples=200)
@given(st.one_of(st.text(), _structured_text, st.just(_FUZZ_BODY)))
def test_random_checkpoint_bodies_raise_only_note_error(body: str) -> None:
    try:
        cp = parse_checkpoint(body)
    except NoteError:
        return
    assert cp.body() == body


@given(st.text(), st.data())
def test_open_note_random_body_round_trip(body: str, data: st.DataObject) -> None:
    body = body + "\n"
    try:
        note = _FUZZ_SIGNER.sign_note(body)
    except NoteError:
        return
    assert open_note(note, _FUZZ_SIGNER.verifier) == body
    i = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    c = body[i]
    tampered = note[:i] + ("a" if c != "a" else "b") + note[i + 1 :]
    with pytest.raises(NoteError):
        open_note(tampered, _FUZZ_SIGNER.verifier)
