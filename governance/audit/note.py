"""C2SP signed notes and tlog checkpoints with Ed25519 signatures.

Specifications:

* signed note: https://c2sp.org/signed-note (C2SP/C2SP ``signed-note.md``)
* checkpoint:  https://c2sp.org/tlog-checkpoint (C2SP/C2SP ``tlog-checkpoint.md``)

A signed note is a UTF-8 *text* ending in a newline, a blank line, and one or
more signature lines ``"\u2014 <key name> <base64(key id || signature)>\\n"``.
The signature covers exactly the text (including its final newline, excluding
the blank separator line). Only the Ed25519 signature type (0x01) is supported.

Parsing is deliberately strict and every rejection of untrusted input is a
:class:`NoteError` (a ``ValueError``), so callers can treat "not a valid,
correctly signed note" as a single failure mode.

In this order: strict decoding helpers, verifier and signer keys, signed notes, and the
checkpoint body carried by a note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteError",
    "Signer",
    "VerifierKey",
    "checkpoint_body",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "parse_verifier_key",
    "verifier_key",
    "verify_checkpoint",
]

#: Signature type identifier byte for Ed25519 (signed-note §"Signature types").
ALG_ED25519: Final = 0x01

#: The spec says verifiers SHOULD bound the number of signatures and MUST accept
#: at least 16. 100 matches golang.org/x/mod/sumdb/note.
MAX_SIGNATURES: Final = 100

_ED25519_PUBLIC_KEY_SIZE: Final = 32
_ED25519_SIGNATURE_SIZE: Final = 64
_KEY_ID_SIZE: Final = 4
_HASH_SIZE: Final = 32
_MAX_TREE_SIZE: Final = 2**64 - 1  # tree sizes are uint64 in the ecosystem

_SIG_PREFIX: Final = "\u2014 "  # em dash, space
# "MUST NOT contain any ASCII control characters (those below U+0020) other than newline."
_CONTROL_RE: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL_RE: Final = re.compile(r"0|[1-9][0-9]{0,19}")
_HEX_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{8}")


class NoteError(ValueError):
    """A note, checkpoint or verifier key is malformed or not validly signed."""


def _b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4) decoding.

    Besides rejecting characters outside the alphabet and bad padding, the
    input must be the canonical encoding of its value (unused trailing bits are
    zero), so an encoded value has exactly one accepted spelling.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise NoteError(f"{what} is not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _check_name(name: str, what: str = "key name") -> None:
    """signed-note: key names MUST be non-empty and contain no Unicode spaces or '+'."""
    if not name:
        raise NoteError(f"{what} is empty")
    if "+" in name:
        raise NoteError(f"{what} contains '+'")
    if any(c.isspace() for c in name):
        raise NoteError(f"{what} contains whitespace")
    if _CONTROL_RE.search(name):
        raise NoteError(f"{what} contains control characters")
    _check_utf8(name, what)


def _check_utf8(text: str, what: str) -> None:
    # A Python str may hold lone surrogates, which are not encodable as UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteError(f"{what} is not valid UTF-8") from exc


def _check_text(text: str, what: str) -> None:
    """Checks shared by note text and note bodies (signed-note §"Format")."""
    if not text:
        raise NoteError(f"{what} is empty")
    if not text.endswith("\n"):
        raise NoteError(f"{what} does not end in a newline")
    _check_utf8(text, what)
    if _CONTROL_RE.search(text):
        raise NoteError(f"{what} contains control characters other than newline")


def key_id(name: str, public_key: bytes) -> int:
    """Ed25519 key ID: ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` as a big-endian uint32.

    signed-note §"Ed25519 signatures". The ID is an identifier, not a
    security boundary: the verifier is always configured with the full key.
    """
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:_KEY_ID_SIZE], "big")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """An Ed25519 signed-note verifier: key name, key ID and raw 32-byte public key.

    Construction validates the name, the key length and that ``key_id`` is the
    one derived from name and key, raising :class:`NoteError` otherwise.
    """

    name: str
    key_id: int
    public_key: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public_key) != _ED25519_PUBLIC_KEY_SIZE:
            raise NoteError(f"Ed25519 public key must be {_ED25519_PUBLIC_KEY_SIZE} bytes, got {len(self.public_key)}")
        if self.key_id != key_id(self.name, self.public_key):
            raise NoteError(f"key ID {self.key_id:08x} does not match key name and public key")

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> VerifierKey:
        """Build a verifier, deriving the key ID from name and key."""
        return cls(name, key_id(name, public_key), public_key)

    def encode(self) -> str:
        """The ``<name>+<hex key id>+<base64(0x01 || key)>`` verifier key string."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is a valid Ed25519 signature of ``message``."""
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def verifier_key(name: str, public_key: bytes) -> str:
    """Encode a verifier key string ``<name>+<8 hex digit key id>+<base64(0x01 || public key)>``."""
    return VerifierKey.from_public_key(name, public_key).encode()


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Parse and validate a verifier key string (see :func:`verifier_key`).

    Rejects (with :class:`NoteError`) a bad name, a key ID that is not 8
    lowercase hex digits or does not match the key, an algorithm byte other
    than 0x01 (Ed25519), a public key that is not 32 bytes, and bad base64.
    """
    if not isinstance(vkey, str):
        raise NoteError(f"malformed verifier key: expected str, got {type(vkey).__name__}")
    # The name cannot contain '+', but the base64 part can: split at most twice.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("malformed verifier key: expected <name>+<key id>+<key>")
    name, hex_id, b64 = parts
    _check_name(name)
    if not _HEX_KEY_ID_RE.fullmatch(hex_id):
        raise NoteError("malformed verifier key: key ID must be 8 lowercase hex digits")
    raw = _b64decode(b64, "verifier key")
    if not raw:
        raise NoteError("malformed verifier key: empty key")
    if raw[0] != ALG_ED25519:
        raise NoteError(f"unsupported verifier key algorithm 0x{raw[0]:02x} (only Ed25519 0x01)")
    return VerifierKey(name, int(hex_id, 16), raw[1:])


class Signer:
    """Signs notes with an Ed25519 private key under a key name."""

    __slots__ = ("_name", "_private_key", "_verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._verifier = VerifierKey.from_public_key(name, public)  # validates the name
        self._name = name
        self._private_key = private_key

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._verifier.key_id

    @property
    def public_key(self) -> bytes:
        return self._verifier.public_key

    @property
    def verifier(self) -> VerifierKey:
        return self._verifier

    def verifier_key(self) -> str:
        """The verifier key string matching this signer."""
        return self._verifier.encode()

    def signature_line(self, body: str) -> str:
        """Return the ``"\u2014 <name> <base64(key id || sig)>\\n"`` line for ``body``."""
        _check_text(body, "note body")
        sig = self._private_key.sign(body.encode("utf-8"))
        blob = self._verifier.key_id.to_bytes(_KEY_ID_SIZE, "big") + sig
        return f"{_SIG_PREFIX}{self._name} {base64.b64encode(blob).decode('ascii')}\n"

    def sign_note(self, body: str) -> str:
        """Return the signed note ``body + "\\n" + signature line``.

        ``body`` is the note text: non-empty, ending in a newline, valid UTF-8
        and free of control characters other than newline (else ``NoteError``).
        """
        return body + "\n" + self.signature_line(body)

    def __repr__(self) -> str:
        return f"Signer(name={self._name!r}, key_id={self.key_id:08x})"


@dataclass(frozen=True, slots=True)
class _Signature:
    name: str
    key_id: int
    signature: bytes


def _split_note(note: str | bytes) -> tuple[str, list[_Signature]]:
    """Split a signed note into its text and parsed signature lines (signed-note §"Format")."""
    if isinstance(note, bytes | bytearray | memoryview):
        try:
            note = bytes(note).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("malformed note: not valid UTF-8") from exc
    elif not isinstance(note, str):
        raise NoteError(f"malformed note: expected str or bytes, got {type(note).__name__}")
    _check_utf8(note, "malformed note: note")
    if _CONTROL_RE.search(note):
        raise NoteError("malformed note: contains control characters other than newline")
    # "the text is separated from the signatures by the last empty line in the note"
    sep = note.rfind("\n\n")
    if sep < 0:
        raise NoteError("malformed note: no blank line separating text and signatures")
    text, sig_block = note[: sep + 1], note[sep + 2 :]
    if not sig_block:
        raise NoteError("malformed note: no signature lines")
    if not sig_block.endswith("\n"):
        raise NoteError("malformed note: signature block does not end in a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"malformed note: more than {MAX_SIGNATURES} signatures")
    sigs: list[_Signature] = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed note: signature line does not start with an em dash and space")
        name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError("malformed note: signature line has no signature")
        try:
            _check_name(name)
            blob = _b64decode(b64, "signature")
        except NoteError as exc:
            raise NoteError(f"malformed note: {exc}") from None
        if len(blob) <= _KEY_ID_SIZE:
            raise NoteError("malformed note: signature too short")
        sigs.append(_Signature(name, int.from_bytes(blob[:_KEY_ID_SIZE], "big"), blob[_KEY_ID_SIZE:]))
    return text, sigs


def open_note(note: str | bytes, verifier: VerifierKey) -> str:
    """Verify ``note`` against ``verifier`` and return its text (the signed body).

    Following signed-note §"Signatures": signatures whose (name, key ID) do not
    both match the verifier are ignored (they may be witnesses or rotated
    keys), but must still be well formed. Every signature that does match must
    verify, and at least one must be present.

    Raises :class:`NoteError` for a malformed note, no signature from this
    key, or a bad signature.
    """
    text, sigs = _split_note(note)
    message = text.encode("utf-8")
    verified = False
    for sig in sigs:
        if sig.name != verifier.name or sig.key_id != verifier.key_id:
            continue
        if not verifier.verify(message, sig.signature):
            raise NoteError(f"bad signature from key {verifier.name}+{verifier.key_id:08x}")
        verified = True
    if not verified:
        raise NoteError(f"no signature from key {verifier.name}+{verifier.key_id:08x}")
    return text


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A parsed tlog-checkpoint body: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """Serialise back to the checkpoint note text."""
        return checkpoint_body(self.origin, self.size, self.root, self.extensions)


def _check_line(line: str, what: str) -> None:
    if not line:
        raise NoteError(f"{what} is empty")
    if "\n" in line:
        raise NoteError(f"{what} contains a newline")
    _check_utf8(line, what)
    if _CONTROL_RE.search(line):
        raise NoteError(f"{what} contains control characters")


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """Format a checkpoint note text (tlog-checkpoint §"Note text").

    ``origin\\n<size>\\n<base64 root>\\n`` followed by one line per extension.
    Raises :class:`NoteError` if the result would not parse back.
    """
    if isinstance(extensions, str):
        raise TypeError("extensions must be a sequence of lines, not a str")
    _check_line(origin, "checkpoint origin")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= _MAX_TREE_SIZE:
        raise NoteError("checkpoint size must be an integer in [0, 2**64)")
    if len(root) != _HASH_SIZE:
        raise NoteError(f"checkpoint root hash must be {_HASH_SIZE} bytes, got {len(root)}")
    for ext in extensions:
        _check_line(ext, "checkpoint extension line")
    lines = [origin, str(size), base64.b64encode(root).decode("ascii"), *extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse and strictly validate a checkpoint note text (tlog-checkpoint §"Note text").

    Requires at least three newline-terminated, non-empty lines: a non-empty
    origin, a decimal tree size without leading zeros (``0`` for an empty
    tree) that fits in a uint64, and the canonical base64 of a 32-byte root
    hash. Any further lines are returned as ``extensions``.
    """
    if not isinstance(body, str):
        raise NoteError(f"malformed checkpoint: expected str, got {type(body).__name__}")
    try:
        _check_text(body, "checkpoint")
    except NoteError as exc:
        raise NoteError(f"malformed checkpoint: {exc}") from None
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("malformed checkpoint: fewer than three lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteError("malformed checkpoint: empty origin")
    if not _DECIMAL_RE.fullmatch(size_text):
        raise NoteError("malformed checkpoint: tree size is not a decimal without leading zeros")
    size = int(size_text)
    if size > _MAX_TREE_SIZE:
        raise NoteError("malformed checkpoint: tree size exceeds 2**64 - 1")
    try:
        root = _b64decode(root_text, "root hash")
    except NoteError as exc:
        raise NoteError(f"malformed checkpoint: {exc}") from None
    if len(root) != _HASH_SIZE:
        raise NoteError(f"malformed checkpoint: root hash is {len(root)} bytes, expected {_HASH_SIZE}")
    if any(not ext for ext in extensions):
        raise NoteError("malformed checkpoint: empty extension line")
    return Checkpoint(origin, size, root, tuple(extensions))


def verify_checkpoint(note: str | bytes, vkey: str | VerifierKey, *, expected_origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with a verifier key and return the parsed checkpoint.

    ``vkey`` is a verifier key string (or an already parsed :class:`VerifierKey`).
    If ``expected_origin`` is given, the checkpoint's origin must equal it
    (clients should pin the log identity, not just its key).
    """
    verifier = vkey if isinstance(vkey, VerifierKey) else parse_verifier_key(vkey)
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} does not match expected {expected_origin!r}")
    return checkpoint


def signers(note: str | bytes) -> list[tuple[str, int]]:
    """The ``(name, key ID)`` of every signature line of a well-formed note, verified or not:
    who claims to have signed it (the log's key, and witnesses' cosignatures beside it)."""
    return [(sig.name, sig.key_id) for sig in _split_note(note)[1]]
