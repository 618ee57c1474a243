"""Object storage for documents and evidence bundles.

The embedded default is a local directory; any S3 endpoint (AWS S3, MinIO, Ceph) is a
matter of configuration (``GOVERNANCE_S3_BUCKET``). The key layout is the same in both,
so moving a deployment to S3 changes no key. Both stores speak the same small async
protocol; the S3 one runs boto3 (synchronous) in worker threads through one shared
client.

Evidence bundles (a PDF and its ``manifest.json``) use the file-based half of the
protocol, meant to be called in this order by the bundle job::

    stored = await store.put_file(key, path, media_type="application/pdf", retain_until=until)
    # record stored.sha256, stored.size, stored.checksum, stored.retention
    await store.verify_stored(
        key, sha256=stored.sha256, size=stored.size, checksum=stored.checksum, version_id=stored.version_id
    )
    url = await store.presigned_url(key, expires_in=300, filename="bundle.pdf")  # None: stream it

Every failure of these operations is an :class:`ObjectStoreError` whose message names
the operation, the key, the store and the cause, fit to be stored as a job's failure
reason; :class:`ChecksumMismatch` and :class:`ObjectMissing` are its subclasses.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final, Protocol
from urllib.parse import quote

import anyio
import anyio.to_thread

from governance.settings import Settings

# Read size when streaming an object out (and when hashing a file or an object).
CHUNK_BYTES: Final = 256 * 1024

# S3 uploads of files: one PUT below MULTIPART_THRESHOLD bytes, else a multipart upload in
# parts of MULTIPART_PART_SIZE bytes (S3 wants at least 5 MiB per part but the last, and at
# most 10,000 parts, so larger files get larger parts). One part is held in memory at a
# time. Read at call time, so tests may lower them (to 5 MiB) to force the multipart path.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_PART_SIZE = 16 * 1024 * 1024
MAX_PARTS: Final = 10_000

# The shared boto3 client: a dead endpoint fails within seconds (connection refused is
# retried MAX_ATTEMPTS times with short jittered back-off), a stalled one within a minute.
CONNECT_TIMEOUT_SECONDS: Final = 5
READ_TIMEOUT_SECONDS: Final = 60
MAX_ATTEMPTS: Final = 3

# SigV4 presigned URLs live at most seven days.
MAX_PRESIGNED_SECONDS: Final = 7 * 24 * 3600

COMPLIANCE: Final = "COMPLIANCE"


@dataclass(frozen=True, slots=True)
class Retention:
    """An S3 Object Lock retention: ``mode`` (``COMPLIANCE`` or ``GOVERNANCE``) until ``retain_until`` (UTC)."""

    mode: str
    retain_until: datetime


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What a store holds under ``key``.

    ``sha256`` (hex) and ``size`` are those of the whole content. ``checksum`` is the
    SHA-256 checksum as S3 keeps it: ``base64(sha256(content))`` for a single PUT, and the
    composite ``base64(sha256(part digests concatenated))-N`` for a multipart upload of N
    parts; ``None`` on the local store. Record it: :meth:`ObjectStore.verify_stored` needs
    it to check a multipart object without reading it back. ``version_id`` is the S3
    version (buckets with Object Lock are versioned). ``retention`` is the Object Lock
    retention the object carries (``None``: not locked, e.g. a bucket without Object Lock
    or the local store).
    """

    key: str
    sha256: str
    size: int
    checksum: str | None = None
    version_id: str | None = None
    retention: Retention | None = None

    @property
    def locked(self) -> bool:
        """Whether the store itself refuses to delete or overwrite this version (COMPLIANCE retention)."""
        return self.retention is not None and self.retention.mode == COMPLIANCE


class ObjectStoreError(Exception):
    """An object store operation failed; the message names the operation, key, store and cause."""


class ObjectMissing(ObjectStoreError, LookupError):
    """No object under that key."""


class ChecksumMismatch(ObjectStoreError):
    """The stored object is not what was uploaded (its SHA-256 or its size differs)."""


class ObjectStore(Protocol):
    """Where documents and bundles live. Keys are ``/``-separated relative paths."""

    @property
    def location(self) -> str: ...

    async def put(self, key: str, data: bytes, *, media_type: str = "application/octet-stream") -> StoredObject: ...

    async def put_file(
        self,
        key: str,
        path: Path,
        *,
        media_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> StoredObject:
        """Store the file at ``path`` under ``key``, streaming it (never whole in memory).

        ``retain_until`` (timezone-aware; rounded up to the second) asks for Object Lock
        retention in COMPLIANCE mode: nobody, root included, can delete or overwrite that
        version before then. It is applied only where the store can enforce it (an S3
        bucket with Object Lock enabled); ``StoredObject.retention`` says whether it was.
        Raises :class:`ObjectStoreError` when the upload fails (nothing is left behind).
        """
        ...

    async def verify_stored(
        self, key: str, *, sha256: str, size: int, checksum: str | None = None, version_id: str | None = None
    ) -> StoredObject:
        """Prove that ``key`` holds the content with this SHA-256 (hex) and size.

        ``checksum`` is the ``StoredObject.checksum`` that ``put_file`` returned; it lets a
        multipart S3 object be checked against its composite checksum instead of being
        read back. ``version_id`` (where the store keeps versions) checks that version, not
        whichever is current. Raises :class:`ChecksumMismatch` if the object differs,
        :class:`ObjectMissing` if there is none, :class:`ObjectStoreError` on failure.
        """
        ...

    async def presigned_url(
        self, key: str, *, expires_in: int, filename: str | None = None, version_id: str | None = None
    ) -> str | None:
        """A time-limited URL that downloads the object (as an attachment named ``filename``).

        ``version_id`` pins the version (the one that was verified), where the store keeps
        versions. ``None`` when the store has no such URLs (local directory): stream it instead.
        """
        ...

    async def get(self, key: str) -> bytes: ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object in chunks, without holding it whole in memory (``ObjectMissing`` if absent)."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...


def check_key(key: str) -> str:
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(p in {"..", "."} for p in parts):
        raise ValueError(f"invalid object key {key!r}")
    return key


def check_retain_until(retain_until: datetime | None) -> datetime | None:
    """``retain_until`` in UTC, rounded up to the whole second S3 keeps; naive times are refused."""
    if retain_until is None:
        return None
    if retain_until.utcoffset() is None:
        raise ValueError("retain_until must be timezone-aware")
    value = retain_until.astimezone(UTC)
    if value.microsecond:
        value = value.replace(microsecond=0) + timedelta(seconds=1)
    return value


def content_disposition(filename: str) -> str:
    """``attachment`` with ``filename`` (RFC 6266: an ASCII fallback and the UTF-8 form)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\/' else "_" for c in filename)
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(filename, safe='')}"


def composite_checksum(part_digests: list[bytes]) -> str:
    """S3's composite SHA-256 of a multipart object: ``base64(sha256(digests concatenated))-N``."""
    return f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _hash_file(handle: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := handle.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _write_atomically(target: Path, write: Callable[[IO[bytes]], object], *, read_only: bool) -> None:
    """``write`` into a temporary file beside ``target``, fsync, then rename it into place:
    readers see the old file or the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        if read_only:
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mismatch(key: str, location: str, what: str, found: object, expected: object) -> ChecksumMismatch:
    return ChecksumMismatch(f"{key} in {location} is not what was uploaded: its {what} is {found}, expected {expected}")


class LocalObjectStore:
    """Objects as files under one directory; writes are atomic (temp file, fsync, rename).

    Retention cannot be enforced here (whoever runs the service owns the files): a file
    stored with ``retain_until`` is made read-only, which guards against accidents, not
    against anyone; ``StoredObject.retention`` stays ``None``. Use an S3 bucket with
    Object Lock where the evidence must be immutable.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    @property
    def location(self) -> str:
        return f"file://{self.root.resolve()}"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*PurePosixPath(check_key(key)).parts)

    async def put(self, key: str, data: bytes, *, media_type: str = "application/octet-stream") -> StoredObject:
        return await anyio.to_thread.run_sync(self._put, key, data)

    def _put(self, key: str, data: bytes) -> StoredObject:
        _write_atomically(self._path(key), lambda out: out.write(data), read_only=False)
        return StoredObject(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    async def put_file(
        self,
        key: str,
        path: Path,
        *,
        media_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> StoredObject:
        """Copy ``path`` in chunks to a temporary file beside the target, hashing as it goes; fsync; rename.

        With ``retain_until`` the file is made read-only (not enforceable: see the class).
        """
        target = self._path(key)
        read_only = check_retain_until(retain_until) is not None
        try:
            return await anyio.to_thread.run_sync(self._put_file, key, target, path, read_only)
        except OSError as exc:
            raise ObjectStoreError(f"upload of {key} to {self.location} failed: {exc}") from exc

    @staticmethod
    def _put_file(key: str, target: Path, source: Path, read_only: bool) -> StoredObject:
        digest, size = hashlib.sha256(), 0

        def copy(out: IO[bytes]) -> None:
            nonlocal size
            with source.open("rb") as src:
                while chunk := src.read(CHUNK_BYTES):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)

        _write_atomically(target, copy, read_only=read_only)
        return StoredObject(key=key, sha256=digest.hexdigest(), size=size)

    async def verify_stored(
        self, key: str, *, sha256: str, size: int, checksum: str | None = None, version_id: str | None = None
    ) -> StoredObject:
        """Re-hash the file (``checksum`` and ``version_id`` are not used: a local key has one version)."""
        path = self._path(key)

        def rehash() -> tuple[str, int]:
            with path.open("rb") as handle:
                return _hash_file(handle)

        try:
            actual_sha256, actual_size = await anyio.to_thread.run_sync(rehash)
        except FileNotFoundError:
            raise ObjectMissing(f"{key} is not in {self.location}") from None
        except OSError as exc:
            raise ObjectStoreError(f"verification of {key} in {self.location} failed: {exc}") from exc
        if actual_size != size:
            raise _mismatch(key, self.location, "size", actual_size, size)
        if actual_sha256 != sha256.lower():
            raise _mismatch(key, self.location, "SHA-256", actual_sha256, sha256)
        return StoredObject(key=key, sha256=actual_sha256, size=actual_size)

    async def presigned_url(
        self, key: str, *, expires_in: int, filename: str | None = None, version_id: str | None = None
    ) -> str | None:
        """Always ``None``: a local object has no URL of its own; the caller streams it."""
        check_key(key)
        return None

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await anyio.to_thread.run_sync(self._path(key).open, "rb")
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        try:
            while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK_BYTES):
                yield chunk
        finally:
            handle.close()

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class _Part:
    number: int
    etag: str
    digest: bytes


_PARTS_SUFFIX = re.compile(r"-(\d+)$")


class S3ObjectStore:
    """Objects in an S3 bucket, uploaded with a SHA-256 checksum S3 verifies on receipt.

    Uploads are encrypted at rest (SSE-S3, AES256). Whether the bucket has Object Lock
    is asked once (``get_object_lock_configuration``) and remembered for the store's life.
    Leave a lifecycle rule ``AbortIncompleteMultipartUpload`` on the bucket: a multipart
    upload that fails is aborted, but an abort cannot reach an endpoint that is down.
    """

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._client = client
        self._object_lock: bool | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ObjectStore:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            # One client per process, shared by the worker threads: give them connections.
            config=Config(
                max_pool_connections=32,
                connect_timeout=CONNECT_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
                retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
            ),
        )
        return cls(settings.s3_bucket, client)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}"

    @contextmanager
    def _failure(self, operation: str) -> Iterator[None]:
        """botocore's errors (connection, timeouts, S3 error answers) and file errors as ``ObjectStoreError``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError, OSError) as exc:
            raise ObjectStoreError(f"{operation} failed: {exc}") from exc

    async def put(self, key: str, data: bytes, *, media_type: str = "application/octet-stream") -> StoredObject:
        digest = hashlib.sha256(data).digest()
        await anyio.to_thread.run_sync(
            lambda: self._client.put_object(
                Bucket=self.bucket,
                Key=check_key(key),
                Body=data,
                ContentType=media_type,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(digest).decode(),
                ServerSideEncryption="AES256",
            )
        )
        return StoredObject(key=key, sha256=digest.hex(), size=len(data))

    async def _lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock: asked once, remembered for the store's life."""
        if self._object_lock is None:
            self._object_lock = await anyio.to_thread.run_sync(self._read_object_lock)
        return self._object_lock

    def _read_object_lock(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"ObjectLockConfigurationNotFoundError", "NotImplemented"}:
                return False
            raise
        return bool(answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")

    async def put_file(
        self,
        key: str,
        path: Path,
        *,
        media_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> StoredObject:
        """Upload ``path``: one PUT below ``MULTIPART_THRESHOLD`` bytes, else a multipart upload.

        Every request carries the SHA-256 checksum of its body (``ChecksumAlgorithm``
        SHA256), which S3 verifies on receipt: the single PUT that of the whole file
        (hashed in a first pass), each part its own; the object then holds the composite
        checksum (``StoredObject.checksum``). Encrypted at rest (AES256). With
        ``retain_until`` and a bucket with Object Lock, the version is retained in
        COMPLIANCE mode until then; on a bucket without it the object is stored without
        retention (``StoredObject.retention`` is ``None``). A multipart upload that fails
        (or is cancelled) is aborted, so no orphan parts stay; if the abort cannot reach
        S3 either, the error says so (the bucket's lifecycle rule then clears the parts).
        """
        check_key(key)
        until = check_retain_until(retain_until)
        operation = f"upload of {key} to {self.location}"
        extra: dict[str, Any] = {
            "ContentType": media_type,
            "ServerSideEncryption": "AES256",
            "ChecksumAlgorithm": "SHA256",
        }
        with self._failure(operation):
            size = (await anyio.to_thread.run_sync(path.stat)).st_size
            retention = Retention(COMPLIANCE, until) if until is not None and await self._lock_enabled() else None
            if retention is not None:
                extra |= {"ObjectLockMode": retention.mode, "ObjectLockRetainUntilDate": retention.retain_until}
            if size < MULTIPART_THRESHOLD:
                return await anyio.to_thread.run_sync(self._put_single, key, path, extra, retention)
            return await self._put_multipart(key, path, size, extra, retention, operation)

    def _put_single(self, key: str, path: Path, extra: dict[str, Any], retention: Retention | None) -> StoredObject:
        with path.open("rb") as handle:
            sha256, size = _hash_file(handle)
            handle.seek(0)
            checksum = _b64(bytes.fromhex(sha256))
            answer = self._client.put_object(Bucket=self.bucket, Key=key, Body=handle, ChecksumSHA256=checksum, **extra)
        return StoredObject(
            key=key,
            sha256=sha256,
            size=size,
            checksum=checksum,
            version_id=answer.get("VersionId"),
            retention=retention,
        )

    async def _put_multipart(
        self, key: str, path: Path, size: int, extra: dict[str, Any], retention: Retention | None, operation: str
    ) -> StoredObject:
        part_size = max(MULTIPART_PART_SIZE, -(-size // MAX_PARTS))
        created = await anyio.to_thread.run_sync(
            lambda: self._client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        )
        upload_id: str = created["UploadId"]
        total, parts, uploaded = hashlib.sha256(), list[_Part](), 0
        try:
            handle = await anyio.to_thread.run_sync(path.open, "rb")
            try:
                while part := await anyio.to_thread.run_sync(
                    self._upload_part, key, upload_id, len(parts) + 1, handle, part_size, total
                ):
                    parts.append(part[0])
                    uploaded += part[1]
            finally:
                handle.close()
            answer = await anyio.to_thread.run_sync(
                lambda: self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [
                            {"PartNumber": p.number, "ETag": p.etag, "ChecksumSHA256": _b64(p.digest)} for p in parts
                        ]
                    },
                )
            )
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                abort_failure = await anyio.to_thread.run_sync(self._abort, key, upload_id)
            if abort_failure is not None:
                note = (
                    f"aborting multipart upload {upload_id} failed too ({abort_failure}); "
                    "its parts stay until a lifecycle rule removes them"
                )
                if isinstance(exc, Exception):
                    raise ObjectStoreError(f"{operation} failed: {exc}; {note}") from exc
                exc.add_note(note)
            raise
        version_id = answer.get("VersionId")
        if retention is not None:
            await anyio.to_thread.run_sync(self._ensure_retention, key, version_id, retention)
        return StoredObject(
            key=key,
            sha256=total.hexdigest(),
            size=uploaded,
            checksum=composite_checksum([p.digest for p in parts]),
            version_id=version_id,
            retention=retention,
        )

    def _upload_part(
        self, key: str, upload_id: str, number: int, handle: IO[bytes], part_size: int, total: Any
    ) -> tuple[_Part, int] | None:
        chunk = handle.read(part_size)
        if not chunk and number > 1:
            return None
        total.update(chunk)
        digest = hashlib.sha256(chunk).digest()
        answer = self._client.upload_part(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=chunk,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest),
        )
        return _Part(number, answer["ETag"], digest), len(chunk)

    def _abort(self, key: str, upload_id: str) -> str | None:
        """Abort the multipart upload; the reason it could not be, if so."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return None
            return str(exc)
        return None

    def _ensure_retention(self, key: str, version_id: str | None, retention: Retention) -> None:
        """Make sure the completed multipart version carries the retention asked at its creation.

        S3 applies the Object Lock headers of CreateMultipartUpload to the completed
        object; some S3 implementations drop them (moto does), so read them back and set
        the retention on that version when it is missing or shorter.
        """
        version = {"VersionId": version_id} if version_id else {}
        head = self._client.head_object(Bucket=self.bucket, Key=key, **version)
        until = head.get("ObjectLockRetainUntilDate")
        if head.get("ObjectLockMode") == retention.mode and until is not None and until >= retention.retain_until:
            return
        self._client.put_object_retention(
            Bucket=self.bucket,
            Key=key,
            Retention={"Mode": retention.mode, "RetainUntilDate": retention.retain_until},
            **version,
        )

    def _head(self, key: str, **params: Any) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self._client.head_object(Bucket=self.bucket, Key=check_key(key), **params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                raise ObjectMissing(f"{key} is not in {self.location}") from None
            raise

    async def verify_stored(
        self, key: str, *, sha256: str, size: int, checksum: str | None = None, version_id: str | None = None
    ) -> StoredObject:
        """Prove that version ``version_id`` of ``key`` (the current one when None) is the
        content with ``sha256`` and ``size``.

        Asks ``head_object(ChecksumMode="ENABLED")`` for the size and the checksum S3
        keeps (and verified on receipt). A single-PUT object's checksum must equal
        ``base64(sha256)``. A multipart object's is composite
        (``base64(sha256(part digests))-N``; S3 and moto differ on whether the ``-N``
        suffix is shown, so its base and, where shown, its part count are compared): it is
        compared with ``checksum`` (the composite ``put_file`` returned) when given.
        Without that, or when the object has no SHA-256 checksum at all (uploaded
        otherwise, or an endpoint without checksums), the object is read back and hashed.
        """
        expected_sha256 = sha256.lower()
        with self._failure(f"verification of {key} in {self.location}"):
            pinned = {"VersionId": version_id} if version_id else {}
            head = await anyio.to_thread.run_sync(lambda: self._head(key, ChecksumMode="ENABLED", **pinned))
            actual_size = int(head["ContentLength"])
            if actual_size != size:
                raise _mismatch(key, self.location, "size", actual_size, size)
            stored: str | None = head.get("ChecksumSHA256")
            parts = self._parts_of(stored, head.get("ETag"), head.get("ChecksumType"))
            version_id = head.get("VersionId", version_id)
            if stored is not None and parts is None:
                expected = _b64(bytes.fromhex(expected_sha256))
                if stored != expected:
                    raise _mismatch(key, self.location, "SHA-256 checksum", stored, expected)
            elif stored is not None and checksum is not None and _PARTS_SUFFIX.search(checksum):
                stored = f"{_PARTS_SUFFIX.sub('', stored)}-{parts}"
                if stored != checksum:
                    raise _mismatch(key, self.location, "composite SHA-256 checksum", stored, checksum)
            else:
                actual_sha256 = await anyio.to_thread.run_sync(self._hash_object, key, version_id)
                if actual_sha256 != expected_sha256:
                    raise _mismatch(key, self.location, "SHA-256", actual_sha256, expected_sha256)
                if stored is not None:
                    stored = f"{_PARTS_SUFFIX.sub('', stored)}-{parts}"
        return StoredObject(
            key=key,
            sha256=expected_sha256,
            size=actual_size,
            checksum=stored,
            version_id=version_id,
            retention=self._retention_in(head),
        )

    @staticmethod
    def _parts_of(checksum: str | None, etag: str | None, checksum_type: str | None) -> int | None:
        """The part count of a multipart object (``None``: a single PUT), from its checksum or ETag suffix."""
        for text in (checksum, (etag or "").strip('"')):
            if text and (match := _PARTS_SUFFIX.search(text)):
                return int(match.group(1))
        if checksum_type == "COMPOSITE":
            raise ObjectStoreError(f"composite checksum {checksum!r} without a part count")
        return None

    def _hash_object(self, key: str, version_id: str | None) -> str:
        version = {"VersionId": version_id} if version_id else {}
        body = self._client.get_object(Bucket=self.bucket, Key=key, **version)["Body"]
        try:
            digest = hashlib.sha256()
            while chunk := body.read(CHUNK_BYTES):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()

    @staticmethod
    def _retention_in(head: Any) -> Retention | None:
        mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
        if not mode or until is None:
            return None
        return Retention(mode=mode, retain_until=until.astimezone(UTC))

    async def presigned_url(
        self, key: str, *, expires_in: int, filename: str | None = None, version_id: str | None = None
    ) -> str | None:
        """A presigned GET of ``key`` valid ``expires_in`` seconds (1 to 7 days' worth).

        With ``filename`` the download answers ``Content-Disposition: attachment`` with
        that name. Signing is local (no request to S3): the URL does not prove the object
        exists.
        """
        check_key(key)
        if not 1 <= expires_in <= MAX_PRESIGNED_SECONDS:
            raise ValueError(f"expires_in must be between 1 and {MAX_PRESIGNED_SECONDS} seconds")
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        if version_id:
            params["VersionId"] = version_id
        with self._failure(f"presigning of {key} in {self.location}"):
            url: str = await anyio.to_thread.run_sync(
                lambda: self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
            )
        return url

    async def get(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(lambda: bytes(self._body(key).read()))

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        body = await anyio.to_thread.run_sync(self._body, key)
        try:
            while chunk := await anyio.to_thread.run_sync(body.read, CHUNK_BYTES):
                yield bytes(chunk)
        finally:
            body.close()

    def _body(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self._client.get_object(Bucket=self.bucket, Key=check_key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ObjectMissing(key) from None
            raise

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=check_key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                    return False
                raise
            return True

        return await anyio.to_thread.run_sync(head)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._client.delete_object(Bucket=self.bucket, Key=check_key(key)))


def object_store(settings: Settings) -> ObjectStore:
    """The store ``settings`` name: S3 when a bucket is configured, else the local directory."""
    if settings.s3_bucket:
        return S3ObjectStore.from_settings(settings)
    return LocalObjectStore(settings.effective_object_store_dir)
