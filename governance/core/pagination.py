"""Cursor pagination: ``?limit=&cursor=`` -> ``{"items": [...], "next_cursor": ...}``.

Cursors are opaque to clients (base64url of a small JSON object) so the key they encode
can change without breaking anyone.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter
from piccolo.columns import Column
from piccolo.custom_types import Combinable
from piccolo.query.methods.select import Select

from governance.core.errors import invalid_parameter
from governance.core.limits import MAX_CURSOR

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
# The same two as query parameters of a list route (Litestar reads its own constraints there).
LimitParam = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
CursorParam = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=MAX_CURSOR,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page.",
    ),
]


class Page(msgspec.Struct, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next (null at the end)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The position a cursor encodes; a tampered or foreign cursor answers 400 naming ``cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = msgspec.json.decode(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        value = None
    if not isinstance(value, dict):
        raise invalid_parameter("cursor", "not a cursor this service issued")
    return value


async def by_time(
    query: Any, at: Any, ident: Any, *, limit: int, cursor: str | None, newest_first: bool = False
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a Piccolo select in ``(at, ident)`` order (a timestamp and a UUID column,
    ties broken by the id), and the cursor of the next page (None at the end)."""
    query = query.order_by(at, ascending=not newest_first).order_by(ident, ascending=not newest_first)
    if cursor is not None:
        position = decode_cursor(cursor)
        try:
            after_time, after_id = datetime.fromisoformat(position["t"]), uuid.UUID(position["id"])
        except (KeyError, TypeError, ValueError):
            raise invalid_parameter("cursor", "not a cursor this service issued") from None
        if newest_first:
            query = query.where((at < after_time) | ((at == after_time) & (ident < after_id)))
        else:
            query = query.where((at > after_time) | ((at == after_time) & (ident > after_id)))
    rows = await query.limit(limit + 1)
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, encode_cursor({"t": last[at._meta.name].isoformat(), "id": str(last[ident._meta.name])})


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
