"""Object stores: the local directory (embedded default) and S3 (moto's server over real HTTP)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from governance.core.storage import LocalObjectStore, ObjectMissing, ObjectStore, S3ObjectStore, object_store
from governance.settings import Settings


@pytest.fixture
def s3_store(s3_bucket: Settings) -> S3ObjectStore:
    store = object_store(s3_bucket)
    assert isinstance(store, S3ObjectStore)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    s3: S3ObjectStore = request.getfixturevalue("s3_store")
    return s3


async def test_put_get_and_record_the_hash(store: ObjectStore) -> None:
    stored = await store.put("documents/ab/cdef.pdf", b"%PDF-1.7 test", media_type="application/pdf")
    assert stored.sha256 == hashlib.sha256(b"%PDF-1.7 test").hexdigest()
    assert stored.size == 13
    assert await store.exists("documents/ab/cdef.pdf")
    assert await store.get("documents/ab/cdef.pdf") == b"%PDF-1.7 test"
    assert not await store.exists("documents/ab/other.pdf")
    with pytest.raises(ObjectMissing):
        await store.get("documents/ab/other.pdf")
    await store.delete("documents/ab/cdef.pdf")
    assert not await store.exists("documents/ab/cdef.pdf")


async def test_objects_stream_out_in_chunks(store: ObjectStore) -> None:
    data = bytes(range(256)) * 3000  # larger than one chunk
    await store.put("bundles/big.bin", data)
    chunks = [chunk async for chunk in store.stream("bundles/big.bin")]
    assert len(chunks) > 1
    assert b"".join(chunks) == data
    with pytest.raises(ObjectMissing):
        [chunk async for chunk in store.stream("bundles/absent.bin")]


async def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    await LocalObjectStore(tmp_path).put("documents/ab/cdef.pdf", b"x")
    assert not list((tmp_path / "documents" / "ab").glob(".upload-*"))


async def test_s3_objects_carry_a_sha256_checksum_and_encryption(s3_store: S3ObjectStore) -> None:
    await s3_store.put("documents/x", b"%PDF-1.7 checked", media_type="application/pdf")
    head = s3_store._client.head_object(Bucket=s3_store.bucket, Key="documents/x", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ChecksumSHA256"]
    assert head["ContentType"] == "application/pdf"


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a/../../b", ""])
async def test_keys_cannot_leave_the_store(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        await LocalObjectStore(tmp_path).put(key, b"x")


def test_without_a_bucket_the_store_is_the_local_directory(tmp_path: Path) -> None:
    store = object_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "objects"
