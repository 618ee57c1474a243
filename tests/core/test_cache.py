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
    """A record in 'the database': its value and version, and how often it was read.

    ``commits`` stands for SQLite's data_version: it moves with every commit anywhere.
    """

    def __init__(self) -> None:
        self.version = 1
        self.loads = 0
        self.lookups = 0
        self.commits = 0

    def change(self) -> None:
        self.version += 1
        self.commits += 1

    def unrelated_commit(self) -> None:
        self.commits += 1

    def cache(self, topic: str, **options: int) -> FreshCache[str]:
        fresh: FreshCache[str] = FreshCache(topic, self.version_of, commits=lambda: self.commits, **options)
        return fresh

    async def version_of(self, key: str) -> int | None:
        self.lookups += 1
        return self.version

    def loader(self, stale_at: datetime | None = None) -> Callable[[], Awaitable[Loaded[str]]]:
        async def load() -> Loaded[str]:
            self.loads += 1
            return Loaded(f"v{self.version}", self.version, stale_at)

        return load


async def test_a_value_is_served_while_nothing_or_only_other_records_changed() -> None:
    record = Record()
    fresh = record.cache("test-a")
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v1"
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v1"
    assert (record.loads, record.lookups) == (1, 0), "nothing committed: no lookup"
    record.unrelated_commit()
    await asyncio.sleep(cache.COMMIT_CHECK_SECONDS * 2)  # the commit signal is reused that long
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v1"
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v1"
    assert (record.loads, record.lookups) == (1, 1), "one lookup confirms it after a commit elsewhere"
    record.change()  # another process changed it: only the version says so
    await asyncio.sleep(cache.COMMIT_CHECK_SECONDS * 2)
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v2"
    assert record.loads == 2


async def test_without_a_commit_signal_every_read_checks_the_version() -> None:
    record = Record()
    fresh: FreshCache[str] = FreshCache("test-a2", record.version_of, commits=lambda: None)
    await fresh.get_or_load("k", NOW, record.loader())
    await fresh.get_or_load("k", NOW, record.loader())
    assert (record.loads, record.lookups) == (1, 1)
    record.version += 1
    assert await fresh.get_or_load("k", NOW, record.loader()) == "v2"


async def test_time_alone_can_make_a_value_stale() -> None:
    record = Record()
    fresh = record.cache("test-b")
    await fresh.get_or_load("k", NOW, record.loader(stale_at=NOW + timedelta(days=1)))
    await fresh.get_or_load("k", NOW + timedelta(days=2), record.loader())
    assert record.loads == 2


async def test_an_announced_key_is_read_through_until_it_settles(database: Settings) -> None:
    record = Record()
    fresh = record.cache("test-c")
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
    fresh = record.cache("test-d")

    async def slow_load() -> Loaded[str]:
        value = Loaded(f"v{record.version}", record.version)
        fresh.forget("k")  # a change arrived while this value was being derived
        return value

    await fresh.get_or_load("k", NOW, slow_load)
    assert len(fresh) == 0


def test_the_cache_is_bounded() -> None:
    fresh = Record().cache("test-e", capacity=2)

    async def fill() -> None:
        for key in "abc":
            await fresh.get_or_load(key, NOW, Record().loader())

    asyncio.run(fill())
    assert len(fresh) == 2


@pytest.mark.skipif(BACKEND != "postgres", reason="notices are a PostgreSQL feature")
async def test_notices_from_another_instance_invalidate_without_lookups(database: Settings) -> None:
    record = Record()
    fresh = record.cache("test-pg")
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
            record.change()
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


@pytest.mark.skipif(BACKEND != "postgres", reason="notices are a PostgreSQL feature")
async def test_a_write_to_a_counted_table_clears_the_topic_at_commit(database: Settings) -> None:
    """The summaries' topics: the tables' triggers notify ``topic:*`` when the writing
    transaction commits (never when it rolls back), and every key of the topic is dropped."""
    computed: list[str] = []

    async def compute() -> tuple[str, datetime | None]:
        computed.append("x")
        return f"v{len(computed)}", None

    kept: cache.TopicCache[str] = cache.TopicCache("complaints-summary")
    await cache.start_listening(PG_URL)
    try:
        for _ in range(100):
            if cache.listening():
                break
            await asyncio.sleep(0.05)
        assert cache.listening()
        assert await kept.get_or_compute("2026-01-01/2026-01-31", NOW, compute) == "v1"
        assert await kept.get_or_compute("2026-01-01/2026-01-31", NOW, compute) == "v1"
        other = await asyncpg.connect(PG_URL)  # another instance writes a refund, then thinks better of it
        try:
            transaction = other.transaction()
            await transaction.start()
            await other.execute("UPDATE refund SET state = state WHERE false")
            await transaction.rollback()
            await asyncio.sleep(0.2)
            assert await kept.get_or_compute("2026-01-01/2026-01-31", NOW, compute) == "v1", "a rollback says nothing"
            async with other.transaction():
                await other.execute("UPDATE refund SET state = state WHERE false")
        finally:
            await other.close()
        for _ in range(100):
            if await kept.get_or_compute("2026-01-01/2026-01-31", NOW, compute) != "v1":
                break
            await asyncio.sleep(0.02)
        assert await kept.get_or_compute("2026-01-01/2026-01-31", NOW, compute) == "v2"
    finally:
        await cache.stop_listening()


async def test_a_topic_counts_changes_on_sqlite_only(database: Settings) -> None:
    """SQLite counts (a row the triggers bump); PostgreSQL announces instead and has no count."""
    version = await cache.topic_version("complaints-summary")
    assert (version is not None) == db.is_sqlite()
