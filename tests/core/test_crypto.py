"""Per-subject envelope encryption and crypto-shredding."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from governance.core import crypto, db
from governance.core.crypto import CiphertextInvalid, Keyring, LocalMasterKey, MasterKeyMismatch, SubjectErased
from governance.core.tables import SubjectKey
from governance.settings import Settings


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(LocalMasterKey.load_or_create(tmp_path / "master.key"))


def subject() -> str:
    return f"mentee-{uuid.uuid4().hex[:8]}"


async def test_round_trip_and_ciphertext_reveals_nothing(database: Settings, keyring: Keyring) -> None:
    who = subject()
    sealed = await keyring.encrypt(who, "ada@example.org")
    assert "ada" not in sealed
    assert sealed != await keyring.encrypt(who, "ada@example.org"), "a fresh nonce every time"
    assert await keyring.decrypt(who, sealed) == "ada@example.org"
    stored = await SubjectKey.select().where(SubjectKey.subject == who).first()
    assert stored is not None
    assert len(bytes(stored["wrapped_key"])) == 12 + 32 + 16, "only the wrapped key is stored"


async def test_a_ciphertext_moved_to_another_subject_does_not_decrypt(database: Settings, keyring: Keyring) -> None:
    alice, bob = subject(), subject()
    sealed = await keyring.encrypt(alice, "alice's note")
    await keyring.encrypt(bob, "bob's note")
    with pytest.raises(CiphertextInvalid):
        await keyring.decrypt(bob, sealed)


async def test_tampered_or_foreign_ciphertext_is_refused(database: Settings, keyring: Keyring) -> None:
    who = subject()
    sealed = await keyring.encrypt(who, "text")
    header, _, body = sealed.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 0x01  # one bit of the authentication tag
    flipped = f"{header}." + base64.urlsafe_b64encode(bytes(raw)).decode()
    other_case = sealed.replace("gv2.1..", "gv2.1.refund:r-1.", 1)  # a header rewritten to name another key
    for bad in (flipped, "plaintext", "gv1.@@@", "gv2.x..abc", other_case):
        with pytest.raises(CiphertextInvalid):
            await keyring.decrypt(who, bad)


async def test_after_shredding_the_data_is_gone_and_says_so(database: Settings, keyring: Keyring) -> None:
    who = subject()
    sealed = await keyring.encrypt(who, "session notes")
    assert await keyring.shred(who)
    with pytest.raises(SubjectErased, match="erased"):
        await keyring.decrypt(who, sealed)
    assert await keyring.is_shredded(who)
    assert not await keyring.shred(who), "nothing left to destroy"


async def test_a_subject_who_comes_back_starts_a_new_generation(database: Settings, keyring: Keyring) -> None:
    who = subject()
    old = await keyring.encrypt(who, "before the erasure")
    await keyring.shred(who)
    new = await keyring.encrypt(who, "after coming back")
    assert new.startswith("gv2.2..") and old.startswith("gv2.1..")
    assert await keyring.decrypt(who, new) == "after coming back"
    assert not await keyring.is_shredded(who), "back: their newest key is readable"
    with pytest.raises(SubjectErased):
        await keyring.decrypt(who, old)
    cipher = (await keyring.readable([who]))[who]
    assert cipher is not None
    assert (cipher.read(old), cipher.read(new)) == (None, "after coming back")


async def test_shredding_keeps_exactly_the_keys_of_held_cases(database: Settings, keyring: Keyring) -> None:
    who = subject()
    general = await keyring.encrypt(who, "profile")
    held = await keyring.encrypt(who, "refund reason", scope=crypto.case_scope("refund", "r-1"))
    other = await keyring.encrypt(who, "old complaint", scope=crypto.case_scope("complaint", "c-1"))
    shredding = await keyring.shred(who, keep={crypto.case_scope("refund", "r-1")})
    assert shredding.kept == [crypto.KeyRef("refund:r-1", 1)]
    assert set(shredding.shredded) == {crypto.KeyRef("", 1), crypto.KeyRef("complaint:c-1", 1)}
    assert await keyring.decrypt(who, held) == "refund reason"
    for gone in (general, other):
        with pytest.raises(SubjectErased):
            await keyring.decrypt(who, gone)
    [kept] = [k for k in await keyring.held_keys() if k.subject == who]
    assert (kept.subject, kept.ref.scope) == (who, "refund:r-1")
    assert await keyring.release(kept, kept.held_since)
    with pytest.raises(SubjectErased):
        await keyring.decrypt(who, held)
    assert who not in {k.subject for k in await keyring.held_keys()}


async def test_gv1_ciphertexts_are_read_with_the_first_general_key(database: Settings, keyring: Keyring) -> None:
    who = subject()
    await keyring.encrypt(who, "make the key")
    cipher = await keyring.cipher(who)
    key = cipher._key(crypto.FIRST)  # sealed as before scopes existed: subject alone as associated data
    nonce = os.urandom(12)
    legacy = "gv1." + base64.urlsafe_b64encode(nonce + key.aead.encrypt(nonce, b"old text", who.encode())).decode()
    assert await keyring.decrypt(who, legacy) == "old text"
    await keyring.shred(who)
    with pytest.raises(SubjectErased):
        await keyring.decrypt(who, legacy)


async def test_a_shred_rolled_back_with_its_transaction_keeps_the_key(database: Settings, keyring: Keyring) -> None:
    who = subject()
    sealed = await keyring.encrypt(who, "kept")
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await keyring.shred(who)
            raise RuntimeError("the erasure's audit entry failed")
    assert await keyring.decrypt(who, sealed) == "kept"


async def test_another_master_key_cannot_unwrap(database: Settings, keyring: Keyring, tmp_path: Path) -> None:
    who = subject()
    sealed = await keyring.encrypt(who, "secret")
    other = Keyring(LocalMasterKey.load_or_create(tmp_path / "other.key"))
    with pytest.raises(MasterKeyMismatch, match="wrapped by master key"):
        await other.decrypt(who, sealed)


def test_the_master_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    first = LocalMasterKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert LocalMasterKey.load_or_create(path).key_id == first.key_id


def test_a_truncated_key_file_is_refused_not_used(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="at least 32"):
        LocalMasterKey.load_or_create(path)


# --- segmented files --------------------------------------------------------------------

SEGMENT = crypto.SEGMENT_BYTES


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _open(cipher: crypto.SubjectCipher, sealed: bytes, context: bytes = b"ctx", chunk: int = 1000) -> bytes:
    return b"".join([part async for part in cipher.open_segments(_chunks(sealed, chunk), context)])


KEY = os.urandom(32)


def _cipher(subject: str = "mentor-1") -> crypto.SubjectCipher:
    return crypto.SubjectCipher(subject, KEY)


@given(
    size=st.sampled_from([0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17]),
    chunk=st.integers(min_value=1, max_value=3 * SEGMENT),
)
@hypothesis_settings(max_examples=30, deadline=None)
def test_segmented_files_round_trip_whatever_the_chunking(size: int, chunk: int) -> None:
    cipher = _cipher()
    data = os.urandom(size)
    sealed = cipher.seal_segments(data, b"ctx")
    assert asyncio.run(_open(cipher, sealed, chunk=chunk)) == data


@pytest.mark.parametrize(
    "damage",
    ["flip a byte", "drop the last segment", "swap two segments", "cut the tail", "other context", "other subject"],
)
def test_segmented_files_refuse_every_kind_of_damage(damage: str) -> None:
    cipher = _cipher()
    data = os.urandom(3 * SEGMENT + 100)
    sealed = bytearray(cipher.seal_segments(data, b"ctx"))
    header, size = len(crypto.STREAM_MAGIC) + 4 + 1 + 7, SEGMENT + 16  # magic, generation, scope (empty), prefix
    segments = [bytes(sealed[header + i * size : header + (i + 1) * size]) for i in range(4)]
    context, opener = b"ctx", cipher
    if damage == "flip a byte":
        sealed[header + size + 5] ^= 1
    elif damage == "drop the last segment":
        sealed = bytearray(sealed[: header + 3 * size])
    elif damage == "swap two segments":
        sealed = bytearray(sealed[:header] + segments[1] + segments[0] + b"".join(segments[2:]))
    elif damage == "cut the tail":
        sealed = bytearray(sealed[:-1])
    elif damage == "other context":
        context = b"another document"
    else:
        opener = _cipher("mentor-2")
    with pytest.raises(crypto.CiphertextInvalid):
        asyncio.run(_open(opener, bytes(sealed), context))
