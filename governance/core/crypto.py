"""Personal data encryption: one AES-256-GCM data key per data subject (envelope encryption).

Data keys are stored wrapped by a master key. The master key is a local key file by
default; anything that can wrap and unwrap 32 bytes (a cloud KMS, an HSM) can stand in
for :class:`LocalMasterKey` through the :class:`MasterKey` protocol.

Erasing a person is :func:`shred`: their data key is destroyed, so every ciphertext of
theirs, wherever it was copied (audit details, backups, exports), can no longer be read,
while the audit log that references it still verifies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.core.db import transaction
from governance.core.tables import SubjectKey

CIPHERTEXT_PREFIX = "gv1."
_NONCE_BYTES = 12
# Segmented files (documents, exports): plaintext bytes per sealed segment.
SEGMENT_BYTES = 64 * 1024
STREAM_MAGIC = b"GVS1"
_STREAM_PREFIX_BYTES = 7


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


class SubjectCipher:
    """One subject's data key, unwrapped once, for sealing and opening many fields.

    The subject is bound as associated data, so a ciphertext moved to another
    subject's record does not open.
    """

    def __init__(self, subject: str, data_key: bytes) -> None:
        self.subject = subject
        self._aead = AESGCM(data_key)
        self._aad = subject.encode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, self._aad)

    def decrypt_bytes(self, sealed: bytes) -> bytes:
        if len(sealed) < _NONCE_BYTES + 16:
            raise CiphertextInvalid("ciphertext is too short")
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], self._aad)
        except InvalidTag:
            raise CiphertextInvalid(f"ciphertext does not belong to subject {self.subject!r} or was altered") from None

    def seal_segments(self, data: bytes, context: bytes) -> bytes:
        """Encrypt a file so that it can be read back segment by segment (see :func:`open_segments`).

        STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): each 64 KiB segment
        is sealed with a nonce of a random prefix, its position and a last-segment flag, so
        reordering, dropping or truncating segments fails to open. ``context`` (e.g. the
        content's SHA-256) is bound with the subject, so one of the subject's files cannot
        stand in for another.
        """
        prefix = os.urandom(_STREAM_PREFIX_BYTES)
        aad = self._aad + b"\x00" + context
        count = max(1, -(-len(data) // SEGMENT_BYTES))
        parts = [STREAM_MAGIC, prefix]
        for index in range(count):
            segment = data[index * SEGMENT_BYTES : (index + 1) * SEGMENT_BYTES]
            parts.append(self._aead.encrypt(_segment_nonce(prefix, index, index == count - 1), segment, aad))
        return b"".join(parts)

    async def open_segments(self, chunks: AsyncIterator[bytes], context: bytes) -> AsyncIterator[bytes]:
        """Decrypt what :meth:`seal_segments` wrote as it arrives, one segment at a time.

        Raises :class:`CiphertextInvalid` at the first segment that does not open, including
        a stream that ends early; plaintext already yielded was authentic.
        """
        aad = self._aad + b"\x00" + context
        sealed_size = SEGMENT_BYTES + 16
        buffer = bytearray()
        prefix: bytes | None = None
        index = 0
        async for chunk in chunks:
            buffer += chunk
            if prefix is None:
                if len(buffer) < len(STREAM_MAGIC) + _STREAM_PREFIX_BYTES:
                    continue
                if bytes(buffer[: len(STREAM_MAGIC)]) != STREAM_MAGIC:
                    raise CiphertextInvalid("not a segmented governance ciphertext")
                prefix = bytes(buffer[len(STREAM_MAGIC) : len(STREAM_MAGIC) + _STREAM_PREFIX_BYTES])
                del buffer[: len(STREAM_MAGIC) + _STREAM_PREFIX_BYTES]
            # Keep one whole segment back: only the end of the stream says which one is last.
            while len(buffer) > sealed_size:
                yield self._open_segment(prefix, index, False, bytes(buffer[:sealed_size]), aad)
                del buffer[:sealed_size]
                index += 1
        if prefix is None:
            raise CiphertextInvalid("the segmented ciphertext ends before its header")
        yield self._open_segment(prefix, index, True, bytes(buffer), aad)

    def _open_segment(self, prefix: bytes, index: int, last: bool, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(_segment_nonce(prefix, index, last), sealed, aad)
        except InvalidTag:
            raise CiphertextInvalid(
                f"segment {index} of {self.subject!r}'s file does not open: altered, reordered or cut short"
            ) from None

    def encrypt(self, plaintext: str) -> str:
        return CIPHERTEXT_PREFIX + base64.urlsafe_b64encode(self.encrypt_bytes(plaintext.encode())).decode()

    def decrypt(self, ciphertext: str) -> str:
        if not ciphertext.startswith(CIPHERTEXT_PREFIX):
            raise CiphertextInvalid("not a governance ciphertext (missing the gv1. prefix)")
        try:
            raw = base64.urlsafe_b64decode(ciphertext[len(CIPHERTEXT_PREFIX) :])
        except ValueError:
            raise CiphertextInvalid("ciphertext is not valid base64url") from None
        return self.decrypt_bytes(raw).decode()


class Keyring:
    """Encrypts and decrypts personal data per subject; see the module docstring."""

    def __init__(self, master: MasterKey) -> None:
        self._master = master

    async def cipher(self, subject: str, *, create: bool = False) -> SubjectCipher:
        """The subject's cipher (one key lookup for many fields); creates the key when asked.

        Raises :class:`SubjectErased` once the subject was shredded.
        """
        return SubjectCipher(subject, await self._data_key(subject, create=create))

    async def readable(self, subjects: Iterable[str]) -> dict[str, SubjectCipher | None]:
        """Ciphers for many subjects in one query; None for an erased or unknown subject."""
        wanted = sorted(set(subjects))
        found: dict[str, SubjectCipher | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        rows = await SubjectKey.select(SubjectKey.subject, SubjectKey.wrapped_key, SubjectKey.master_key_id).where(
            SubjectKey.subject.is_in(wanted)
        )
        for row in rows:
            if row["wrapped_key"] is not None and row["master_key_id"] == self._master.key_id:
                found[row["subject"]] = SubjectCipher(
                    row["subject"], self._master.unwrap(bytes(row["wrapped_key"]), row["subject"])
                )
        return found

    async def encrypt(self, subject: str, plaintext: str) -> str:
        """Encrypt ``plaintext`` under the subject's data key (created on first use)."""
        return (await self.cipher(subject, create=True)).encrypt(plaintext)

    async def decrypt(self, subject: str, ciphertext: str) -> str:
        """Decrypt; raises :class:`SubjectErased` once the subject was shredded."""
        if not ciphertext.startswith(CIPHERTEXT_PREFIX):
            raise CiphertextInvalid("not a governance ciphertext (missing the gv1. prefix)")
        return (await self.cipher(subject)).decrypt(ciphertext)

    async def shred(self, subject: str) -> bool:
        """Destroy the subject's data key. Returns False when there was nothing to destroy.

        Runs in the caller's transaction when there is one, so the erasure and its audit
        entry commit together.
        """
        async with transaction():
            rows = (
                await SubjectKey.update({SubjectKey.wrapped_key: None, SubjectKey.shredded_at: datetime.now(UTC)})
                .where((SubjectKey.subject == subject) & SubjectKey.wrapped_key.is_not_null())
                .returning(SubjectKey.subject)
            )
        return bool(rows)

    async def is_shredded(self, subject: str) -> bool:
        row = await SubjectKey.select(SubjectKey.shredded_at).where(SubjectKey.subject == subject).first()
        return bool(row and row["shredded_at"] is not None)

    async def _data_key(self, subject: str, *, create: bool) -> bytes:
        row = (
            await SubjectKey.select(SubjectKey.wrapped_key, SubjectKey.shredded_at, SubjectKey.master_key_id)
            .where(SubjectKey.subject == subject)
            .first()
        )
        if row is not None:
            if row["wrapped_key"] is None:
                raise SubjectErased(subject, row["shredded_at"])
            if row["master_key_id"] != self._master.key_id:
                raise MasterKeyMismatch(
                    f"the data key of {subject!r} is wrapped by master key {row['master_key_id']}, "
                    f"not by the configured {self._master.key_id}"
                )
            return self._master.unwrap(bytes(row["wrapped_key"]), subject)
        if not create:
            raise CiphertextInvalid(f"no data key exists for subject {subject!r}")
        data_key = AESGCM.generate_key(bit_length=256)
        async with transaction():
            # A concurrent first write for the same subject may have won; keep theirs.
            inserted = await SubjectKey.raw(
                "INSERT INTO subject_key (subject, wrapped_key, master_key_id, created_at, shredded_at) "
                "VALUES ({}, {}, {}, {}, NULL) ON CONFLICT (subject) DO NOTHING RETURNING subject",
                subject,
                self._master.wrap(data_key, subject),
                self._master.key_id,
                datetime.now(UTC),
            )
        if inserted:
            return data_key
        return await self._data_key(subject, create=False)


def sealed_sha256(ciphertext: str) -> str:
    """SHA-256 (hex) of a sealed value as stored: how an audit entry binds personal text
    (a decision's reasons) without holding it. A hash of the plaintext would let short
    reasons be guessed back from the log after erasure; this one tells nothing once the
    key is shredded, yet any change to the stored value no longer matches the entry."""
    return hashlib.sha256(ciphertext.encode()).hexdigest()
