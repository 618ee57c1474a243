"""Verify a ``c2sp.org/tlog-proof@v1`` file offline: no database, no network, only the log's
verifier key (and, for a witnessed proof, the witnesses' keys).

The file (https://c2sp.org/tlog-proof) is a header line, an optional ``extra`` line, ``index
N``, the inclusion proof's hashes (base64, one a line), a blank line and the checkpoint
verbatim, witnesses' cosignatures included. This log puts the entry's exact leaf input in
``extra`` when the proof is handed out to stand alone (an evidence bundle's seal, a bundle's
ready entry): the spec allows extra data "necessary to reconstruct the record hash", and
nothing in it is trusted until its leaf hash is proven included under the signed root.

Copied out of a PDF, a proof arrives reflowed: a long ``extra`` line broken over several
lines (joined again up to ``index``: base64 holds no line breaks of its own) and the blank
lines gone (the hashes end at the first line that is no 32-byte hash, the checkpoint's
signatures begin at its first ``—`` line, and a line after it that does not begin so
continues the signature line before it). Only the layout is forgiven: every byte
that is hashed or signed is checked as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from governance.audit import merkle, note
from governance.audit.cosignature import CosignerKey

HEADER: Final = "c2sp.org/tlog-proof@v1"
_EXTRA: Final = "extra"
_INDEX: Final = "index "
_SIGNATURE: Final = "\u2014 "


class ProofError(ValueError):
    """Not a proof this key vouches for: malformed, wrongly signed, or not leading to the root."""


@dataclass(frozen=True, slots=True)
class ParsedProof:
    """A tlog-proof file's parts, nothing checked but their shape."""

    extra: bytes | None
    index: int
    hashes: list[bytes]
    checkpoint: str  # the signed note, verbatim


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """What a verified proof establishes: entry ``index`` (its leaf input, when the proof or the
    caller gave it) is in the tree of the checkpoint, which the log's key signed."""

    index: int
    entry: bytes
    checkpoint: note.Checkpoint
    checkpoint_note: str
    witnessed_by: list[str]  # the names of the given witnesses whose cosignature verified


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not base64") from None


def parse(text: str) -> ParsedProof:
    """The parts of a proof file; ProofError when it is not shaped as c2sp.org/tlog-proof@v1."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip("\n").split("\n")]
    if not lines or lines[0] != HEADER:
        raise ProofError(f"not a tlog-proof: the first line must be {HEADER}")
    at = 1
    extra = None
    if lines[at:] and lines[at].startswith(_EXTRA):
        pieces = [lines[at].removeprefix(_EXTRA).strip()]
        at += 1
        while at < len(lines) and not lines[at].startswith(_INDEX):
            pieces.append(lines[at].strip())
            at += 1
        extra = _b64("".join(pieces), "the extra line")
    if at >= len(lines) or not lines[at].startswith(_INDEX):
        raise ProofError("no `index N` line")
    number = lines[at].removeprefix(_INDEX)
    if not number.isascii() or not number.isdigit() or number != str(int(number)):
        raise ProofError("the index is not a decimal without leading zeros")
    at += 1
    hashes = []
    # The hashes run to the blank line; text copied out of a PDF has lost its blank lines,
    # so the first line that is no 32-byte hash begins the checkpoint.
    while at < len(lines) and lines[at] and _is_hash(lines[at]):
        hashes.append(base64.b64decode(lines[at]))
        at += 1
    body = [line for line in lines[at:] if line]
    signatures = [n for n, line in enumerate(body) if line.startswith(_SIGNATURE)]
    if not signatures or signatures[0] == 0:
        raise ProofError("no checkpoint: a tlog-proof ends with a blank line and the signed checkpoint")
    first = signatures[0]
    lines = []
    for line in body[first:]:
        if line.startswith(_SIGNATURE) or not lines:
            lines.append(line)
        else:  # a signature line cut in two (a long witness name): cut at its space, or in its base64
            separator = "" if " " in lines[-1][len(_SIGNATURE) :] else " "
            lines[-1] += separator + line
    checkpoint = "".join(line + "\n" for line in body[:first]) + "\n" + "".join(line + "\n" for line in lines)
    return ParsedProof(extra=extra, index=int(number), hashes=hashes, checkpoint=checkpoint)


def _is_hash(line: str) -> bool:
    try:
        return len(base64.b64decode(line, validate=True)) == merkle.HASH_SIZE
    except (binascii.Error, ValueError):
        return False


def inclusion_holds(index: int, size: int, leaf: bytes, root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.3.2: whether ``proof`` leads from ``leaf`` at ``index`` to ``root``."""
    if index >= size or any(len(value) != merkle.HASH_SIZE for value in (leaf, root, *proof)):
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = merkle.node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = merkle.node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root


def _seq_of(entry: bytes) -> int | None:
    """The ``seq`` an entry of this log names (its leaf input is JSON); None for another log's."""
    try:
        decoded = json.loads(entry)
    except ValueError:
        return None
    seq = decoded.get("seq") if isinstance(decoded, dict) else None
    return seq if isinstance(seq, int) else None


def _cosigned_by(checkpoint_note: str, witnesses: Sequence[CosignerKey]) -> list[str]:
    text, _, signatures = checkpoint_note.partition("\n\n")
    lines = [line + "\n" for line in signatures.split("\n") if line.startswith(_SIGNATURE)]
    names = []
    for witness in witnesses:
        for line in lines:
            try:
                witness.open(text + "\n", line)
            except note.NoteError:
                continue
            names.append(witness.name)
            break
    return names


def verify(
    text: str,
    vkey: str | note.VerifierKey,
    *,
    entry: bytes | None = None,
    witnesses: Sequence[CosignerKey] = (),
    quorum: int | None = None,
) -> ProvenEntry:
    """Check a proof file offline: its checkpoint is signed by ``vkey`` (and cosigned by at
    least ``quorum`` of ``witnesses``, all of them by default), and the entry's leaf hash
    leads to the checkpoint's root at the proof's index. The entry is the proof's ``extra``
    or ``entry`` (which must then agree). ProofError otherwise, saying what failed."""
    parsed = parse(text)
    if parsed.extra is not None and entry is not None and parsed.extra != entry:
        raise ProofError("the entry given is not the one the proof carries")
    leaf = entry if entry is not None else parsed.extra
    if leaf is None:
        raise ProofError("the proof carries no entry (no extra line): give the entry's leaf input")
    if _seq_of(leaf) not in (None, parsed.index):
        raise ProofError(f"the entry says it is entry {_seq_of(leaf)}, the proof is for index {parsed.index}")
    try:
        checkpoint = note.verify_checkpoint(parsed.checkpoint, vkey)
    except note.NoteError as exc:
        raise ProofError(f"the checkpoint is not signed by the key given: {exc}") from None
    if not inclusion_holds(parsed.index, checkpoint.size, merkle.leaf_hash(leaf), checkpoint.root, parsed.hashes):
        raise ProofError(
            f"the inclusion proof of entry {parsed.index} does not lead to the root of the checkpoint "
            f"(size {checkpoint.size}): the entry or a hash was changed"
        )
    witnessed = _cosigned_by(parsed.checkpoint, witnesses)
    needed = len(witnesses) if quorum is None else quorum
    if len(witnessed) < needed:
        missing = sorted({w.name for w in witnesses} - set(witnessed))
        raise ProofError(f"the checkpoint lacks a valid cosignature by {', '.join(missing)}")
    return ProvenEntry(
        index=parsed.index,
        entry=leaf,
        checkpoint=checkpoint,
        checkpoint_note=parsed.checkpoint,
        witnessed_by=witnessed,
    )
