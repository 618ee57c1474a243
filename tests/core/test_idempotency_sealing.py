"""Stored responses that hold personal data: sealed under the subject's key, and what a
replay answers once that key is shredded or the plaintext was dropped by the migration."""

from __future__ import annotations

import importlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from governance.core import idempotency
from governance.core.crypto import Keyring, LocalMasterKey
from governance.core.tables import IdempotencyKey
from governance.settings import Settings

SECRET = "the subject's own words"
LEGACY = importlib.import_module("governance.core.piccolo_migrations.core_2026_11_30t21_00_01_000000")


def _personal(keyring: Keyring, reread: list[str]) -> idempotency.Personal:
    async def again(record_id: str) -> dict[str, Any]:
        reread.append(record_id)
        return {"id": record_id, "subject": "as it reads now", "text": None}

    return idempotency.Personal(
        keyring=keyring, subject=lambda body: body["subject"], record=lambda body: body["id"], reread=again
    )


async def test_a_sealed_response_replays_until_the_key_is_shredded_then_the_record_as_it_reads(
    database: Settings,
) -> None:
    keyring = Keyring(LocalMasterKey(secrets.token_bytes(32)))
    subject, key = f"s-{uuid.uuid4().hex}", uuid.uuid4().hex
    reread: list[str] = []
    body = {"id": "rec-1", "subject": subject, "text": SECRET}

    async def work() -> tuple[int, dict[str, Any]]:
        return 201, body

    async def not_again() -> tuple[int, dict[str, Any]]:
        raise AssertionError("a replay does not do the work again")

    args = {
        "scope": "test.sealed",
        "actor": "a-1",
        "key": key,
        "fingerprint": "f",
        "personal": _personal(keyring, reread),
    }
    first = await idempotency.once(**args, work=work)
    assert msgspec.json.decode(first.body) == body
    [row] = await IdempotencyKey.select().where(IdempotencyKey.idempotency_key == key)
    assert SECRET not in row["response_body"]
    assert (row["subject"], row["record_id"]) == (subject, "rec-1")
    replay = await idempotency.once(**args, work=not_again)
    assert (msgspec.json.decode(replay.body), replay.replayed, reread) == (body, True, [])

    assert await keyring.shred(subject)
    erased = await idempotency.once(**args, work=not_again)
    assert (erased.status, erased.replayed, reread) == (201, True, ["rec-1"])
    assert msgspec.json.decode(erased.body) == {"id": "rec-1", "subject": "as it reads now", "text": None}


async def test_the_migration_drops_the_plaintext_of_personal_responses_stored_in_clear(database: Settings) -> None:
    keyring = Keyring(LocalMasterKey(secrets.token_bytes(32)))
    mentee, refund_key, bundle_key = f"m-{uuid.uuid4().hex}", uuid.uuid4().hex, uuid.uuid4().hex
    refund = {"id": "refund-1", "mentee_id": mentee, "reason": SECRET}
    bundle = {"id": "bundle-1", "title": "H1"}
    for scope, key, body in (("refunds.create", refund_key, refund), ("evidence.bundles.request", bundle_key, bundle)):
        # As responses were stored before bodies were sealed.
        await IdempotencyKey.insert(
            IdempotencyKey(
                key_hash=idempotency._key_hash(scope, "a-1", key),
                scope=scope,
                actor="a-1",
                idempotency_key=key,
                fingerprint="f",
                status_code=201,
                response_body=msgspec.json.encode(body).decode(),
                created_at=datetime.now(UTC),
            )
        )
    await LEGACY.drop_plaintext()

    [row] = await IdempotencyKey.select().where(IdempotencyKey.idempotency_key == refund_key)
    assert (row["response_body"], row["subject"], row["record_id"]) == (None, mentee, "refund-1")
    [kept] = await IdempotencyKey.select().where(IdempotencyKey.idempotency_key == bundle_key)
    assert msgspec.json.decode(kept["response_body"]) == bundle, "responses without personal data stay as they were"

    async def not_again() -> tuple[int, dict[str, Any]]:
        raise AssertionError("a replay does not do the work again")

    reread: list[str] = []
    replay = await idempotency.once(
        scope="refunds.create",
        actor="a-1",
        key=refund_key,
        fingerprint="f",
        work=not_again,
        personal=_personal(keyring, reread),
    )
    assert (replay.status, replay.replayed, reread) == (201, True, ["refund-1"])
    assert SECRET not in replay.body.decode()
