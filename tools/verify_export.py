#!/usr/bin/env python3
"""Verify an exported audit log offline, without any of the service's code.

Usage::

    python verify_export.py EXPORT.jsonl [--key VERIFIER_KEY] [--previous EARLIER]... [--json]

This script needs only Python 3.11+ and the ``cryptography`` package (for Ed25519). It is
deliberately self-contained so that an auditor can read all of it: everything below is
the documentation of the export format and of what "verifies" means.

Exit status: 0 when everything verifies; 1 when anything fails (each failure is printed
with its line number, its sequence number and what is wrong); 2 on a usage error or when
the file is not a well-formed export at all (unreadable, a line that is not a JSON
object or has duplicate keys, a line without its required fields, no checkpoint line,
content after the checkpoint), in which case nothing has been verified.


What the service guarantees
===========================

Every audit entry the service records is encoded once, canonically, as a *leaf input*
(a byte string) and appended to an RFC 9162 Merkle tree. From time to time the service
signs a *checkpoint*: the tree size and root hash, in the C2SP signed-note format, with
the deployment's Ed25519 key. The root hash commits to every leaf input in order, so a
valid signature on a checkpoint of size N vouches for the exact bytes of entries 0..N-1:
changing, deleting, inserting or reordering any entry changes the root.


The export format
=================

An export is a UTF-8 text file of JSON lines (one JSON object per line).

Every line but the last describes one entry::

    {"type": "entry", "seq": N,
     "entry": {"seq": N, "time": "<RFC 3339 UTC>",
               "actor": {"sub": str, "roles": [str, ...]},
               "action": str, "resource": {"type": str, "id": str | null},
               "request_id": str | null, "outcome": str, "details": {...},
               "leaf_hash": "<hex>"},
     "leaf_input": "<base64 of the exact leaf input bytes>",
     "leaf_hash": "<hex>"}

``entry`` holds the decoded fields, for people and tools to read. ``leaf_input`` holds the
bytes that were actually hashed into the tree. The leaf input (format version 1) is UTF-8
JSON with no insignificant whitespace and object keys in ascending order at every level::

    {"action":...,"actor":{"roles":[...],"sub":...},"details":{...},"outcome":...,
     "request_id":...,"resource":{"id":...,"type":...},"seq":N,"time":"...Z","v":1}

The last line is the checkpoint::

    {"type": "checkpoint", "tree_size": N, "root": "<hex>",
     "checkpoint": "<C2SP signed note text>",
     "verifier_key": "<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>"}

A *partial* export (``GET /api/v1/audit/export?since_seq=M`` or ``governance audit export
--since-seq M``, for the part of the log a reader has not yet seen) leaves out entries 0
to M-1 and opens instead with a prefix line::

    {"type": "prefix", "tree_size": M, "root": "<hex>", "compact_range": ["<hex>", ...]}

``compact_range`` holds the roots of the complete subtrees that cover leaves 0..M-1, one
per set bit of M, largest (leftmost) first; ``root`` is the Merkle Tree Hash of those M
leaves, which they fold to. The entries M, M+1, ... follow, then the checkpoint of the
whole tree.


What is checked
===============

1. Sequence. Entries are numbered 0, 1, 2, ... (M, M+1, ... after a prefix of size M)
   in file order, with no gap, no duplicate and nothing out of order, and there are
   exactly ``tree_size`` (minus M) of them.

2. Each entry.

   a. ``leaf_hash`` is SHA-256(0x00 || leaf input bytes), the RFC 9162 section 2.1.1
      leaf hash, and the same hash is repeated in ``entry.leaf_hash``.
   b. The leaf input is UTF-8 JSON (no duplicate object keys, no NaN or Infinity) with
      exactly the keys action, actor {roles, sub}, details, outcome, request_id,
      resource {id, type}, seq, time and v, and v is 1.
   c. The leaf input agrees with the decoded ``entry``: action, actor.sub, actor.roles,
      details (deep equality; numbers compare by value, true/false are not numbers),
      outcome, request_id, resource.id, resource.type, seq (which must also equal the
      line's seq) and time (both are parsed as timestamps and must be the same instant).
      The decoded ``entry`` may not carry fields that the leaf input does not cover: such
      fields would be protected by no hash.
   d. The leaf input is canonical: re-encoding it with sorted keys and no whitespace gives
      the same bytes. A difference is reported as a WARNING only, because JSON encoders
      legitimately differ in how they spell floating-point numbers (``1e+100`` versus
      ``1e100``). The hash commits to the bytes as they are, and check (c) compares the
      decoded content, so a non-canonical spelling cannot hide a change.

3. Tree. The RFC 9162 Merkle Tree Hash over the leaf hashes, in file order: the hash of
   an empty tree is SHA-256 of the empty string; one leaf's tree hash is its leaf hash;
   for n > 1 leaves, split at k, the largest power of two smaller than n, and hash
   SHA-256(0x01 || MTH(first k) || MTH(rest)). It is computed in a single streaming pass
   that keeps only one hash per set bit of the running size (a "compact range"). The
   result must equal the root in the checkpoint line (hex) and the root inside the signed
   note (base64). After a prefix the computation starts from its compact range, which
   must hold one hash per set bit of M and fold to the prefix's ``root``.

4. Checkpoint signature. The checkpoint is a C2SP signed note (c2sp.org/signed-note)
   whose text is a C2SP tlog checkpoint (c2sp.org/tlog-checkpoint):

   * The note is UTF-8 without ASCII control characters other than newline. The text is
     everything up to and including the newline before the *last* blank line; after the
     blank line come one or more signature lines, each
     "<U+2014 EM DASH> <space> <key name> <space> <base64(4-byte key ID || signature)>"
     and a newline.
   * The text (the signed message, as UTF-8 bytes, including its final newline and
     excluding the blank line) is: the origin line, the tree size in decimal without
     leading zeros, the root hash in base64 (32 bytes), then optional non-empty extension
     lines; every line ends in a newline.
   * The verifier key is "<name>+<key ID as 8 hex digits>+<base64(0x01 || 32-byte
     Ed25519 public key)>"; split it on "+" at most twice, since base64 may contain "+".
     The key ID must be the first 4 bytes, big-endian, of
     SHA-256(name || 0x0A || 0x01 || public key).
   * Signature lines whose key name or key ID differ from the verifier key are ignored
     (they may be witnesses' cosignatures or an older key). At least one signature line
     must match the verifier key, and every matching one must be a valid Ed25519
     signature of the text.
   * The origin must equal the verifier key's name and the size must equal
     ``tree_size``.

WHICH KEY. Without ``--key`` the verifier key written in the export itself is used. That
only shows the export is internally consistent: whoever can edit the file can also
replace the key and re-sign everything. The script then prints a warning; compare the key
it prints with the one the deployment publishes (``GET /api/v1/audit/public-key``) or,
better, pass that published key with ``--key``, in which case the export's key must equal
it and the checkpoint must be signed by it.

EARLIER CHECKPOINTS. ``--previous FILE`` (repeatable) names a checkpoint you verified
before: an earlier export (its checkpoint line is used) or a signed note as served by
``GET /api/v1/audit/checkpoint``. It must be signed by the same key, and its size P must
lie within this export (M <= P <= tree_size): the root over the first P leaves, as this
export computes it, must equal its root. That is what makes a log append-only to its
readers: the new tree contains the old one unchanged. It is also how a partial export is
tied to what you already hold: without ``--previous``, a prefix only shows that the
checkpoint covers *some* M earlier entries, and the script warns that you must compare
the prefix root with the checkpoint of size M you verified before.

The ``--json`` output is one object::

    {"ok": bool, "entries": N, "tree_size": N, "root": hex, "origin": str,
     "failures": [{"line": N, "seq": N, "message": str}, ...], ...}

plus ``computed_root``, ``verifier_key``, ``key_pinned``, ``since_seq`` (M, 0 for a full
export), ``prefix_root``, ``previous`` ([{"size", "root", "ok"}, ...]) and ``warnings``. ``root`` is the
root stated by the checkpoint; ``origin`` is read from the checkpoint text (and only
trustworthy when ``ok`` is true). On a format error it is {"ok": false, "error": str,
...}. The file is read line by line, so exports of any length verify in constant memory.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Final, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "Earlier",
    "FormatError",
    "MerkleTree",
    "Problem",
    "Result",
    "VerifierKey",
    "key_id",
    "leaf_hash",
    "main",
    "node_hash",
    "parse_verifier_key",
    "read_earlier",
    "verify_export",
    "verify_note",
]

# --------------------------------------------------------------------------- constants

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
LEAF_FORMAT_VERSION: Final = 1

ALG_ED25519: Final = 0x01
ED25519_PUBLIC_KEY_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = 64
KEY_ID_SIZE: Final = 4
MAX_SIGNATURES: Final = 100  # signed-note: verifiers must accept at least 16
MAX_TREE_SIZE: Final = 2**64 - 1

SIG_PREFIX: Final = "\u2014 "  # EM DASH, space
CONTROL_RE: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")
DECIMAL_RE: Final = re.compile(r"0|[1-9][0-9]*")
HEX_KEY_ID_RE: Final = re.compile(r"[0-9a-f]{8}")
HEX_HASH_RE: Final = re.compile(r"[0-9a-fA-F]{64}")

ENTRY_KEYS: Final = frozenset(
    {"seq", "time", "actor", "action", "resource", "request_id", "outcome", "details", "leaf_hash"}
)
LEAF_KEYS: Final = frozenset({"action", "actor", "details", "outcome", "request_id", "resource", "seq", "time", "v"})
ACTOR_KEYS: Final = frozenset({"roles", "sub"})
RESOURCE_KEYS: Final = frozenset({"id", "type"})

# The leaf fields compared with the decoded entry, and the JSON type each must have.
FIELDS: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (("action",), "string"),
    (("actor", "sub"), "string"),
    (("actor", "roles"), "list of strings"),
    (("details",), "object"),
    (("outcome",), "string"),
    (("request_id",), "string or null"),
    (("resource", "id"), "string or null"),
    (("resource", "type"), "string"),
    (("seq",), "integer"),
    (("time",), "timestamp"),
)

NUMBER_SPELLING: Final = (
    "leaf_input spells numbers differently from Python's json (e.g. 1e16 / 1e+16): "
    "expected between JSON encoders and harmless"
)
MAX_LISTED_LINES: Final = 5

KEY_WARNING: Final = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: no --key given. The checkpoint signature was checked with the verifier key
!! found INSIDE THE EXPORT ITSELF:
!!
!!     {key}
!!
!! That proves only that the file is internally consistent: anyone able to edit the
!! export can also replace this key and re-sign it. Compare the key above, character by
!! character, with the one the deployment published (GET /api/v1/audit/public-key), or
!! re-run with --key '<published key>'.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


class FormatError(Exception):
    """The input is not a well-formed export (exit status 2): nothing could be verified."""


# --------------------------------------------------------------------------- strict decoding


def _b64decode(text: str, what: str, *, canonical: bool = True) -> bytes:
    """Standard base64 (RFC 4648 section 4): alphabet and padding enforced.

    With ``canonical`` the text must also be the one encoding of its value (unused
    trailing bits zero), so a value cannot be spelled two ways.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if canonical and base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"{what} is not canonical base64")
    return raw


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"non-standard JSON constant {name}")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate object key {key!r}")
        obj[key] = value
    return obj


def _strict_json(text: str) -> Any:
    """Parse JSON, rejecting duplicate keys (ambiguous to other parsers) and NaN/Infinity."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_equal(a: Any, b: Any) -> bool:
    """Deep JSON equality: numbers by value, booleans are not numbers, dict key order ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return False


def _difference(a: Any, b: Any, path: str) -> tuple[str, Any, Any] | None:
    """Where two JSON values first differ: (path, a's value, b's value), or None if equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            found = _difference(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if _json_equal(a, b) else (path, a, b)


# A JSON string or number token (used to tell number spelling apart from other differences).
_TOKEN_RE: Final = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?')


def _mask_numbers(text: str) -> str:
    return _TOKEN_RE.sub(lambda m: m.group() if m.group().startswith('"') else "0", text)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_time(value: object) -> datetime | None:
    """A timezone-aware timestamp, or None. (Python 3.11 accepts the trailing "Z".)"""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed


def _has_kind(value: object, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "string or null":
        return value is None or isinstance(value, str)
    if kind == "list of strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "integer":
        return _is_int(value)
    if kind == "timestamp":
        return _parse_time(value) is not None
    raise AssertionError(kind)


_MISSING: Final = object()


def _lookup(obj: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


# --------------------------------------------------------------------------- RFC 9162 Merkle tree


def leaf_hash(leaf_input: bytes) -> bytes:
    """SHA-256(0x00 || leaf input): RFC 9162 section 2.1.1."""
    return hashlib.sha256(b"\x00" + leaf_input).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): RFC 9162 section 2.1.1."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """Streaming RFC 9162 Merkle Tree Hash ("compact range").

    The tree of n leaves is a sequence of complete subtrees whose sizes are the set bits
    of n, largest first (RFC 9162 splits off the largest power of two smaller than n,
    which is exactly the first of them). Only their roots are kept: at most
    log2(n) + 1 hashes. Appending a leaf merges equal-sized neighbours like a binary
    counter; the root folds the stack from the right.
    """

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    @classmethod
    def from_compact_range(cls, size: int, hashes: Sequence[bytes]) -> MerkleTree:
        """Resume from the roots of the complete subtrees covering [0, size), largest first."""
        if size < 0 or len(hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} holds {bin(size).count('1')} hashes, not {len(hashes)}")
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError(f"compact range hashes must be {HASH_SIZE} bytes")
        tree = cls()
        tree._stack = list(hashes)
        tree.size = size
        return tree

    def append(self, leaf: bytes) -> None:
        """Append one leaf *hash*."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes")
        node, n = leaf, self.size
        while n & 1:
            node = node_hash(self._stack.pop(), node)
            n >>= 1
        self._stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


# --------------------------------------------------------------------------- C2SP signed notes


def key_id(name: str, public_key: bytes) -> int:
    """Ed25519 key ID: first 4 bytes, big-endian, of SHA-256(name || 0x0A || 0x01 || key)."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:KEY_ID_SIZE], "big")


def _check_key_name(name: str) -> None:
    """signed-note: key names are non-empty, with no Unicode spaces and no '+'."""
    if not name:
        raise ValueError("key name is empty")
    if "+" in name or any(c.isspace() for c in name) or CONTROL_RE.search(name):
        raise ValueError(f"key name {name!r} contains '+', a space or a control character")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed Ed25519 signed-note verifier key."""

    name: str
    key_id: int
    public_key: bytes

    def encode(self) -> str:
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id:08x}+{encoded}"


def parse_verifier_key(vkey: str) -> VerifierKey:
    """Parse ``<name>+<hex key id>+<base64(0x01 || public key)>``; ValueError if invalid."""
    parts = vkey.split("+", 2)  # the name has no '+', the base64 may have some
    if len(parts) != 3:
        raise ValueError("verifier key is not <name>+<key id>+<base64 key>")
    name, hex_id, encoded = parts
    _check_key_name(name)
    if not HEX_KEY_ID_RE.fullmatch(hex_id):
        raise ValueError("verifier key ID is not 8 lowercase hex digits")
    raw = _b64decode(encoded, "verifier public key")
    if not raw or raw[0] != ALG_ED25519:
        raise ValueError("verifier key is not an Ed25519 (type 0x01) key")
    public_key = raw[1:]
    if len(public_key) != ED25519_PUBLIC_KEY_SIZE:
        raise ValueError(f"Ed25519 public key is {len(public_key)} bytes, expected {ED25519_PUBLIC_KEY_SIZE}")
    if int(hex_id, 16) != key_id(name, public_key):
        raise ValueError(f"verifier key ID {hex_id} does not match the key name and public key")
    return VerifierKey(name, int(hex_id, 16), public_key)


@dataclass(frozen=True, slots=True)
class _Signature:
    name: str
    key_id: int
    signature: bytes


def _split_note(note: str) -> tuple[str, list[_Signature]]:
    """Split a signed note into its text (the signed message) and its signature lines."""
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("note is not valid UTF-8") from None
    if CONTROL_RE.search(note):
        raise ValueError("note contains control characters other than newline")
    sep = note.rfind("\n\n")  # the LAST blank line separates text and signatures
    if sep < 0:
        raise ValueError("note has no blank line between text and signatures")
    text, block = note[: sep + 1], note[sep + 2 :]
    if not block or not block.endswith("\n"):
        raise ValueError("note signature block is empty or does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise ValueError("note signature line does not start with an em dash and a space")
        name, space, encoded = line[len(SIG_PREFIX) :].partition(" ")
        if not space:
            raise ValueError("note signature line has no signature")
        _check_key_name(name)
        blob = _b64decode(encoded, "note signature", canonical=False)
        if len(blob) <= KEY_ID_SIZE:
            raise ValueError("note signature is too short")
        signatures.append(_Signature(name, int.from_bytes(blob[:KEY_ID_SIZE], "big"), blob[KEY_ID_SIZE:]))
    return text, signatures


def _parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """Parse a tlog-checkpoint note text into (origin, tree size, root hash)."""
    if not text.endswith("\n"):
        raise ValueError("checkpoint text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ValueError("checkpoint text has fewer than three lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise ValueError("checkpoint origin is empty")
    if not DECIMAL_RE.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise ValueError(f"checkpoint tree size {size_text!r} is not a decimal without leading zeros")
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise ValueError(f"checkpoint root hash is {len(root)} bytes, expected {HASH_SIZE}")
    if any(not line for line in extensions):
        raise ValueError("checkpoint has an empty extension line")
    return origin, int(size_text), root


def _check_signatures(text: str, signatures: Iterable[_Signature], key: VerifierKey) -> None:
    """Every signature by ``key`` (same name AND key ID) must verify; at least one must exist."""
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    found = False
    for sig in signatures:
        if sig.name != key.name or sig.key_id != key.key_id:
            continue  # another key: a witness or an older key; ignored
        found = True
        if len(sig.signature) != ED25519_SIGNATURE_SIZE:
            raise ValueError(f"signature by {key.name}+{key.key_id:08x} is not 64 bytes")
        try:
            public.verify(sig.signature, text.encode("utf-8"))
        except InvalidSignature:
            raise ValueError(f"signature by {key.name}+{key.key_id:08x} does not verify") from None
    if not found:
        raise ValueError(f"checkpoint has no signature by {key.name}+{key.key_id:08x}")


def verify_note(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Verify a C2SP checkpoint note with a verifier key; return (origin, tree size, root hash).

    Raises ValueError when the key or note is malformed, or the note is not validly signed
    by the key. (Does not require the origin to equal the key name; the export check does.)
    """
    key = parse_verifier_key(vkey)
    text, signatures = _split_note(note)
    checkpoint = _parse_checkpoint(text)
    _check_signatures(text, signatures, key)
    return checkpoint


# --------------------------------------------------------------------------- export verification


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure or a warning, located by line number and sequence number when known."""

    line: int | None
    seq: int | None
    message: str

    def where(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.seq is not None:
            parts.append(f"seq {self.seq}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "seq": self.seq, "message": self.message}


@dataclass(slots=True)
class Result:
    entries: int = 0
    tree_size: int | None = None
    root: str | None = None
    computed_root: str | None = None
    origin: str | None = None
    verifier_key: str | None = None
    key_pinned: bool = False
    since_seq: int = 0
    prefix_root: str | None = None
    previous: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "tree_size": self.tree_size,
            "root": self.root,
            "origin": self.origin,
            "failures": [p.as_json() for p in self.failures],
            "computed_root": self.computed_root,
            "verifier_key": self.verifier_key,
            "key_pinned": self.key_pinned,
            "since_seq": self.since_seq,
            "prefix_root": self.prefix_root,
            "previous": self.previous,
            "warnings": [p.as_json() for p in self.warnings],
        }


@dataclass(frozen=True, slots=True)
class Earlier:
    """A checkpoint verified before (``--previous``), parsed but not yet checked."""

    source: str
    note: str


def read_earlier(path: str) -> Earlier:
    """An earlier export (its checkpoint line) or a signed checkpoint note; FormatError if neither."""
    last = ""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.read(1)
            if first != "{":
                return Earlier(path, first + handle.read())
            handle.seek(0)
            for line in handle:
                if line.strip():
                    last = line
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        obj = _strict_json(last)
    except ValueError as exc:
        raise FormatError(f"{path}: the last line is not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or obj.get("type") != "checkpoint" or not isinstance(obj.get("checkpoint"), str):
        raise FormatError(f"{path}: neither a signed checkpoint nor an export ending in a checkpoint line")
    return Earlier(path, obj["checkpoint"])


@dataclass(frozen=True, slots=True)
class _CheckpointLine:
    line: int
    tree_size: int
    root: str
    note: str
    verifier_key: str


def _require(obj: dict[str, Any], key: str, kind: str, lineno: int) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        raise FormatError(f"line {lineno}: required field {key!r} is missing")
    if not _has_kind(value, kind):
        raise FormatError(f"line {lineno}: field {key!r} must be a {kind}")
    return value


class _Verifier:
    def __init__(self, pinned: VerifierKey | None, earlier: Sequence[Earlier] = ()) -> None:
        self.pinned = pinned
        self.result = Result(key_pinned=pinned is not None)
        self.tree = MerkleTree()
        self.tree_broken = False
        self.last_seq = -1
        self.seen_entries = False
        self.prefix_line: int | None = None
        self.checkpoint: _CheckpointLine | None = None
        # Earlier checkpoints: (source, note text, signatures, origin, size, root), and the
        # root this export gives at each of their sizes once the tree reaches it.
        self.earlier: list[tuple[str, str, list[_Signature], str, int, bytes]] = []
        self.roots_at: dict[int, bytes] = {}
        for found in earlier:
            try:
                text, signatures = _split_note(found.note)
                origin, size, root = _parse_checkpoint(text)
            except ValueError as exc:
                raise FormatError(f"{found.source}: not a signed checkpoint: {exc}") from None
            self.earlier.append((found.source, text, signatures, origin, size, root))
        self.note_size()

    def note_size(self) -> None:
        """Keep the root at the size of an earlier checkpoint when the tree reaches it."""
        if not self.tree_broken and any(size == self.tree.size for *_, size, _ in self.earlier):
            self.roots_at[self.tree.size] = self.tree.root()

    def fail(self, line: int | None, seq: int | None, message: str) -> None:
        self.result.failures.append(Problem(line, seq, message))

    def warn(self, line: int | None, seq: int | None, message: str) -> None:
        self.result.warnings.append(Problem(line, seq, message))

    # -- lines

    def feed(self, lineno: int, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"line {lineno}: not valid UTF-8") from None
        if not text.strip():
            return  # blank lines carry nothing
        if self.checkpoint is not None:
            raise FormatError(f"line {lineno}: content after the checkpoint line (line {self.checkpoint.line})")
        try:
            obj = _strict_json(text)
        except ValueError as exc:
            raise FormatError(f"line {lineno}: not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise FormatError(f"line {lineno}: not a JSON object")
        kind = obj.get("type")
        if kind == "entry":
            self.seen_entries = True
            self.entry(lineno, obj)
        elif kind == "prefix":
            self.prefix(lineno, obj)
        elif kind == "checkpoint":
            self.checkpoint = _CheckpointLine(
                lineno,
                _require(obj, "tree_size", "integer", lineno),
                _require(obj, "root", "string", lineno),
                _require(obj, "checkpoint", "string", lineno),
                _require(obj, "verifier_key", "string", lineno),
            )
            extra = obj.keys() - {"type", "tree_size", "root", "checkpoint", "verifier_key"}
            if extra:
                self.warn(lineno, None, f"checkpoint line has unexpected fields {sorted(extra)}")
        else:
            raise FormatError(f'line {lineno}: \'type\' must be "entry" or "checkpoint", got {kind!r}')

    def prefix(self, lineno: int, obj: dict[str, Any]) -> None:
        """A partial export's first line: the compact range standing for the entries left out."""
        if self.seen_entries or self.prefix_line is not None:
            raise FormatError(f"line {lineno}: a prefix line must be the first line of the export")
        size: int = _require(obj, "tree_size", "integer", lineno)
        stated: str = _require(obj, "root", "string", lineno)
        hashes = obj.get("compact_range", _MISSING)
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise FormatError(f"line {lineno}: field 'compact_range' must be a list of strings")
        extra = obj.keys() - {"type", "tree_size", "root", "compact_range"}
        if extra:
            self.warn(lineno, None, f"prefix line has unexpected fields {sorted(extra)}")
        self.prefix_line = lineno
        self.result.since_seq = max(size, 0)
        self.result.prefix_root = stated
        self.last_seq = size - 1
        try:
            if size < 0:
                raise ValueError("the prefix tree_size is negative")
            if not all(HEX_HASH_RE.fullmatch(h) for h in hashes):
                raise ValueError("a compact_range hash is not 64 hex digits")
            self.tree = MerkleTree.from_compact_range(size, [bytes.fromhex(h) for h in hashes])
        except ValueError as exc:
            self.fail(lineno, None, f"prefix: {exc}")
            self.tree_broken = True
            return
        if not HEX_HASH_RE.fullmatch(stated) or bytes.fromhex(stated) != self.tree.root():
            self.fail(lineno, None, f"prefix root {stated} is not the root its compact range folds to")
        self.note_size()

    def entry(self, lineno: int, obj: dict[str, Any]) -> None:
        seq: int = _require(obj, "seq", "integer", lineno)
        entry: dict[str, Any] = _require(obj, "entry", "object", lineno)
        leaf_input: str = _require(obj, "leaf_input", "string", lineno)
        claimed: str = _require(obj, "leaf_hash", "string", lineno)
        extra = obj.keys() - {"type", "seq", "entry", "leaf_input", "leaf_hash"}
        if extra:
            self.warn(lineno, seq, f"entry line has unexpected fields {sorted(extra)}")
        self.result.entries += 1

        # 1. Sequence numbering.
        expected = self.last_seq + 1
        if seq < 0:
            self.fail(lineno, seq, "negative seq")
        elif seq > expected:
            missing = str(expected) if seq == expected + 1 else f"{expected}..{seq - 1}"
            self.fail(lineno, seq, f"gap in the sequence: seq {missing} missing before this entry")
        elif seq < expected:
            self.fail(lineno, seq, f"seq {seq} is a duplicate or out of order (follows seq {self.last_seq})")
        self.last_seq = max(self.last_seq, seq)

        # 2a. Leaf hash.
        raw: bytes | None = None
        computed: bytes | None = None
        try:
            raw = _b64decode(leaf_input, "leaf_input", canonical=False)
        except ValueError as exc:
            self.fail(lineno, seq, str(exc))
        else:
            computed = leaf_hash(raw)
        stated = bytes.fromhex(claimed) if HEX_HASH_RE.fullmatch(claimed) else None
        if stated is None:
            self.fail(lineno, seq, "leaf_hash is not 64 hex digits")
        elif computed is not None and stated != computed:
            self.fail(lineno, seq, f"leaf_hash {claimed} is not SHA-256(0x00 || leaf_input) = {computed.hex()}")
        inner = entry.get("leaf_hash", _MISSING)
        if inner is _MISSING:
            self.fail(lineno, seq, "entry.leaf_hash is missing")
        elif not isinstance(inner, str) or inner.lower() != claimed.lower():
            self.fail(lineno, seq, f"entry.leaf_hash {inner!r} differs from the line's leaf_hash")

        # 3. The tree is built from the hashes of the bytes actually exported.
        node = computed if computed is not None else stated
        if node is None:
            self.tree_broken = True
        elif not self.tree_broken:
            self.tree.append(node)
            self.note_size()

        # 2b-d. Leaf content against the decoded entry.
        self.check_entry_shape(lineno, seq, entry)
        if raw is not None:
            self.check_leaf(lineno, seq, raw, entry)

    def check_entry_shape(self, lineno: int, seq: int, entry: dict[str, Any]) -> None:
        """Decoded fields not covered by the leaf would be protected by no hash."""
        extra = set(entry.keys() - ENTRY_KEYS)
        for name, allowed in (("actor", ACTOR_KEYS), ("resource", RESOURCE_KEYS)):
            sub = entry.get(name)
            if isinstance(sub, dict):
                extra |= {f"{name}.{k}" for k in sub.keys() - allowed}
            elif name in entry:
                self.fail(lineno, seq, f"entry.{name} is not an object")
        if extra:
            self.fail(lineno, seq, f"entry has fields not covered by the leaf hash: {sorted(extra)}")
        entry_seq = entry.get("seq", _MISSING)
        if entry_seq is _MISSING:
            self.fail(lineno, seq, "entry.seq is missing")
        elif not _is_int(entry_seq) or entry_seq != seq:
            self.fail(lineno, seq, f"entry.seq {entry_seq!r} differs from the line's seq {seq}")

    def check_leaf(self, lineno: int, seq: int, raw: bytes, entry: dict[str, Any]) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(lineno, seq, "leaf_input is not valid UTF-8")
            return
        try:
            leaf = _strict_json(text)
        except ValueError as exc:
            self.fail(lineno, seq, f"leaf_input is not valid JSON: {exc}")
            return
        if not isinstance(leaf, dict):
            self.fail(lineno, seq, "leaf_input is not a JSON object")
            return

        # 2b. Exact key sets and version.
        shape_ok = True
        for prefix, obj, allowed in (
            ("", leaf, LEAF_KEYS),
            ("actor.", leaf.get("actor"), ACTOR_KEYS),
            ("resource.", leaf.get("resource"), RESOURCE_KEYS),
        ):
            if not isinstance(obj, dict):
                self.fail(lineno, seq, f"leaf_input {prefix.rstrip('.')} is not an object")
                shape_ok = False
                continue
            missing, extra = allowed - obj.keys(), obj.keys() - allowed
            if missing:
                self.fail(lineno, seq, f"leaf_input lacks {sorted(prefix + k for k in missing)}")
                shape_ok = False
            if extra:
                self.fail(lineno, seq, f"leaf_input has unexpected {sorted(prefix + k for k in extra)}")
        version = leaf.get("v")
        if not _is_int(version) or version != LEAF_FORMAT_VERSION:
            self.fail(lineno, seq, f"leaf_input format version v is {version!r}, expected 1")
            return  # another format: its fields cannot be interpreted

        # 2c. Field by field agreement.
        for path, kind in FIELDS:
            name = ".".join(path)
            value = _lookup(leaf, path)
            if value is _MISSING:
                continue  # reported above
            if not _has_kind(value, kind):
                self.fail(lineno, seq, f"leaf_input {name} is not a {kind}")
                continue
            shown = _lookup(entry, path)
            if shown is _MISSING:
                self.fail(lineno, seq, f"entry.{name} is missing")
            elif kind == "timestamp":
                if _parse_time(shown) != _parse_time(value):
                    self.fail(lineno, seq, f"entry.time {shown!r} is not the leaf's time {value!r}")
            else:
                try:
                    found = _difference(shown, value, f"entry.{name}")
                except RecursionError:
                    found = (f"entry.{name}", shown, value)
                if found is not None:
                    where, mine, theirs = found
                    self.fail(lineno, seq, f"{where} {_short(mine)} differs from the leaf's {_short(theirs)}")
        if _is_int(leaf.get("seq")) and leaf["seq"] != seq:
            self.fail(lineno, seq, f"leaf_input seq {leaf['seq']} differs from the line's seq {seq}")

        # 2d. Canonical encoding (a warning only: float spellings differ between encoders).
        if shape_ok:
            canonical = json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            if canonical.encode("utf-8") != raw:
                if _mask_numbers(canonical) == _mask_numbers(text):
                    self.warn(lineno, seq, NUMBER_SPELLING)
                else:
                    self.warn(lineno, seq, "leaf_input is not canonical JSON (key order or whitespace differs)")

    # -- end of file

    def finish(self) -> Result:
        cp = self.checkpoint
        if cp is None:
            raise FormatError("no checkpoint line: the export is incomplete (truncated?)")
        result = self.result
        result.tree_size = cp.tree_size
        result.root = cp.root
        computed = None if self.tree_broken else self.tree.root()
        result.computed_root = computed.hex() if computed is not None else None
        line = cp.line

        # 1. Count.
        start = result.since_seq
        if result.entries != cp.tree_size - start:
            counted = f"{result.entries} entries" + (f" after a prefix of {start}" if start else "")
            self.fail(line, None, f"the export has {counted} but tree_size is {cp.tree_size}")

        # 4. Which key.
        exported: VerifierKey | None = None
        try:
            exported = parse_verifier_key(cp.verifier_key)
        except ValueError as exc:
            self.fail(line, None, f"the export's verifier_key is malformed: {exc}")
        key = self.pinned if self.pinned is not None else exported
        result.verifier_key = key.encode() if key is not None else cp.verifier_key
        if self.pinned is not None and cp.verifier_key != self.pinned.encode():
            self.fail(line, None, f"the export's verifier_key {cp.verifier_key!r} is not the --key given")

        # 4. The signed note.
        note_root: bytes | None = None
        try:
            text, signatures = _split_note(cp.note)
            origin, size, note_root = _parse_checkpoint(text)
        except ValueError as exc:
            self.fail(line, None, f"checkpoint note is malformed: {exc}")
        else:
            result.origin = origin
            if key is not None:
                try:
                    _check_signatures(text, signatures, key)
                except ValueError as exc:
                    self.fail(line, None, f"checkpoint signature: {exc}")
                if origin != key.name:
                    self.fail(line, None, f"checkpoint origin {origin!r} is not the key name {key.name!r}")
            if size != cp.tree_size:
                self.fail(line, None, f"the signed checkpoint is for size {size}, tree_size says {cp.tree_size}")

        # 3. Roots.
        line_root = bytes.fromhex(cp.root) if HEX_HASH_RE.fullmatch(cp.root) else None
        if line_root is None:
            self.fail(line, None, "checkpoint root is not 64 hex digits")
        if line_root is not None and note_root is not None and line_root != note_root:
            self.fail(line, None, f"checkpoint root {cp.root} is not the signed root {note_root.hex()}")
        if computed is None:
            self.fail(line, None, "the tree root cannot be computed (an entry has no usable leaf hash)")
        else:
            signed = note_root if note_root is not None else line_root
            if signed is not None and computed != signed:
                self.fail(
                    line,
                    None,
                    f"the entries hash to root {computed.hex()}, the checkpoint root is {signed.hex()}",
                )

        # Earlier checkpoints: signed by the same key, contained in this tree.
        for source, text, signatures, origin, size, root in self.earlier:
            ok = True
            if key is not None:
                try:
                    _check_signatures(text, signatures, key)
                except ValueError as exc:
                    self.fail(None, None, f"--previous {source}: {exc}")
                    ok = False
                if origin != key.name:
                    self.fail(None, None, f"--previous {source}: origin {origin!r} is not the key name {key.name!r}")
                    ok = False
            if size < start:
                self.fail(
                    None,
                    None,
                    f"--previous {source} is of size {size}, before this export's first entry {start}: "
                    f"ask for an export with since_seq at most {size}",
                )
                ok = False
            elif size > cp.tree_size:
                larger = f"larger than this export's {cp.tree_size}"
                self.fail(None, None, f"--previous {source} is of size {size}, {larger}")
                ok = False
            elif size in self.roots_at and self.roots_at[size] != root:
                self.fail(
                    None,
                    None,
                    f"--previous {source}: the first {size} leaves of this export hash to "
                    f"{self.roots_at[size].hex()}, the earlier checkpoint's root is {root.hex()}: "
                    "the log was rewritten",
                )
                ok = False
            elif size not in self.roots_at:
                ok = False  # the tree could not be computed; reported above
            result.previous.append({"source": source, "size": size, "root": root.hex(), "ok": ok})
        if start and not self.earlier:
            self.warn(
                self.prefix_line,
                None,
                f"this export leaves out entries 0..{start - 1}; they are bound to the checkpoint only "
                f"through the prefix root {result.prefix_root}, which must equal the root of the checkpoint "
                f"of size {start} you verified before: pass it with --previous (an earlier export or "
                "checkpoint)",
            )
        return result


def _short(value: Any, limit: int = 80) -> str:
    if value is _MISSING:
        return "(absent)"  # a key one side has and the other does not
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def verify_export(path: str, pinned: VerifierKey | None = None, earlier: Sequence[Earlier] = ()) -> Result:
    """Verify the export at ``path`` ("-" for standard input); FormatError if it is not one.

    ``earlier``: checkpoints verified before (:func:`read_earlier`) that this export must extend.
    """
    verifier = _Verifier(pinned, earlier)
    try:
        stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise FormatError(f"cannot open {path}: {exc.strerror or exc}") from None
    try:
        for lineno, raw in enumerate(stream, start=1):
            verifier.feed(lineno, raw)
    except OSError as exc:
        raise FormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    return verifier.finish()


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verify_export.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Verify an exported audit log (JSON lines) offline: every entry's leaf hash and\n"
            "content, the sequence numbering, the RFC 9162 Merkle root, and the Ed25519\n"
            "signature on the C2SP checkpoint. The module docstring documents the format\n"
            "and every check (read this file, or: python -m pydoc <path to this file>)."
        ),
        epilog=(
            "exit status:\n"
            "  0  everything verifies\n"
            "  1  something fails (each failure is printed: line, seq, what is wrong)\n"
            "  2  usage error, or the file is not a well-formed export (nothing verified)\n"
            "\n"
            "Without --key the key inside the export is used and a warning is printed:\n"
            "compare it with the deployment's published key (GET /api/v1/audit/public-key)."
        ),
    )
    parser.add_argument("export", metavar="EXPORT.jsonl", help='the exported log ("-" for standard input)')
    parser.add_argument(
        "--key",
        metavar="VERIFIER_KEY",
        help="the deployment's published verifier key <name>+<key id>+<base64 key>; the export's key must equal it",
    )
    parser.add_argument(
        "--previous",
        metavar="EARLIER",
        action="append",
        default=[],
        help="a checkpoint verified before (an earlier export, or a signed note from GET /api/v1/audit/checkpoint); "
        "this export must contain its tree unchanged. Repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return parser


def _print_text(result: Result) -> None:
    for problem in result.failures:
        print(f"FAIL {problem}")
    # Warnings are grouped by message: one per kind, with the first few places.
    grouped: dict[str, list[Problem]] = {}
    for problem in result.warnings:
        grouped.setdefault(problem.message, []).append(problem)
    for message, problems in grouped.items():
        if len(problems) == 1:
            print(f"warning: {problems[0]}", file=sys.stderr)
            continue
        places = "; ".join(p.where() for p in problems[:MAX_LISTED_LINES])
        more = ", ..." if len(problems) > MAX_LISTED_LINES else ""
        print(f"warning: {message} ({len(problems)} entries: {places}{more})", file=sys.stderr)
    partial = f" (from seq {result.since_seq}, prefix root {result.prefix_root})" if result.since_seq else ""
    extends = "".join(f", extends {p['source']} (size {p['size']})" for p in result.previous if p["ok"])
    summary = (
        f"{result.entries} entries{partial}{extends}, tree_size {result.tree_size}, origin {result.origin!r}, "
        f"root {result.root}, verifier key {result.verifier_key}"
    )
    if result.ok:
        pinned = "pinned with --key" if result.key_pinned else "NOT pinned: see the warning"
        print(f"OK: {summary} ({pinned})")
    else:
        print(f"FAILED: {len(result.failures)} failure(s); {summary}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    pinned: VerifierKey | None = None
    if args.key is not None:
        try:
            pinned = parse_verifier_key(args.key.strip())
        except ValueError as exc:
            parser.print_usage(sys.stderr)
            print(f"{parser.prog}: error: --key: {exc}", file=sys.stderr)
            return 2
    try:
        result = verify_export(args.export, pinned, [read_earlier(path) for path in args.previous])
    except FormatError as exc:
        if args.json:
            error = {"ok": False, "error": str(exc), "entries": None, "tree_size": None}
            print(json.dumps({**error, "root": None, "origin": None, "failures": []}))
        print(f"{parser.prog}: format error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_text(result)
    if not result.key_pinned:
        print(KEY_WARNING.format(key=result.verifier_key), file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
