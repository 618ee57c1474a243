"""Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature, ``cosignature/v1``).

A cosignature is a signed-note signature line on a checkpoint, by a witness, whose
signature is ``u64 timestamp || Ed25519 signature`` over::

    cosignature/v1
    time <timestamp>
    <the checkpoint's note text>

Key IDs use the signature type 0x04, so a witness key can never pass for a log key
(0x01) or the other way round. Every rejection is a :class:`~governance.audit.note.NoteError`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from governance.audit import note
from governance.audit.note import NoteError

ALG_COSIGNATURE_V1: Final = 0x04
HEADER: Final = "cosignature/v1\n"
MAX_TIMESTAMP: Final = 2**63 - 1
_SIG_PREFIX: Final = "\u2014 "
_KEY_ID_SIZE: Final = 4
_TIMESTAMP_SIZE: Final = 8
_SIGNATURE_SIZE: Final = 64


def cosigner_key_id(name: str, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()
    return int.from_bytes(digest[:_KEY_ID_SIZE], "big")


def signed_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature signs: the header, the time line and the checkpoint's note text."""
    return f"{HEADER}time {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A witness's verifier key: its name and Ed25519 public key (vkey type 0x04)."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        return cosigner_key_id(self.name, self.public_key)

    def encode(self) -> str:
        """``<name>+<hex key id>+<base64(0x04 || key)>``."""
        encoded = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def open(self, checkpoint_text: str, line: str) -> int:
        """The timestamp of ``line`` when it is this witness's valid cosignature of the
        checkpoint text; NoteError otherwise."""
        name, key_id, timestamp, signature = split_line(line)
        if name != self.name or key_id != self.key_id:
            raise NoteError(f"not a cosignature by {self.name}+{self.key_id:08x}")
        verifier = note.VerifierKey.from_public_key(self.name, self.public_key)
        if not verifier.verify(signed_message(checkpoint_text, timestamp), signature):
            raise NoteError(f"bad cosignature from {self.name}+{self.key_id:08x}")
        return timestamp


def parse_cosigner_key(vkey: str) -> CosignerKey:
    """A witness verifier key string; NoteError unless it is a well-formed cosignature/v1 key."""
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("malformed witness key: expected <name>+<key id>+<key>")
    name, hex_id, encoded = parts
    note._check_name(name, "witness name")
    raw = note._b64decode(encoded, "witness key")
    if len(raw) != 1 + 32 or raw[0] != ALG_COSIGNATURE_V1:
        raise NoteError("malformed witness key: not an Ed25519 cosignature/v1 key (type 0x04, 32 bytes)")
    key = CosignerKey(name, raw[1:])
    if hex_id != f"{key.key_id:08x}":
        raise NoteError("malformed witness key: the key ID does not match its name and key")
    return key


def split_line(line: str) -> tuple[str, int, int, bytes]:
    """A cosignature line's name, key ID, timestamp and signature (its signature unchecked)."""
    if not line.startswith(_SIG_PREFIX) or not line.endswith("\n") or line.count("\n") != 1:
        raise NoteError("malformed cosignature: not one signature line")
    name, space, encoded = line[len(_SIG_PREFIX) : -1].partition(" ")
    if not space:
        raise NoteError("malformed cosignature: no signature")
    note._check_name(name, "witness name")
    blob = note._b64decode(encoded, "cosignature")
    if len(blob) != _KEY_ID_SIZE + _TIMESTAMP_SIZE + _SIGNATURE_SIZE:
        raise NoteError("malformed cosignature: wrong length for an Ed25519 cosignature/v1")
    key_id = int.from_bytes(blob[:_KEY_ID_SIZE], "big")
    timestamp = int.from_bytes(blob[_KEY_ID_SIZE : _KEY_ID_SIZE + _TIMESTAMP_SIZE], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteError("malformed cosignature: timestamp beyond 2**63 - 1")
    return name, key_id, timestamp, blob[_KEY_ID_SIZE + _TIMESTAMP_SIZE :]


class Cosigner:
    """A witness's signing key under its name."""

    __slots__ = ("_private_key", "key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        note._check_name(name, "witness name")
        self._private_key = private_key
        self.key = CosignerKey(name, private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """The cosignature line of ``checkpoint_text`` at ``timestamp`` (POSIX seconds)."""
        if not 0 <= timestamp <= MAX_TIMESTAMP:
            raise ValueError("timestamp out of range")
        signature = self._private_key.sign(signed_message(checkpoint_text, timestamp))
        blob = self.key.key_id.to_bytes(_KEY_ID_SIZE, "big") + timestamp.to_bytes(_TIMESTAMP_SIZE, "big") + signature
        return f"{_SIG_PREFIX}{self.key.name} {base64.b64encode(blob).decode()}\n"
