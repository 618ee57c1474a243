"""Object storage for documents and evidence bundles.

The embedded default is a local directory; any S3 endpoint (AWS S3, MinIO, Ceph) is a
matter of configuration (``GOVERNANCE_S3_BUCKET``). The key layout is the same in both,
so moving a deployment to S3 changes no key. Both stores speak the same small async
protocol; the S3 one runs boto3 (synchronous) in worker threads through one shared
client.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Final, Protocol

import anyio.to_thread

from governance.settings import Settings

# Read size when streaming an object out.
CHUNK_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    sha256: str
    size: int


class ObjectMissing(LookupError):
    """No object under that key."""


class ObjectStore(Protocol):
    """Where documents and bundles live. Keys are ``/``-separated relative paths."""

    @property
    def location(self) -> str: ...

    async def put(self, key: str, data: bytes, *, media_type: str = "application/octet-stream") -> StoredObject: ...

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


class LocalObjectStore:
    """Objects as files under one directory; writes are atomic (temp file, fsync, rename)."""

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
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredObject(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))

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


class S3ObjectStore:
    """Objects in an S3 bucket, uploaded with a SHA-256 checksum S3 verifies on receipt."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ObjectStore:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            # One client per process, shared by the worker threads: give them connections.
            config=Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 3}),
        )
        return cls(settings.s3_bucket, client)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}"

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
