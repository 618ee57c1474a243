"""Optimistic concurrency for versioned records: ``ETag`` on reads, ``If-Match`` on writes.

A versioned record carries an integer ``version`` that every change increments. Reads
answer ``ETag: "<version>"``; a write must send it back in ``If-Match``:

- no ``If-Match`` at all answers **428 Precondition Required** (the client must read first);
- an ``If-Match`` that names another version answers **412 Precondition Failed**, with
  the current ETag, and changes nothing.

Use it in two steps so that the check happens against the row as it is *inside* the
write transaction, not as it was when the request arrived::

    expected = versioning.expected_version(request.headers.get("if-match"))   # route: 428 / 400
    async with db.transaction():
        row = await versioning.lock_for_update(Thing.select().where(Thing.id == thing_id)).first()
        versioning.check_version(row["version"], expected)                    # service: 412
        ...
        await versioning.update_versioned(Thing, thing_id, row["version"], {...})

``lock_for_update`` takes the row lock on PostgreSQL (``SELECT ... FOR UPDATE``); SQLite
needs none, as :func:`governance.core.db.transaction` holds its single write lock from
``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, TypeVar

from litestar.params import HeaderParameter
from piccolo.query.methods.select import Select
from piccolo.table import Table

from governance.core import db
from governance.core.errors import Problem

IF_MATCH: Final = "If-Match"
_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,18})"\s*$')

S = TypeVar("S", bound=Select[Any])

# The handler parameter of a versioned write; optional here so that its absence answers 428
# (expected_version) instead of Litestar's 400.
IfMatchParam = Annotated[
    str | None, HeaderParameter(name=IF_MATCH, max_length=64, description='ETag as last read, e.g. "3" (required).')
]


def etag(version: int) -> str:
    """The strong ETag of a record at ``version``: ``"7"`` (quotes included)."""
    return f'"{version}"'


def etag_header(version: int) -> dict[str, str]:
    """Response headers carrying the record's ETag."""
    return {"ETag": etag(version)}


def expected_version(if_match: str | None) -> int:
    """The version a client's ``If-Match`` names; 428 when absent, 400 when not one of our ETags.

    Only a single ETag is accepted (``"7"``, or weak ``W/"7"``): a list or ``*`` would let a
    client write over a version it never read.
    """
    if if_match is None or not if_match.strip():
        raise Problem(
            428,
            "precondition-required",
            "This change needs an If-Match header with the ETag of the record as you last read it",
            header=IF_MATCH,
        )
    match = _TAG.match(if_match)
    if match is None:
        raise Problem(
            400,
            "validation",
            f"Invalid header parameter {IF_MATCH!r}",
            errors=[{"field": IF_MATCH, "source": "header", "message": 'one ETag as served, e.g. "3"'}],
        )
    return int(match.group(1))


def check_version(current: int, expected: int) -> None:
    """412 when the record is no longer at the version the client read."""
    if current != expected:
        raise Problem(
            412,
            "precondition-failed",
            f"The record changed since you read it (you sent {etag(expected)}, it is now {etag(current)}); "
            "read it again and retry",
            current_etag=etag(current),
        )


def lock_for_update(select: S) -> S:
    """``SELECT ... FOR UPDATE`` on PostgreSQL; unchanged on SQLite (the transaction holds the write lock)."""
    if db.is_sqlite():
        return select
    locked: Any = select.lock_rows()
    return locked  # type: ignore[no-any-return]


async def update_versioned(table: type[Table], record_id: Any, version: int, changes: dict[Any, Any]) -> None:
    """Write ``changes`` and move the record to ``version`` + 1, only if it is still at
    ``version``; 412 (:func:`check_version`) when it is not, and nothing is written.

    Every change of a versioned record goes through here, so that no write can skip the
    version (and leave a stale ``ETag`` answering as current). ``changes`` may name columns
    or column names; ``table`` needs an integer ``version`` column.
    """
    id_column: Any = table._meta.primary_key
    version_column: Any = table._meta.get_column_by_name("version")
    changed = (
        await table.update({**changes, version_column: version + 1})
        .where((id_column == record_id) & (version_column == version))
        .returning(id_column)
    )
    if not changed:
        row = await table.select(version_column).where(id_column == record_id).first()
        check_version(int(row["version"]) if row else -1, version)


async def bump_version(table: type[Table], record_id: Any) -> None:
    """Move the record to its next version whatever it was: for a change no client's
    ``If-Match`` guards (one derived from other records), which must still change the ETag."""
    id_column: Any = table._meta.primary_key
    version_column: Any = table._meta.get_column_by_name("version")
    await table.update({version_column: version_column + 1}).where(id_column == record_id)
