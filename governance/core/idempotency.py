"""``Idempotency-Key`` for POSTs that move money or issue irreversible decisions.

A client sends ``Idempotency-Key: <its own unique key>`` with a POST. The first request
with a key does the work and stores the response; a later request with the same key and
the same body gets that first response back (``Idempotent-Replayed: true``); the same key
with a different body answers **422**.

How it stays exactly-once under concurrency, on both engines: the key is *claimed* by an
``INSERT ... ON CONFLICT DO NOTHING`` into ``idempotency_key`` in the same transaction as
the work, and the response is stored in that transaction too. On PostgreSQL a second
request with the same key blocks on the unique index until the first commits (then sees
the conflict and reads the stored response) or rolls back (then claims the key itself).
On SQLite the transactions are IMMEDIATE, so the second request starts only after the
first has committed. Only successful work is stored: when the work raises (a 4xx
problem), the claim rolls back with it and the key can be used again.

Keys are scoped per operation (``scope``, e.g. ``"refunds.create"``) and per caller
(the token's ``sub``): two callers can never see each other's responses.

A stored response outlives everything but the row, so it must not keep a data subject's
personal data in clear past their erasure. A route whose response holds personal data
passes :class:`Personal`: the body is stored sealed under the subject's own key (the
subject and the record's id beside it, in clear: identifiers, as in the audit log), so
crypto-shredding reaches it like every other copy. A replay decrypts it; once the key is
shredded, it answers the record as it reads now (personal fields null), never the old
plaintext. Either way the work is not done again, and the fingerprint (a SHA-256 of the
request body, not the body) still refuses another body with 422.

Usage in a route::

    key = idempotency.key_from(request.headers.get(idempotency.HEADER))
    result = await idempotency.once(
        scope="refunds.create", actor=identity.sub, key=key,
        fingerprint=idempotency.fingerprint(data),
        work=lambda: service.create_refund(...),   # returns (status, msgspec Struct)
        personal=idempotency.Personal(keyring, subject=..., record=..., reread=...),  # if it holds personal data
    )
    return idempotency.to_response(result)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Response

from governance.core import db
from governance.core.crypto import Keyring, SubjectErased
from governance.core.errors import Problem
from governance.core.subjects import ExportRecord, Instant
from governance.core.tables import IdempotencyKey

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
MAX_KEY_LENGTH: Final = 200
_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class Outcome:
    """The response to send: the stored one on a replay."""

    status: int
    body: bytes
    replayed: bool


@dataclass(frozen=True, slots=True)
class Personal:
    """How to keep a response that holds a data subject's personal data (see the module docstring).

    ``subject(body)``: whose key seals the stored body; ``record(body)``: the id of the
    record the response shows; ``reread(record id)``: that record as it reads now, the
    answer to a replay once the subject was erased.
    """

    keyring: Keyring
    subject: Callable[[Any], str]
    record: Callable[[Any], str]
    reread: Callable[[str], Awaitable[Any]]


def key_from(header: str | None) -> str:
    """The client's key, validated (400 naming the header when missing or malformed)."""
    if header is None:
        raise _bad_key("this request needs an Idempotency-Key header (a unique key of your choice)")
    if not _KEY.fullmatch(header):
        raise _bad_key(f"1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces")
    return header


def fingerprint(payload: Any) -> str:
    """SHA-256 of the request body in canonical JSON (keys sorted), so key order does not matter."""
    return hashlib.sha256(msgspec.json.encode(msgspec.to_builtins(payload), order="sorted")).hexdigest()


def _key_hash(scope: str, actor: str, key: str) -> str:
    return hashlib.sha256("\x00".join((scope, actor, key)).encode()).hexdigest()


async def once(
    *,
    scope: str,
    actor: str,
    key: str,
    fingerprint: str,
    work: Callable[[], Awaitable[tuple[int, Any]]],
    personal: Personal | None = None,
) -> Outcome:
    """Run ``work`` once per (scope, actor, key); replays return the first response.

    ``work`` runs inside the claiming transaction (its own ``db.transaction()`` joins it)
    and returns ``(status, body)``; the body is encoded with msgspec and stored, sealed
    under the subject's key when ``personal`` says whose data it holds.
    """
    key_hash = _key_hash(scope, actor, key)
    async with db.transaction():
        claimed = await IdempotencyKey.raw(
            "INSERT INTO idempotency_key (key_hash, scope, actor, idempotency_key, fingerprint, "
            "status_code, response_body, created_at) VALUES ({}, {}, {}, {}, {}, NULL, NULL, {}) "
            "ON CONFLICT (key_hash) DO NOTHING RETURNING key_hash",
            key_hash,
            scope,
            actor,
            key,
            fingerprint,
            datetime.now(UTC),
        )
        if claimed:
            status, body = await work()
            encoded = msgspec.json.encode(body)
            kept: dict[Any, Any] = {IdempotencyKey.status_code: status, IdempotencyKey.response_body: encoded.decode()}
            if personal is not None:
                subject = personal.subject(body)
                cipher = await personal.keyring.cipher(subject, create=True)
                kept.update(
                    {
                        IdempotencyKey.response_body: cipher.encrypt(encoded.decode()),
                        IdempotencyKey.subject: subject,
                        IdempotencyKey.record_id: personal.record(body),
                    }
                )
            await IdempotencyKey.update(kept).where(IdempotencyKey.key_hash == key_hash)
            return Outcome(status=status, body=encoded, replayed=False)
        stored = (
            await IdempotencyKey.select(
                IdempotencyKey.fingerprint,
                IdempotencyKey.status_code,
                IdempotencyKey.response_body,
                IdempotencyKey.subject,
                IdempotencyKey.record_id,
            )
            .where(IdempotencyKey.key_hash == key_hash)
            .first()
        )
    if stored is None or stored["status_code"] is None:  # pragma: no cover - claims commit with their response
        raise Problem(409, "idempotency-in-progress", "A request with this Idempotency-Key is still being processed")
    if stored["fingerprint"] != fingerprint:
        raise Problem(
            422,
            "idempotency-key-reused",
            "This Idempotency-Key was already used with a different request body; use a new key for a new request",
            header=HEADER,
        )
    return Outcome(status=int(stored["status_code"]), body=await _replayed_body(scope, stored, personal), replayed=True)


async def _replayed_body(scope: str, stored: dict[str, Any], personal: Personal | None) -> bytes:
    if stored["subject"] is None:
        return str(stored["response_body"]).encode()
    if personal is None:
        raise RuntimeError(f"responses of {scope!r} hold personal data: pass personal= to replay them")
    sealed = stored["response_body"]
    if sealed is not None:  # None: a response stored in clear before bodies were sealed, since dropped
        try:
            return (await personal.keyring.decrypt(stored["subject"], sealed)).encode()
        except SubjectErased:
            pass
    # The subject was erased: answer as the record reads now, never with what it said then.
    return msgspec.json.encode(await personal.reread(str(stored["record_id"])))


async def accept(
    *,
    header: str | None,
    scope: str,
    actor: str,
    payload: Any,
    work: Callable[[], Awaitable[tuple[int, Any]]],
    personal: Personal | None = None,
) -> Outcome:
    """For POSTs where the key is optional: :func:`once` when the client sent one, else just the work."""
    if header is None:
        status, body = await work()
        return Outcome(status=status, body=msgspec.json.encode(body), replayed=False)
    return await once(
        scope=scope, actor=actor, key=key_from(header), fingerprint=fingerprint(payload), work=work, personal=personal
    )


def to_response(outcome: Outcome, headers: dict[str, str] | None = None) -> Response[bytes]:
    """The Litestar response for an outcome, marking replays."""
    all_headers = dict(headers or {})
    if outcome.replayed:
        all_headers[REPLAYED_HEADER] = "true"
    return Response(
        content=outcome.body, status_code=outcome.status, media_type="application/json", headers=all_headers
    )


def _bad_key(message: str) -> Problem:
    return Problem(
        400,
        "validation",
        f"Invalid header parameter {HEADER!r}",
        errors=[{"field": HEADER, "source": "header", "message": message}],
    )


class StoredResponse(ExportRecord):
    """A response kept for ``Idempotency-Key`` replays that holds the subject's data (a copy of a record)."""

    scope: str
    actor: str
    record_id: str | None
    status_code: int | None
    created_at: Instant
    response: Annotated[Any, msgspec.Meta(description="The response as first sent (null once unreadable).")]


async def stored_for(keyring: Keyring, subject: str) -> list[StoredResponse]:
    """The stored responses sealed under ``subject``'s key, decrypted while it is readable (access exports)."""
    rows = (
        await IdempotencyKey.select(
            IdempotencyKey.scope,
            IdempotencyKey.actor,
            IdempotencyKey.record_id,
            IdempotencyKey.status_code,
            IdempotencyKey.created_at,
            IdempotencyKey.response_body,
        )
        .where(IdempotencyKey.subject == subject)
        .order_by(IdempotencyKey.created_at)
    )
    cipher = (await keyring.readable([subject]))[subject]
    return [
        StoredResponse(
            scope=r["scope"],
            actor=r["actor"],
            record_id=r["record_id"],
            status_code=r["status_code"],
            created_at=r["created_at"],
            response=(
                msgspec.json.decode(cipher.decrypt(r["response_body"])) if cipher and r["response_body"] else None
            ),
        )
        for r in rows
    ]
