"""The local object store (the embedded default)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from governance.core.storage import LocalObjectStore


def test_put_get_and_record_the_hash(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    stored = store.put("documents/ab/cdef.pdf", b"%PDF-1.7 test")
    assert stored.sha256 == hashlib.sha256(b"%PDF-1.7 test").hexdigest()
    assert stored.size == 13
    assert store.exists("documents/ab/cdef.pdf")
    assert store.get("documents/ab/cdef.pdf") == b"%PDF-1.7 test"
    assert not list((tmp_path / "objects" / "documents" / "ab").glob(".upload-*")), "no temp files left"


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a/../../b", ""])
def test_keys_cannot_leave_the_store(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid object key"):
        LocalObjectStore(tmp_path).put(key, b"x")
