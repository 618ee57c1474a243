"""Personal data encryption: AES-256-GCM data keys per data subject and scope (envelope encryption).

Data keys are stored wrapped by a master key. The master key is a local key file by
default; anything that can wrap and unwrap 32 bytes (a cloud KMS, an HSM) can stand in
for :class:`LocalMasterKey` through the :class:`MasterKey` protocol.

A data key belongs to a subject, a *scope* and a *generation* (:class:`KeyRef`):

- the scope is :data:`GENERAL` for the subject's data that belongs to no case, or a case
  (``refund:<id>``, ``complaint:<id>``, ...; :func:`case_scope`) for what is written about
  one case that can come under a legal hold;
- the generation counts the subject's lives here: an erased subject who comes back gets
  keys of a new generation, so their new data is readable and their old data stays gone.

Every ciphertext names its key in its header (``gv2.<generation>.<scope>.``), so a reader
needs no bookkeeping to know which key opens it. ``gv1.`` ciphertexts (sealed before
scopes existed) are read with the subject's first general key.

Erasing a person is :meth:`Keyring.shred`: every data key of theirs is destroyed except
the keys of cases under a legal hold, so every ciphertext of theirs, wherever it was
copied (audit details, backups, exports), can no longer be read, while the audit log that
references it still verifies. What a hold keeps is exactly what its case's key sealed,
by construction; when the hold ends the retention sweep destroys that key too
(:meth:`Keyring.release`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from piccolo.columns import Column

# The scope of a subject's personal data that belongs to no case of its own.
GENERAL: Final = ""
CIPHERTEXT_PREFIX: Final = "gv2."
# Sealed before keys had scopes and generations: read with the subject's first general key.
LEGACY_PREFIX: Final = "gv1."
SEALED_PREFIXES: Final = (LEGACY_PREFIX, CIPHERTEXT_PREFIX)
_NONCE_BYTES = 12
# Segmented files (documents, exports): plaintext bytes per sealed segment.
SEGMENT_BYTES = 64 * 1024
STREAM_MAGIC = b"GVS2"
LEGACY_STREAM_MAGIC = b"GVS1"
_STREAM_PREFIX_BYTES = 7
_SCOPE_MAX = 200


def _segment_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class PersonalDataError(Exception):
    """Base class for errors reading personal data."""


class SubjectErased(PersonalDataError):
    """The subject's data key was destroyed: their personal data is gone for good."""

    def __init__(self, subject: str, shredded_at: datetime | None) -> None:
        when = f" on {shredded_at.isoformat()}" if shredded_at else ""
        super().__init__(
            f"personal data of subject {subject!r} was erased{when}; this ciphertext can no longer be read"
        )
        self.subject = subject
        self.shredded_at = shredded_at


class CiphertextInvalid(PersonalDataError):
    """Not a ciphertext of this service, or not one of this subject's."""


class MasterKeyMismatch(PersonalDataError):
    """The subject's data key was wrapped by a master key this instance does not hold."""


class MasterKey(Protocol):
    """Wraps and unwraps data keys; ``key_id`` names the key a data key was wrapped with."""

    @property
    def key_id(self) -> str: ...

    def wrap(self, data_key: bytes, subject: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, subject: str) -> bytes: ...


class LocalMasterKey:
    """A 256-bit master key kept in a local file (generated on first start, mode 0600)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._aead = AESGCM(key)
        self._key_id = hashlib.sha256(b"governance master key\n" + key).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, path: Path) -> LocalMasterKey:
        """Read the key file, creating it with a fresh random key when it does not exist."""
        key = read_or_create_secret(path, lambda: secrets.token_bytes(32), min_length=32)
        return cls(key)

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, data_key: bytes, subject: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, b"subject-key:" + subject.encode())

    def unwrap(self, wrapped: bytes, subject: str) -> bytes:
        nonce, body = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, b"subject-key:" + subject.encode())


def read_or_create_secret(path: Path, make: Callable[[], bytes], min_length: int = 1) -> bytes:
    """Read a secret from ``path``; create it (mode 0600) when missing.

    The file appears complete or not at all (written to a temporary file, then linked
    into place), and of several processes starting together on a fresh data dir the
    first link wins and every other process reads that one secret.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(make())
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    secret = path.read_bytes()
    if len(secret) < min_length:
        raise ValueError(f"{path} holds {len(secret)} bytes; at least {min_length} are needed")
    return secret


@dataclass(frozen=True, slots=True, order=True)
class KeyRef:
    """Which of a subject's data keys: its scope (:data:`GENERAL` or a case) and generation."""

    scope: str
    generation: int

    def describe(self) -> str:
        return f"{self.scope or 'general'} key, generation {self.generation}"


FIRST: Final = KeyRef(GENERAL, 1)


def case_scope(record_type: str, record_id: object) -> str:
    """The scope of the key that seals what is written about one case (a complaint, a refund,
    a dispute, a data request): the unit a legal hold keeps readable."""
    scope = f"{record_type}:{record_id}"
    if "." in scope or not scope.isprintable() or len(scope) > _SCOPE_MAX:
        raise ValueError(f"not a usable key scope: {scope!r}")
    return scope


def is_sealed(value: str) -> bool:
    """Whether a stored value is a ciphertext of this service (either format)."""
    return value.startswith(SEALED_PREFIXES)


def key_ref(ciphertext: str) -> KeyRef:
    """The key a ciphertext names in its header."""
    if ciphertext.startswith(LEGACY_PREFIX):
        return FIRST
    if ciphertext.startswith(CIPHERTEXT_PREFIX):
        parts = ciphertext.split(".", 3)
        if len(parts) == 4 and parts[1].isdigit():
            return KeyRef(parts[2], int(parts[1]))
        raise CiphertextInvalid("malformed gv2 ciphertext header")
    raise CiphertextInvalid("not a governance ciphertext (missing the gv1./gv2. prefix)")


def _wrap_label(subject: str, ref: KeyRef) -> str:
    # The first general key keeps the label it was wrapped under before scopes existed.
    return subject if ref == FIRST else f"{subject}\x00{ref.scope}\x00{ref.generation}"


class _DataKey:
    def __init__(self, subject: str, ref: KeyRef, data_key: bytes) -> None:
        self.ref = ref
        self.aead = AESGCM(data_key)
        self.legacy_aad = subject.encode()
        # Subject, scope and generation are bound: a ciphertext moved to another subject's or
        # another case's record does not open, nor does one whose header was rewritten.
        self.aad = f"{subject}\x00{ref.scope}\x00{ref.generation}".encode()

    def open(self, sealed: bytes, aad: bytes, subject: str) -> bytes:
        if len(sealed) < _NONCE_BYTES + 16:
            raise CiphertextInvalid("ciphertext is too short")
        try:
            return self.aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise CiphertextInvalid(f"ciphertext does not belong to subject {subject!r} or was altered") from None


@dataclass(frozen=True, slots=True)
class Shredding:
    """What :meth:`Keyring.shred` destroyed, and the keys of held cases it kept."""

    shredded: list[KeyRef] = field(default_factory=list)
    kept: list[KeyRef] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.shredded)


@dataclass(frozen=True, slots=True)
class HeldKey:
    """A key an erasure kept because its case was under a legal hold."""

    subject: str
    ref: KeyRef
    held_since: datetime


class SubjectCipher:
    """One subject's data keys, unwrapped once, for sealing and opening many fields.

    It opens every ciphertext whose key (named in its header) is still readable, and
    seals under one key: the scope it was asked for, in that scope's live generation.
    """

    def __init__(
        self,
        subject: str,
        data_key: bytes | None = None,
        *,
        ref: KeyRef = FIRST,
        keys: Mapping[KeyRef, bytes] | None = None,
        erased: Mapping[KeyRef, datetime | None] | None = None,
    ) -> None:
        self.subject = subject
        self._keys = {r: _DataKey(subject, r, k) for r, k in (keys or {}).items()}
        if data_key is not None:
            self._keys[ref] = _DataKey(subject, ref, data_key)
        self._sealing = self._keys[ref] if data_key is not None else None
        self._erased = dict(erased or {})

    @property
    def sealing(self) -> KeyRef | None:
        """The key this cipher seals under (None: it only reads)."""
        return self._sealing.ref if self._sealing else None

    def _key(self, ref: KeyRef) -> _DataKey:
        key = self._keys.get(ref)
        if key is not None:
            return key
        if ref in self._erased:
            raise SubjectErased(self.subject, self._erased[ref])
        raise CiphertextInvalid(f"subject {self.subject!r} has no {ref.describe()}")

    def _sealer(self) -> _DataKey:
        if self._sealing is None:
            raise PersonalDataError(f"this cipher of {self.subject!r} only reads; ask the keyring to create a key")
        return self._sealing

    def encrypt(self, plaintext: str) -> str:
        key = self._sealer()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + key.aead.encrypt(nonce, plaintext.encode(), key.aad)
        header = f"{CIPHERTEXT_PREFIX}{key.ref.generation}.{key.ref.scope}."
        return header + base64.urlsafe_b64encode(sealed).decode()

    def decrypt(self, ciphertext: str) -> str:
        """Plaintext; raises :class:`SubjectErased` when the key it names was destroyed."""
        ref = key_ref(ciphertext)
        key = self._key(ref)
        legacy = ciphertext.startswith(LEGACY_PREFIX)
        body = ciphertext[len(LEGACY_PREFIX) :] if legacy else ciphertext.split(".", 3)[3]
        try:
            raw = base64.urlsafe_b64decode(body)
        except ValueError:
            raise CiphertextInvalid("ciphertext is not valid base64url") from None
        return key.open(raw, key.legacy_aad if legacy else key.aad, self.subject).decode()

    def read(self, ciphertext: str | None) -> str | None:
        """Plaintext, or None when there is none or its key was destroyed (the subject was
        erased, or the hold that kept it ended): how a reader shows erased fields."""
        if ciphertext is None:
            return None
        try:
            return self.decrypt(ciphertext)
        except SubjectErased:
            return None

    def seal_segments(self, data: bytes, context: bytes) -> bytes:
        """Encrypt a file so that it can be read back segment by segment (see :func:`open_segments`).

        STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): each 64 KiB segment
        is sealed with a nonce of a random prefix, its position and a last-segment flag, so
        reordering, dropping or truncating segments fails to open. ``context`` (e.g. the
        content's SHA-256) is bound with the subject, so one of the subject's files cannot
        stand in for another. The header names the key (generation and scope).
        """
        key = self._sealer()
        prefix = os.urandom(_STREAM_PREFIX_BYTES)
        aad = key.aad + b"\x00" + context
        count = max(1, -(-len(data) // SEGMENT_BYTES))
        scope = key.ref.scope.encode()
        parts = [STREAM_MAGIC, key.ref.generation.to_bytes(4, "big"), len(scope).to_bytes(1, "big"), scope, prefix]
        for index in range(count):
            segment = data[index * SEGMENT_BYTES : (index + 1) * SEGMENT_BYTES]
            parts.append(key.aead.encrypt(_segment_nonce(prefix, index, index == count - 1), segment, aad))
        return b"".join(parts)

    def _stream_header(self, buffer: bytearray) -> tuple[int, _DataKey, bytes, bytes] | None:
        """(header length, key, nonce prefix, aad base) once ``buffer`` holds the whole header."""
        magic = bytes(buffer[: len(STREAM_MAGIC)])
        if len(buffer) < len(STREAM_MAGIC):
            return None
        if magic == LEGACY_STREAM_MAGIC:
            end = len(LEGACY_STREAM_MAGIC) + _STREAM_PREFIX_BYTES
            if len(buffer) < end:
                return None
            key = self._key(FIRST)
            return end, key, bytes(buffer[len(LEGACY_STREAM_MAGIC) : end]), key.legacy_aad
        if magic != STREAM_MAGIC:
            raise CiphertextInvalid("not a segmented governance ciphertext")
        fixed = len(STREAM_MAGIC) + 5
        if len(buffer) < fixed:
            return None
        generation = int.from_bytes(buffer[len(STREAM_MAGIC) : len(STREAM_MAGIC) + 4], "big")
        end = fixed + buffer[fixed - 1] + _STREAM_PREFIX_BYTES
        if len(buffer) < end:
            return None
        try:
            scope = bytes(buffer[fixed : end - _STREAM_PREFIX_BYTES]).decode()
        except UnicodeDecodeError:
            raise CiphertextInvalid("the segmented ciphertext names no key") from None
        key = self._key(KeyRef(scope, generation))
        return end, key, bytes(buffer[end - _STREAM_PREFIX_BYTES : end]), key.aad

    async def open_segments(self, chunks: AsyncIterator[bytes], context: bytes) -> AsyncIterator[bytes]:
        """Decrypt what :meth:`seal_segments` wrote as it arrives, one segment at a time.

        Raises :class:`CiphertextInvalid` at the first segment that does not open, including
        a stream that ends early; plaintext already yielded was authentic.
        """
        sealed_size = SEGMENT_BYTES + 16
        buffer = bytearray()
        header: tuple[int, _DataKey, bytes, bytes] | None = None
        index = 0
        async for chunk in chunks:
            buffer += chunk
            if header is None:
                header = self._stream_header(buffer)
                if header is None:
                    continue
                del buffer[: header[0]]
            _, key, prefix, aad = header
            # Keep one whole segment back: only the end of the stream says which one is last.
            while len(buffer) > sealed_size:
                yield self._open_segment(
                    key, prefix, index, False, bytes(buffer[:sealed_size]), aad + b"\x00" + context
                )
                del buffer[:sealed_size]
                index += 1
        if header is None:
            raise CiphertextInvalid("the segmented ciphertext ends before its header")
        _, key, prefix, aad = header
        yield self._open_segment(key, prefix, index, True, bytes(buffer), aad + b"\x00" + context)

    def _open_segment(self, key: _DataKey, prefix: bytes, index: int, last: bool, sealed: bytes, aad: bytes) -> bytes:
        try:
            return key.aead.decrypt(_segment_nonce(prefix, index, last), sealed, aad)
        except InvalidTag:
            raise CiphertextInvalid(
                f"segment {index} of {self.subject!r}'s file does not open: altered, reordered or cut short"
            ) from None


def is_segmented(body: bytes) -> bool:
    """Whether a stored file was sealed by :meth:`SubjectCipher.seal_segments` (either format)."""
    return body.startswith((STREAM_MAGIC, LEGACY_STREAM_MAGIC))


def _generation_for_new_keys(rows: Iterable[Mapping[str, Any]]) -> int:
    # An erasure ends a generation: keys made after it (the subject came back) are of the next.
    return 1 + max((int(r["generation"]) for r in rows if r["shredded_at"] is not None), default=0)


# The Keyring imports the database (Piccolo, its drivers) in the methods that use it: the
# key files and secrets of this module also serve commands that never open the database
# (`governance token issue`, `governance witness ...`), which then start without it.
def _columns() -> tuple[Column, ...]:
    from governance.core.tables import SubjectKey

    return (
        SubjectKey.subject,
        SubjectKey.scope,
        SubjectKey.generation,
        SubjectKey.wrapped_key,
        SubjectKey.master_key_id,
        SubjectKey.shredded_at,
        SubjectKey.held_since,
    )


class Keyring:
    """Encrypts and decrypts personal data per subject and scope; see the module docstring."""

    def __init__(self, master: MasterKey) -> None:
        self._master = master

    def _unwrap(self, row: Mapping[str, Any]) -> bytes:
        ref = KeyRef(row["scope"], int(row["generation"]))
        if row["master_key_id"] != self._master.key_id:
            raise MasterKeyMismatch(
                f"the data key of {row['subject']!r} ({ref.describe()}) is wrapped by master key "
                f"{row['master_key_id']}, not by the configured {self._master.key_id}"
            )
        return self._master.unwrap(bytes(row["wrapped_key"]), _wrap_label(row["subject"], ref))

    async def _rows(self, subjects: list[str]) -> list[dict[str, Any]]:
        from governance.core.tables import SubjectKey

        if not subjects:
            return []
        return list(await SubjectKey.select(*_columns()).where(SubjectKey.subject.is_in(subjects)))

    def _cipher_of(self, subject: str, rows: list[dict[str, Any]], sealing: KeyRef | None) -> SubjectCipher:
        keys: dict[KeyRef, bytes] = {}
        erased: dict[KeyRef, datetime | None] = {}
        for row in rows:
            ref = KeyRef(row["scope"], int(row["generation"]))
            if row["wrapped_key"] is None:
                erased[ref] = row["shredded_at"]
            elif row["master_key_id"] == self._master.key_id or ref == sealing:
                keys[ref] = self._unwrap(row)
        if sealing is None:
            return SubjectCipher(subject, keys=keys, erased=erased)
        return SubjectCipher(subject, keys[sealing], ref=sealing, keys=keys, erased=erased)

    async def cipher(self, subject: str, *, scope: str = GENERAL, create: bool = False) -> SubjectCipher:
        """The subject's cipher (one key lookup for many fields), sealing under ``scope``.

        It reads every ciphertext of the subject whose key is still readable. With
        ``create`` a missing (or destroyed) key of ``scope`` is created in the subject's
        current generation: an erased subject who comes back starts anew. Without it, a
        subject with no key at all is refused (:class:`CiphertextInvalid`).
        """
        rows = await self._rows([subject])
        live = [r for r in rows if r["scope"] == scope and r["wrapped_key"] is not None]
        if not live and create:
            await self._create(subject, KeyRef(scope, _generation_for_new_keys(rows)))
            rows = await self._rows([subject])
            live = [r for r in rows if r["scope"] == scope and r["wrapped_key"] is not None]
            if not live:  # an erasure destroyed it in between
                raise SubjectErased(subject, datetime.now(UTC))
        if not rows:
            raise CiphertextInvalid(f"no data key exists for subject {subject!r}")
        sealing = KeyRef(scope, max(int(r["generation"]) for r in live)) if live else None
        return self._cipher_of(subject, rows, sealing)

    async def readable(self, subjects: Iterable[str]) -> dict[str, SubjectCipher | None]:
        """Ciphers (that only read) for many subjects in one query; None for a subject of whom
        nothing is readable (erased, or unknown). A cipher's :meth:`SubjectCipher.read` answers
        None for a field whose key was destroyed."""
        wanted = sorted(set(subjects))
        by_subject: dict[str, list[dict[str, Any]]] = {}
        for row in await self._rows(wanted):
            by_subject.setdefault(row["subject"], []).append(row)
        found: dict[str, SubjectCipher | None] = dict.fromkeys(wanted)
        for subject, rows in by_subject.items():
            if any(r["wrapped_key"] is not None and r["master_key_id"] == self._master.key_id for r in rows):
                found[subject] = self._cipher_of(subject, rows, None)
        return found

    async def encrypt(self, subject: str, plaintext: str, *, scope: str = GENERAL) -> str:
        """Encrypt ``plaintext`` under the subject's data key of ``scope`` (created on first use)."""
        return (await self.cipher(subject, scope=scope, create=True)).encrypt(plaintext)

    async def decrypt(self, subject: str, ciphertext: str) -> str:
        """Decrypt with the key the ciphertext names; raises :class:`SubjectErased` once that
        key was destroyed."""
        from governance.core.tables import SubjectKey

        ref = key_ref(ciphertext)
        row = (
            await SubjectKey.select(*_columns())
            .where(
                (SubjectKey.subject == subject)
                & (SubjectKey.scope == ref.scope)
                & (SubjectKey.generation == ref.generation)
            )
            .first()
        )
        if row is None:
            raise CiphertextInvalid(f"subject {subject!r} has no {ref.describe()}")
        return self._cipher_of(subject, [row], None if row["wrapped_key"] is None else ref).decrypt(ciphertext)

    async def shred(self, subject: str, *, keep: Collection[str] = (), now: datetime | None = None) -> Shredding:
        """Destroy every data key of the subject except those of the scopes in ``keep`` (the
        cases under a legal hold), which are marked as held from ``now``.

        Runs in the caller's transaction when there is one, so the erasure and its audit
        entry commit together. The shredding is falsy when there was nothing to destroy.
        """
        from governance.core.db import transaction
        from governance.core.tables import SubjectKey

        when = now or datetime.now(UTC)
        kept_scopes = sorted(set(keep))
        async with transaction():
            query = SubjectKey.update({SubjectKey.wrapped_key: None, SubjectKey.shredded_at: when}).where(
                (SubjectKey.subject == subject) & SubjectKey.wrapped_key.is_not_null()
            )
            if kept_scopes:
                query = query.where(SubjectKey.scope.not_in(kept_scopes))
            shredded = await query.returning(SubjectKey.scope, SubjectKey.generation)
            kept = []
            if kept_scopes:
                kept = (
                    await SubjectKey.update({SubjectKey.held_since: when})
                    .where(
                        (SubjectKey.subject == subject)
                        & SubjectKey.wrapped_key.is_not_null()
                        & SubjectKey.scope.is_in(kept_scopes)
                    )
                    .returning(SubjectKey.scope, SubjectKey.generation)
                )
        return Shredding(
            shredded=sorted(KeyRef(r["scope"], int(r["generation"])) for r in shredded),
            kept=sorted(KeyRef(r["scope"], int(r["generation"])) for r in kept),
        )

    async def held_keys(self) -> list[HeldKey]:
        """Keys an erasure kept for a case under a legal hold, not destroyed yet."""
        from governance.core.tables import SubjectKey

        rows = await SubjectKey.select(
            SubjectKey.subject, SubjectKey.scope, SubjectKey.generation, SubjectKey.held_since
        ).where(SubjectKey.held_since.is_not_null() & SubjectKey.wrapped_key.is_not_null())
        return [HeldKey(r["subject"], KeyRef(r["scope"], int(r["generation"])), r["held_since"]) for r in rows]

    async def release(self, held: HeldKey, now: datetime) -> bool:
        """Destroy a key kept for a hold that has ended (in the caller's transaction)."""
        from governance.core.db import transaction
        from governance.core.tables import SubjectKey

        async with transaction():
            rows = (
                await SubjectKey.update({SubjectKey.wrapped_key: None, SubjectKey.shredded_at: now})
                .where(
                    (SubjectKey.subject == held.subject)
                    & (SubjectKey.scope == held.ref.scope)
                    & (SubjectKey.generation == held.ref.generation)
                    & SubjectKey.wrapped_key.is_not_null()
                )
                .returning(SubjectKey.subject)
            )
        return bool(rows)

    async def is_shredded(self, subject: str) -> bool:
        """Whether the subject's newest general key was destroyed: erased, and not back since."""
        from governance.core.tables import SubjectKey

        row = (
            await SubjectKey.select(SubjectKey.shredded_at)
            .where((SubjectKey.subject == subject) & (SubjectKey.scope == GENERAL))
            .order_by(SubjectKey.generation, ascending=False)
            .first()
        )
        return bool(row and row["shredded_at"] is not None)

    async def _create(self, subject: str, ref: KeyRef) -> None:
        from governance.core.db import transaction
        from governance.core.tables import SubjectKey

        data_key = AESGCM.generate_key(bit_length=256)
        async with transaction():
            # A concurrent first write for the same key may have won; the caller reads theirs.
            await SubjectKey.raw(
                "INSERT INTO subject_key (subject, scope, generation, wrapped_key, master_key_id, created_at, "
                "shredded_at, held_since) VALUES ({}, {}, {}, {}, {}, {}, NULL, NULL) "
                "ON CONFLICT (subject, scope, generation) DO NOTHING",
                subject,
                ref.scope,
                ref.generation,
                self._master.wrap(data_key, _wrap_label(subject, ref)),
                self._master.key_id,
                datetime.now(UTC),
            )


def sealed_sha256(ciphertext: str) -> str:
    """SHA-256 (hex) of a sealed value as stored: how an audit entry binds personal text
    (a decision's reasons) without holding it. A hash of the plaintext would let short
    reasons be guessed back from the log after erasure; this one tells nothing once the
    key is shredded, yet any change to the stored value no longer matches the entry."""
    return hashlib.sha256(ciphertext.encode()).hexdigest()


async def reveal(keyring: Keyring, subject: str, ciphertext: str | None) -> str | None:
    """Plaintext of a personal field, or None once the subject's data was erased."""
    if ciphertext is None:
        return None
    try:
        return await keyring.decrypt(subject, ciphertext)
    except PersonalDataError:
        return None
