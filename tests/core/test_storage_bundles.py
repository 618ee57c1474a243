"""Evidence bundle storage: files streamed in, checksummed, encrypted, retained, verified, presigned.

S3 runs on moto's server over real HTTP; buckets are made with and without Object Lock.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from governance.core import storage
from governance.core.storage import (
    ChecksumMismatch,
    LocalObjectStore,
    ObjectMissing,
    ObjectStore,
    ObjectStoreError,
    Retention,
    S3ObjectStore,
    composite_checksum,
    content_disposition,
    object_store,
)
from governance.settings import Settings

MiB = 1024 * 1024
KEY = "bundles/2025-q1/bundle.pdf"


class Spy:
    """The boto3 client, counting calls; ``fail`` may replace one operation."""

    def __init__(self, client: Any, fail: dict[str, Callable[..., Any]] | None = None) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self.fail = fail or {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            if name in self.fail:
                return self.fail[name](attr, self.calls[name], *args, **kwargs)
            return attr(*args, **kwargs)

        return call


def s3(settings: Settings) -> S3ObjectStore:
    store = object_store(settings)
    assert isinstance(store, S3ObjectStore)
    return store


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multipart from 6 MiB on, in parts of 5 MiB (S3's smallest)."""
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 6 * MiB)
    monkeypatch.setattr(storage, "MULTIPART_PART_SIZE", 5 * MiB)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(300 * 1024) + b"\n%%EOF\n")
    return path


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """11 MiB and a bit: three parts of 5 MiB, 5 MiB and the rest."""
    path = tmp_path / "big.pdf"
    path.write_bytes(os.urandom(11 * MiB + 123))
    return path


def content(path: Path) -> bytes:
    return path.read_bytes()


def size_of(path: Path) -> int:
    return path.stat().st_size


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def in_a_year() -> datetime:
    return datetime.now(UTC) + timedelta(days=365, microseconds=1)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- Object Lock, checksums, encryption -----------------------------------------------------


async def test_a_bundle_is_checksummed_encrypted_and_retained_in_compliance_mode(
    locked_bucket: Settings, pdf: Path
) -> None:
    store = s3(locked_bucket)
    until = in_a_year()
    stored = await store.put_file(KEY, pdf, media_type="application/pdf", retain_until=until)

    expected_until = until.replace(microsecond=0) + timedelta(seconds=1)  # rounded up to S3's second
    assert stored.sha256 == sha256_of(pdf)
    assert stored.size == size_of(pdf)
    assert stored.checksum == base64.b64encode(hashlib.sha256(content(pdf)).digest()).decode()
    assert stored.retention == Retention("COMPLIANCE", expected_until)
    assert stored.locked
    assert stored.version_id

    client = store._client
    head = client.head_object(Bucket=store.bucket, Key=KEY, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == stored.checksum
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/pdf"
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == expected_until

    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(Bucket=store.bucket, Key=KEY, VersionId=stored.version_id)
    assert await store.get(KEY) == content(pdf)

    confirmed = await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size, checksum=stored.checksum)
    assert confirmed == stored


async def test_object_lock_is_looked_up_once_per_store(locked_bucket: Settings, pdf: Path) -> None:
    store = s3(locked_bucket)
    spy = store._client = Spy(store._client)
    await store.put_file(KEY, pdf, retain_until=in_a_year())
    await store.put_file("bundles/2025-q1/manifest.json", pdf, retain_until=in_a_year())
    assert spy.calls["get_object_lock_configuration"] == 1


async def test_a_bucket_without_object_lock_stores_without_retention(s3_bucket: Settings, pdf: Path) -> None:
    store = s3(s3_bucket)
    stored = await store.put_file(KEY, pdf, media_type="application/pdf", retain_until=in_a_year())
    assert stored.retention is None
    assert not stored.locked
    head = store._client.head_object(Bucket=store.bucket, Key=KEY, ChecksumMode="ENABLED")
    assert "ObjectLockMode" not in head
    assert head["ChecksumSHA256"] == stored.checksum
    assert head["ServerSideEncryption"] == "AES256"
    assert await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size) == stored


async def test_retain_until_must_say_its_time_zone(locked_bucket: Settings, pdf: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await s3(locked_bucket).put_file(KEY, pdf, retain_until=datetime(2030, 1, 1))


# --- multipart --------------------------------------------------------------------------------


@pytest.mark.usefixtures("small_parts")
async def test_a_large_file_goes_up_in_checksummed_parts_and_confirms(locked_bucket: Settings, big: Path) -> None:
    store = s3(locked_bucket)
    spy = store._client = Spy(store._client)
    until = in_a_year()
    stored = await store.put_file(KEY, big, media_type="application/pdf", retain_until=until)

    data = content(big)
    digests = [hashlib.sha256(data[i : i + 5 * MiB]).digest() for i in range(0, len(data), 5 * MiB)]
    assert spy.calls["upload_part"] == 3
    assert spy.calls["put_object"] == 0
    assert stored.checksum == composite_checksum(digests)
    assert stored.checksum.endswith("-3")
    assert (stored.sha256, stored.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert not spy.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
    assert b"".join([chunk async for chunk in store.stream(KEY)]) == data

    # What moto answers: the composite checksum, without S3's "-3" suffix; encryption kept.
    head = spy.client.head_object(Bucket=store.bucket, Key=KEY, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].removesuffix("-3") == stored.checksum.removesuffix("-3")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/pdf"

    # Retained like a single PUT (moto drops CreateMultipartUpload's lock: the store sets it).
    expected_until = until.replace(microsecond=0) + timedelta(seconds=1)
    assert stored.retention == Retention("COMPLIANCE", expected_until)
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", expected_until)
    with pytest.raises(spy.client.exceptions.ClientError, match="AccessDenied"):
        spy.client.delete_object(Bucket=store.bucket, Key=KEY, VersionId=stored.version_id)

    # With the composite checksum recorded at upload: no read-back.
    confirmed = await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size, checksum=stored.checksum)
    assert confirmed.checksum == stored.checksum
    assert spy.calls["get_object"] == 1  # the stream above only
    # Without it: the object is read back and hashed.
    confirmed = await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size)
    assert confirmed.checksum == stored.checksum
    assert spy.calls["get_object"] == 2


@pytest.mark.usefixtures("small_parts")
async def test_a_multipart_object_that_differs_is_caught_either_way(s3_bucket: Settings, big: Path) -> None:
    store = s3(s3_bucket)
    stored = await store.put_file(KEY, big)
    other = big.with_name("other.pdf")
    other.write_bytes(os.urandom(stored.size))
    await store.put_file(KEY, other)  # behind the first writer's back, same size
    with pytest.raises(ChecksumMismatch, match="composite SHA-256 checksum"):
        await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size, checksum=stored.checksum)
    with pytest.raises(ChecksumMismatch, match="SHA-256 is"):
        await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size)


@pytest.mark.usefixtures("small_parts")
async def test_a_failing_multipart_upload_is_aborted(s3_bucket: Settings, big: Path) -> None:
    from botocore.exceptions import EndpointConnectionError

    def second_part_fails(call: Callable[..., Any], n: int, *args: Any, **kwargs: Any) -> Any:
        if n == 2:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return call(*args, **kwargs)

    store = s3(s3_bucket)
    spy = store._client = Spy(store._client, fail={"upload_part": second_part_fails})
    with pytest.raises(ObjectStoreError) as caught:
        await store.put_file(KEY, big)
    assert str(caught.value) == (
        f'upload of {KEY} to s3://{store.bucket} failed: Could not connect to the endpoint URL: "http://s3.invalid"'
    )
    assert spy.calls["abort_multipart_upload"] == 1
    assert not spy.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
    assert not await store.exists(KEY)


# --- verification -----------------------------------------------------------------------------


async def test_verification_catches_an_object_changed_behind_the_stores_back(s3_bucket: Settings, pdf: Path) -> None:
    store = s3(s3_bucket)
    stored = await store.put_file(KEY, pdf)
    with pytest.raises(ChecksumMismatch, match="size is"):
        await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size + 1)
    with pytest.raises(ChecksumMismatch, match="SHA-256 checksum is"):
        await store.verify_stored(KEY, sha256=hashlib.sha256(b"other").hexdigest(), size=stored.size)

    tampered = bytearray(content(pdf))
    tampered[100] ^= 0xFF
    await store.put(KEY, bytes(tampered))
    with pytest.raises(ChecksumMismatch) as caught:
        await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size, checksum=stored.checksum)
    assert str(caught.value).startswith(f"{KEY} in s3://{store.bucket} is not what was uploaded: its SHA-256 checksum")
    assert isinstance(caught.value, ObjectStoreError)

    with pytest.raises(ObjectMissing):
        await store.verify_stored("bundles/absent.pdf", sha256=stored.sha256, size=stored.size)


async def test_an_object_without_a_checksum_is_read_back(s3_bucket: Settings, pdf: Path) -> None:
    store = s3(s3_bucket)
    # Uploaded by something else, without a SHA-256 checksum.
    store._client.put_object(Bucket=store.bucket, Key=KEY, Body=content(pdf), ChecksumAlgorithm="CRC32")
    spy = store._client = Spy(store._client)
    confirmed = await store.verify_stored(KEY, sha256=sha256_of(pdf), size=size_of(pdf))
    assert confirmed.checksum is None
    assert spy.calls["get_object"] == 1
    with pytest.raises(ChecksumMismatch, match="SHA-256 is"):
        await store.verify_stored(KEY, sha256=hashlib.sha256(b"x").hexdigest(), size=size_of(pdf))


# --- presigned URLs ---------------------------------------------------------------------------


async def test_a_presigned_url_downloads_the_bundle_as_an_attachment(s3_bucket: Settings, pdf: Path) -> None:
    store = s3(s3_bucket)
    await store.put_file(KEY, pdf, media_type="application/pdf")
    url = await store.presigned_url(KEY, expires_in=300, filename="Evidence Q1 – 2025.pdf")
    assert url is not None
    async with httpx.AsyncClient() as http:
        answer = await http.get(url)
        assert answer.status_code == 200
        assert answer.content == content(pdf)
        assert answer.headers["content-disposition"] == content_disposition("Evidence Q1 – 2025.pdf")
        assert answer.headers["content-type"] == "application/pdf"
        unsigned = await http.get(url.split("?")[0])
        assert unsigned.status_code == 403
    with pytest.raises(ValueError, match="expires_in"):
        await store.presigned_url(KEY, expires_in=8 * 24 * 3600)


def test_content_disposition_keeps_an_ascii_fallback() -> None:
    assert content_disposition("bundle.pdf") == "attachment; filename=\"bundle.pdf\"; filename*=UTF-8''bundle.pdf"
    assert content_disposition('Q1 "final" – ü.pdf') == (
        "attachment; filename=\"Q1 _final_ _ _.pdf\"; filename*=UTF-8''Q1%20%22final%22%20%E2%80%93%20%C3%BC.pdf"
    )


# --- S3 unreachable ---------------------------------------------------------------------------


async def test_a_dead_endpoint_fails_within_seconds_naming_operation_key_and_cause(
    s3_bucket: Settings, pdf: Path
) -> None:
    store = s3(msgspec.structs.replace(s3_bucket, s3_endpoint_url=f"http://127.0.0.1:{closed_port()}"))
    started = time.monotonic()
    with pytest.raises(ObjectStoreError) as caught:
        await store.put_file(KEY, pdf, retain_until=in_a_year())
    assert time.monotonic() - started < 15
    assert str(caught.value).startswith(
        f"upload of {KEY} to s3://{store.bucket} failed: Could not connect to the endpoint URL"
    )
    with pytest.raises(ObjectStoreError, match=f"^verification of {KEY} in s3://.* failed: Could not connect"):
        await store.verify_stored(KEY, sha256="0" * 64, size=1)


@pytest.fixture
def second_server() -> Iterator[Any]:
    """Another moto server in this process (moto's state is per process: both see the same buckets)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server
    server.stop()


@pytest.mark.usefixtures("small_parts")
async def test_s3_going_away_mid_upload_fails_clearly_and_says_parts_may_remain(
    s3_bucket: Settings, big: Path, second_server: Any
) -> None:
    host, port = second_server.get_host_and_port()
    store = s3(msgspec.structs.replace(s3_bucket, s3_endpoint_url=f"http://{host}:{port}"))

    def server_stops(call: Callable[..., Any], n: int, *args: Any, **kwargs: Any) -> Any:
        if n == 2:
            second_server.stop()
        return call(*args, **kwargs)

    store._client = Spy(store._client, fail={"upload_part": server_stops})
    started = time.monotonic()
    with pytest.raises(ObjectStoreError) as caught:
        await store.put_file(KEY, big)
    assert time.monotonic() - started < 30
    message = str(caught.value)
    assert message.startswith(f"upload of {KEY} to s3://{store.bucket} failed: Could not connect to the endpoint URL")
    assert "aborting multipart upload" in message
    assert "failed too" in message

    # The abort could not reach the dead endpoint: the upload is still open, as the message says
    # (moto keeps one state per process, so the first server shows it). A lifecycle rule clears it.
    healthy = s3(s3_bucket)._client
    uploads = healthy.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    assert [upload["Key"] for upload in uploads] == [KEY]
    healthy.abort_multipart_upload(Bucket=store.bucket, Key=KEY, UploadId=uploads[0]["UploadId"])


# --- the local store --------------------------------------------------------------------------


async def test_local_put_file_streams_atomically_and_hashes(tmp_path: Path, big: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    stored = await store.put_file(KEY, big, media_type="application/pdf")
    assert (stored.sha256, stored.size) == (sha256_of(big), size_of(big))
    assert (stored.checksum, stored.version_id, stored.retention) == (None, None, None)
    assert await store.get(KEY) == content(big)
    assert not list((tmp_path / "objects" / "bundles" / "2025-q1").glob(".upload-*"))
    assert await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size) == stored
    assert await store.presigned_url(KEY, expires_in=300, filename="bundle.pdf") is None


async def test_local_retention_is_only_a_read_only_file(tmp_path: Path, pdf: Path) -> None:
    store = LocalObjectStore(tmp_path)
    stored = await store.put_file(KEY, pdf, retain_until=in_a_year())
    assert stored.retention is None
    assert not stored.locked
    mode = (tmp_path / KEY).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.put_file(KEY, pdf, retain_until=datetime(2030, 1, 1))


async def test_local_verification_catches_changes_and_absence(tmp_path: Path, pdf: Path) -> None:
    store = LocalObjectStore(tmp_path)
    stored = await store.put_file(KEY, pdf)
    with pytest.raises(ChecksumMismatch, match="size is"):
        await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size - 1)
    target = tmp_path / KEY
    tampered = bytearray(target.read_bytes())
    tampered[100] ^= 0xFF
    target.write_bytes(bytes(tampered))
    with pytest.raises(ChecksumMismatch, match="SHA-256 is"):
        await store.verify_stored(KEY, sha256=stored.sha256, size=stored.size)
    with pytest.raises(ObjectMissing):
        await store.verify_stored("bundles/absent.pdf", sha256=stored.sha256, size=stored.size)


async def test_a_missing_source_file_is_a_clear_store_error(tmp_path: Path, s3_bucket: Settings) -> None:
    missing = tmp_path / "never-rendered.pdf"
    with pytest.raises(ObjectStoreError, match=f"^upload of {KEY} to file://.* failed: .*No such file"):
        await LocalObjectStore(tmp_path / "objects").put_file(KEY, missing)
    with pytest.raises(ObjectStoreError, match=f"^upload of {KEY} to s3://.* failed: .*No such file"):
        await s3(s3_bucket).put_file(KEY, missing)
    assert not list((tmp_path / "objects").rglob("*.pdf"))


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    return s3(request.getfixturevalue("s3_bucket"))


async def test_both_stores_round_trip_a_bundle_and_its_manifest(store: ObjectStore, pdf: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'{"files": []}')
    for key, path, media_type in [
        ("bundles/b-1/bundle.pdf", pdf, "application/pdf"),
        ("bundles/b-1/manifest.json", manifest, "application/json"),
    ]:
        stored = await store.put_file(key, path, media_type=media_type)
        assert stored.sha256 == sha256_of(path)
        assert (await store.verify_stored(key, sha256=stored.sha256, size=stored.size)).sha256 == stored.sha256
        assert await store.get(key) == path.read_bytes()
