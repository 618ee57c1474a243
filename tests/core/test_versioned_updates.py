"""The one way a versioned record changes: ``update_versioned`` (If-Match guarded) and ``bump_version``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from piccolo.columns import UUID, BigInt, Varchar
from piccolo.table import Table

from governance.core import db
from governance.core.errors import Problem
from governance.core.versioning import bump_version, etag, update_versioned
from governance.settings import Settings


class Ledger(Table, tablename="test_versioned_ledger"):
    """A stand-in versioned record, so the kernel is tested without any domain."""

    id = UUID(primary_key=True)
    state = Varchar(length=20)
    version = BigInt(default=1)


@pytest.fixture
async def ledger(database: Settings) -> AsyncIterator[uuid.UUID]:
    await Ledger.create_table(if_not_exists=True)
    record_id = uuid.uuid4()
    await Ledger.insert(Ledger(id=record_id, state="open", version=1))
    yield record_id
    await Ledger.alter().drop_table(if_exists=True)


async def _row(record_id: uuid.UUID) -> dict[str, object]:
    row = await Ledger.select(Ledger.state, Ledger.version).where(Ledger.id == record_id).first()
    assert row is not None
    return dict(row)


async def test_a_change_at_the_version_read_is_written_and_moves_the_version(ledger: uuid.UUID) -> None:
    async with db.transaction():
        await update_versioned(Ledger, ledger, 1, {Ledger.state: "closed"})
    assert await _row(ledger) == {"state": "closed", "version": 2}
    async with db.transaction():
        await update_versioned(Ledger, ledger, 2, {"state": "reopened"})  # column names work too
    assert await _row(ledger) == {"state": "reopened", "version": 3}


async def test_a_change_at_a_stale_version_answers_412_and_writes_nothing(ledger: uuid.UUID) -> None:
    async with db.transaction():
        await update_versioned(Ledger, ledger, 1, {Ledger.state: "closed"})
    with pytest.raises(Problem) as stale:
        async with db.transaction():
            await update_versioned(Ledger, ledger, 1, {Ledger.state: "overwritten"})
    assert stale.value.status_code == 412
    assert stale.value.extra["current_etag"] == etag(2)
    assert await _row(ledger) == {"state": "closed", "version": 2}


async def test_a_derived_change_bumps_the_version_whatever_it_was(ledger: uuid.UUID) -> None:
    async with db.transaction():
        await bump_version(Ledger, ledger)
        await bump_version(Ledger, ledger)
    assert await _row(ledger) == {"state": "open", "version": 3}
