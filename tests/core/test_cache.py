"""Fresh caches: never older than the record, across instances."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from governance.core import cache, db
from governance.core.cache import FreshCache, Loaded
from governance.settings import Settings

from ..conftest import BACKEND, PG_URL

NOW = datetime(2026, 11, 23, tzinfo=UTC)


class Record:
    """A record in 'the database': its value and version, and how often it was read."""

    def __init__(self) -> None:
        self.version = 1
        self.loads = 0
        self.lookups = 0

    async def version_of(self, key: str) -> int | None:
        self.lookups += 1
        return self.version

    def loader(self, stale_at: datetime | None = None) -> Callable[[], Awaitable[Loaded[str]]]:
        async def load() -> Loaded[str]:
            self.loads += 1
            return Loaded(f"v{self.version}", self.version, stale_at)

        return load


async def test_a_value_is_served_while_its_version_holds() -> None:
    record = Record()
    fresh: FreshCache[str] = FreshCache("test-a", record.version_of)
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v1"
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v1"
    assert record.loads == 1
    record.version = 2  # another process changed it: only the version says so
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v2"
    assert record.loads == 2


async def test_time_alone_can_make_a_value_stale() -> None:
    record = Record()
    fresh: FreshCache[str] = FreshCache("test-b", record.version_of)
    await fresh.get_or_load("k", NOW, record.loader(stale_at=NOW + timedelta(days=1)))
    await fresh.get_or_load("k", NOW + timedelta(days=2), record.loader())
    assert record.loads == 2


async def test_an_announced_key_is_read_through_until_it_settles(database: Settings) -> None:
    record = Record()
    fresh: FreshCache[str] = FreshCache("test-c", record.version_of)
    await fresh.get_or_load("k", NOW, record.loader())
    async with db.transaction():
        await cache.announce("test-c", "k")
    await fresh.get_or_load("k", NOW, record.loader())
    await fresh.get_or_load("k", NOW, record.loader())
    assert record.loads == 3, "unsettled: loaded each time, never cached"
    fresh.settle("k")
    await fresh.get_or_load("k", NOW, record.loader())
    await fresh.get_or_load("k", NOW, record.loader())
    assert record.loads == 4


async def test_a_value_loaded_across_a_change_is_not_kept() -> None:
    record = Record()
    fresh: FreshCache[str] = FreshCache("test-d", record.version_of)

    async def slow_load() -> Loaded[str]:
        value = Loaded(f"v{record.version}", record.version)
        fresh.forget("k")  # a change arrived while this value was being derived
        return value

    await fresh.get_or_load("k", NOW, slow_load)
    assert len(fresh) == 0


def test_the_cache_is_bounded() -> None:
    fresh: FreshCache[str] = FreshCache("test-e", Record().version_of, capacity=2)

    async def fill() -> None:
        for key in "abc":
            await fresh.get_or_load(key, NOW, Record().loader())

    asyncio.run(fill())
    assert len(fresh) == 2


@pytest.mark.skipif(BACKEND != "postgres", reason="notices are a PostgreSQL feature")
async def test_notices_from_another_instance_invalidate_without_lookups(database: Settings) -> None:
    record = Record()
    fresh: FreshCache[str] = FreshCache("test-pg", record.version_of)
    await cache.start_listening(PG_URL)
    try:
        for _ in range(100):
            if cache.listening():
                break
            await asyncio.sleep(0.05)
        assert cache.listening()
        await fresh.get_or_load("k", NOW, record.loader())
        await fresh.get_or_load("k", NOW, record.loader())
        assert (record.loads, record.lookups) == (1, 0), "while notices arrive, no lookup is needed"

        other = await asyncpg.connect(PG_URL)  # another instance commits a change
        try:
            record.version = 2
            async with other.transaction():
                await other.execute("SELECT pg_notify($1, $2)", cache.CHANNEL, "test-pg:k")
        finally:
            await other.close()
        for _ in range(100):
            if len(fresh) == 0:
                break
            await asyncio.sleep(0.02)
        assert await fresh.get_or_load("k", NOW, record.loader()) == "v2"
    finally:
        await cache.stop_listening()
    assert not cache.listening()
    assert len(fresh) == 0, "without notices nothing cached may be trusted"
