"""The checkpoint keys a log has signed with over its life (issue 15, item 5: key rotation).

A retired key stays valid for exactly the tree sizes it signed: the key history file lists
each one as ``<verifier key> <first size> <last size>`` (one per line, oldest first, ``#``
comments), and the current key signs every size after the last one listed. A file rather
than a setting: it only ever grows, its lines are long and public, and the deployment
publishes it as is beside the current key for auditors and witnesses.

Every key must carry the log's origin as its name: a checkpoint's origin is the log's
identity, which a rotation does not change (an origin rename is a new log, and refused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from governance.audit import note

_LINE: Final = re.compile(r"(\S+) (0|[1-9][0-9]{0,18}) (0|[1-9][0-9]{0,18})")


class KeyHistoryError(ValueError):
    """The key history file cannot be used; the message says which line and why."""


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key that signed the checkpoints of sizes ``first`` to ``last``, and no others."""

    verifier: note.VerifierKey
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class KeyHistory:
    """The retired keys, in order, and the current one (which signs every later size)."""

    current: note.VerifierKey
    retired: tuple[RetiredKey, ...] = ()

    def for_size(self, size: int) -> note.VerifierKey | None:
        """The key valid for a checkpoint of ``size``; None when no key was (a gap in the file)."""
        for key in self.retired:
            if key.first <= size <= key.last:
                return key.verifier
        if not self.retired or size > self.retired[-1].last:
            return self.current
        return None


def parse_history(text: str, current: note.VerifierKey) -> KeyHistory:
    """The history a key history file describes, under ``current``; KeyHistoryError otherwise."""
    retired: list[RetiredKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        matched = _LINE.fullmatch(line.strip())
        if not matched:
            raise KeyHistoryError(f"line {number}: expected `<verifier key> <first size> <last size>`")
        try:
            verifier = note.parse_verifier_key(matched[1])
        except note.NoteError as exc:
            raise KeyHistoryError(f"line {number}: {exc}") from None
        first, last = int(matched[2]), int(matched[3])
        if verifier.name != current.name:
            raise KeyHistoryError(
                f"line {number}: the key is named {verifier.name!r}, not the log's origin {current.name!r}: "
                "a log's origin never changes (an origin rename is refused; start a new log instead)"
            )
        if verifier == current:
            raise KeyHistoryError(f"line {number}: that is the current key; list only retired ones")
        if first > last:
            raise KeyHistoryError(f"line {number}: the first size is after the last")
        if retired and first <= retired[-1].last:
            raise KeyHistoryError(f"line {number}: its sizes overlap or precede those of the line before")
        retired.append(RetiredKey(verifier, first, last))
    return KeyHistory(current=current, retired=tuple(retired))


def load_history(path: Path, current: note.VerifierKey) -> KeyHistory:
    """The history in ``path``; just the current key when there is no such file."""
    if not path.exists():
        return KeyHistory(current=current)
    try:
        return parse_history(path.read_text(encoding="utf-8"), current)
    except KeyHistoryError as exc:
        raise KeyHistoryError(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise KeyHistoryError(f"{path}: not UTF-8") from None
