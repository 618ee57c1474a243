"""Helpers shared by the complaint, refund and dispute services."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar.exceptions import NotFoundException
from piccolo.columns import Column
from piccolo.custom_types import Combinable
from piccolo.query.methods.select import Select

from governance.core.crypto import Keyring, PersonalDataError
from governance.core.errors import Problem
from governance.core.pagination import by_time


def dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def loads(text: str | None, default: Any) -> Any:
    return default if not text else msgspec.json.decode(text)


async def reveal(keyring: Keyring, subject: str, ciphertext: str | None) -> str | None:
    """Plaintext of a personal field, or None once the subject's data was erased."""
    if ciphertext is None:
        return None
    try:
        return await keyring.decrypt(subject, ciphertext)
    except PersonalDataError:
        return None


def not_found(kind: str, record_id: uuid.UUID) -> NotFoundException:
    return NotFoundException(f"No {kind} with id {record_id}")


def invalid_body(field: str, message: str) -> Problem:
    """A 400 naming the one body field at fault."""
    return Problem(
        400,
        "validation",
        f"Invalid body field {field!r}",
        errors=[{"field": field, "source": "body", "message": message}],
    )


def illegal_transition(kind: str, state: str, target: str, allowed: list[str]) -> Problem:
    return Problem(
        409,
        "illegal-transition",
        f"A {kind} in state {state!r} cannot move to {target!r}; allowed next states: {', '.join(allowed) or 'none'}",
        state=state,
        allowed_next=allowed,
    )


def not_permitted(kind: str, state: str, target: str, why: str) -> Problem:
    return Problem(403, "transition-not-permitted", f"You may not move this {kind} from {state!r} to {target!r}: {why}")


def equal_to(*pairs: tuple[Column, Any]) -> list[Combinable]:
    """``column == value`` for every pair whose value was given (filters left out are None)."""
    return [column == value for column, value in pairs if value is not None]


async def newest_first(
    query: Select[Any], at: Column, id_: Column, where: list[Combinable], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``query`` (filtered by ``where``), newest (``at``, ``id_``) first, and the
    cursor of the next: keyset pagination, so a page costs the same however deep it is."""
    for condition in where:
        query = query.where(condition)
    return await by_time(query, at, id_, limit=limit, cursor=cursor, newest_first=True)
