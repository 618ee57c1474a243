"""The canonical byte encoding of an audit entry: the RFC 9162 leaf input.

Version 1 (documented in README "Verifying the audit log"): UTF-8 JSON with no
insignificant whitespace and object keys in ascending code-point order, namely

    {"action":..., "actor":{"roles":[...],"sub":...}, "details":{...}, "outcome":...,
     "request_id":...|null, "resource":{"id":...|null,"type":...}, "seq":N,
     "time":"YYYY-MM-DDTHH:MM:SS[.ffffff]Z", "v":1}

``details`` and ``roles`` are stored as canonical JSON text and embedded verbatim, so a
verifier re-derives the exact bytes from the stored columns without re-serialising.
The leaf hash is SHA-256(0x00 || leaf input).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

FORMAT_VERSION = 1


class LeafActor(msgspec.Struct, frozen=True):
    # Field order is the encoding order: keep it alphabetical.
    roles: msgspec.Raw
    sub: str


class LeafResource(msgspec.Struct, frozen=True):
    id: str | None
    type: str


class Leaf(msgspec.Struct, frozen=True):
    action: str
    actor: LeafActor
    details: msgspec.Raw
    outcome: str
    request_id: str | None
    resource: LeafResource
    seq: int
    time: datetime
    v: int = FORMAT_VERSION


_encoder = msgspec.json.Encoder()
_sorted_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder()


class DetailsError(ValueError):
    """Audit details that cannot be encoded canonically."""


def canonical_json(value: Mapping[str, Any] | Sequence[Any]) -> str:
    """Sorted keys, no whitespace. Used once, when an entry is recorded."""
    try:
        return _sorted_encoder.encode(value).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise DetailsError(f"audit details must be plain JSON values: {exc}") from None


@functools.lru_cache(maxsize=4096)  # a deployment has few distinct role lists
def roles_are_canonical(text: str) -> bool:
    """Whether ``text`` is exactly the canonical JSON of a list of strings."""
    value = _decode_or_none(text)
    return (
        isinstance(value, list)
        and all(isinstance(item, str) for item in value)
        and _sorted_encoder.encode(value) == text.encode()
    )


def details_are_canonical(text: str) -> bool:
    """Whether ``text`` is exactly the canonical JSON of an object."""
    value = _decode_or_none(text)
    return isinstance(value, dict) and _sorted_encoder.encode(value) == text.encode()


def _decode_or_none(text: str) -> Any:
    try:
        return _decoder.decode(text)
    except msgspec.DecodeError:
        return None


def normalise_time(instant: datetime) -> datetime:
    """UTC, microsecond precision: the precision both databases store exactly."""
    if instant.tzinfo is UTC:
        return instant
    if instant.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return instant.astimezone(UTC)


def leaf_input(
    *,
    seq: int,
    time: datetime,
    actor_sub: str,
    actor_roles: str,
    action: str,
    resource_type: str,
    resource_id: str | None,
    request_id: str | None,
    outcome: str,
    details: str,
) -> bytes:
    """The exact bytes hashed into the Merkle tree for one entry (see module docstring)."""
    return _encoder.encode(
        Leaf(
            action=action,
            actor=LeafActor(roles=msgspec.Raw(actor_roles.encode()), sub=actor_sub),
            details=msgspec.Raw(details.encode()),
            outcome=outcome,
            request_id=request_id,
            resource=LeafResource(id=resource_id, type=resource_type),
            seq=seq,
            time=normalise_time(time),
        )
    )


# The leaf hash's input, SHA-256(0x00 || leaf input), with the encoding of :class:`Leaf`
# spelt out: msgspec writes a struct's fields in declaration order, each value as it writes
# the value alone. Filled by :func:`entry_leaf_input` and, inline, by verification's loop.
LEAF_HASH_INPUT: Final = (
    b'\x00{"action":%s,"actor":{"roles":%s,"sub":%s},"details":%s,"outcome":%s,"request_id":%s,'
    b'"resource":{"id":%s,"type":%s},"seq":%s,"time":%s,"v":%s}'
)
VERSION_JSON: Final = _encoder.encode(FORMAT_VERSION)
encode_json = _encoder.encode
decode_json = _decoder.decode
encode_sorted_json = _sorted_encoder.encode


def entry_leaf_input(
    seq: int,
    time: datetime,
    actor_sub: str,
    actor_roles: str,
    action: str,
    resource_type: str,
    resource_id: str | None,
    request_id: str | None,
    outcome: str,
    details: str,
) -> bytes:
    """:func:`leaf_input`, byte for byte, from the stored columns in their stored order.

    It encodes each value as :func:`leaf_input` does but builds no structs, about twice as
    fast (tests/audit/test_leaf.py checks that both agree on any values)."""
    if time.tzinfo is not UTC:
        time = normalise_time(time)
    encode = _encoder.encode
    return (
        LEAF_HASH_INPUT
        % (
            encode(action),
            actor_roles.encode(),
            encode(actor_sub),
            details.encode(),
            encode(outcome),
            encode(request_id),
            encode(resource_id),
            encode(resource_type),
            encode(seq),
            encode(time),
            VERSION_JSON,
        )
    )[1:]


def stored_leaf_input(row: Mapping[str, Any]) -> bytes:
    """The leaf input re-derived from a stored ``audit_entry`` row (a mapping of its columns)."""
    return leaf_input(
        seq=row["seq"],
        time=row["recorded_at"],
        actor_sub=row["actor_sub"],
        actor_roles=row["actor_roles"],
        action=row["action"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        request_id=row["request_id"],
        outcome=row["outcome"],
        details=row["details"],
    )
