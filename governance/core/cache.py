"""Per-process caches of values derived from the database, never served stale.

Some reads are hot and expensive to derive (a rendered dossier, a permission decision)
but change rarely. A :class:`FreshCache` keeps such values in the process, each with
the version of the record it was derived from, and stays honest across instances:

- Whoever changes the record calls :func:`announce` *inside the changing transaction*.
- **PostgreSQL**: ``announce`` issues ``pg_notify('governance_changes', 'topic:key')``
  in that transaction, so the notice goes out exactly when the change commits (and not
  at all when it rolls back). Every instance listens on one dedicated connection
  (:func:`start_listening`, run by the application's lifespan) and drops the entry when
  the notice arrives. While the listener is connected, a cached value is served without
  touching the database. When the connection drops, every cache is emptied and reads
  check the record's version until it is back.
- **SQLite** (one machine; maybe several worker processes or a cron command): no
  notices, but ``PRAGMA data_version`` tells whether anything at all was committed since
  a value was last confirmed. While nothing was, the value is served as it is; after a
  commit anywhere, it is served once its record's version (one indexed lookup) still
  matches. Asking SQLite costs as much as the lookup itself, so the answer is reused for
  a millisecond: another process's commit is seen within a millisecond, much as a
  PostgreSQL notice takes a moment to arrive.
- Either way this instance forgets the entry at once when it announces, and keeps the
  key *unsettled* (read through, never cached) until its own notice is back or a few
  seconds have passed, so it never serves a value older than its own writes.

A value may also say when the mere passing of time changes it (``stale_at``: the next
expiry in a dossier); it is derived anew after that.

Values derived from whole tables (a period's summary counts every complaint) have no one
record to version, and every service that writes those tables would have to announce.
There the database announces for them: :func:`count_changes` (run by a migration) puts
triggers on the tables, which on SQLite add one to the topic's row of ``change_counter``
in the writing transaction (SQLite has one writer at a time, so the row costs no
concurrency), and on PostgreSQL notify ``topic:*`` at commit, without a lock
(``*``: every key of the topic). :func:`topic_version` reads the counter (None on
PostgreSQL, where only the notices keep such values, while the listener is connected).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

import structlog
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from governance.core import db

log = structlog.get_logger("governance.cache")

CHANNEL: Final = "governance_changes"
# How long an announced key is read through when its own notice does not come back
# (the announcing transaction rolled back, or the listener is down).
UNSETTLED_SECONDS: Final = 5.0
# How long SQLite's "anything committed?" answer is reused (see the module docstring).
COMMIT_CHECK_SECONDS: Final = 0.001
RECONNECT_SECONDS: Final = 2.0

# The key of a notice that concerns every key of its topic.
EVERY_KEY: Final = "*"
COUNTER_TABLE: Final = "change_counter"

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Loaded(Generic[V]):
    """A value derived from the database, with the record version it reflects."""

    value: V
    version: int
    stale_at: datetime | None = None
    # The instant the value was judged at, when it depends on it: never served for an earlier one.
    judged_at: datetime | None = None


@dataclass(slots=True)
class _Entry(Generic[V]):
    loaded: Loaded[V]
    # SQLite's data_version when the value was last known to be the truth.
    confirmed_at: int | None


class FreshCache(Generic[V]):
    """Values per key of one topic (e.g. ``mentor``), bounded, least recently used out."""

    def __init__(
        self,
        topic: str,
        version_of: Callable[[str], Awaitable[int | None]],
        capacity: int = 4096,
        commits: Callable[[], int | None] = db.sqlite_data_version,
    ) -> None:
        self.topic = topic
        self._version_of = version_of
        # Moves whenever anything is committed anywhere (None: no such signal).
        self._commits = commits
        self._marker: int | None = None
        self._marker_until = 0.0
        self._capacity = capacity
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._unsettled: dict[str, float] = {}
        # Bumped by every invalidation: a value loaded across one is not kept.
        self._generation = 0
        _feed.caches.setdefault(topic, weakref.WeakSet()).add(self)

    def __len__(self) -> int:
        return len(self._entries)

    async def get_or_load(self, key: str, now: datetime, load: Callable[[], Awaitable[Loaded[V]]]) -> V:
        """The cached value for ``key`` when it is still the truth, else ``load()``'s."""
        entry = self._entries.get(key)
        settled = self._settled(key)
        data_version = None if _feed.live else self._commit_marker()
        if entry is not None and settled and _current_at(entry.loaded, now):
            if _feed.live or (data_version is not None and data_version == entry.confirmed_at):
                self._entries.move_to_end(key)
                return entry.loaded.value
            if await self._version_of(key) == entry.loaded.version:
                entry.confirmed_at = data_version
                self._entries.move_to_end(key)
                return entry.loaded.value
        generation = self._generation
        loaded = await load()
        if settled and generation == self._generation:
            self._entries[key] = _Entry(loaded, data_version)
            self._entries.move_to_end(key)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return loaded.value

    def _commit_marker(self) -> int | None:
        clock = time.monotonic()
        if clock >= self._marker_until:
            self._marker, self._marker_until = self._commits(), clock + COMMIT_CHECK_SECONDS
        return self._marker

    def forget(self, key: str, *, unsettle: bool = False) -> None:
        self._generation += 1
        self._entries.pop(key, None)
        if unsettle:
            self._unsettled[key] = time.monotonic() + UNSETTLED_SECONDS

    def settle(self, key: str) -> None:
        self._unsettled.pop(key, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def _settled(self, key: str) -> bool:
        until = self._unsettled.get(key)
        if until is None:
            return True
        if time.monotonic() >= until:
            del self._unsettled[key]
            return True
        return False


class TopicCache(Generic[V]):
    """Values derived from whole tables of one topic (see :func:`count_changes`), per key,
    each with the instant it was judged at: served while the database counted no change on
    the topic and time alone has not changed them (``stale_at``), never for an earlier instant."""

    def __init__(self, topic: str, capacity: int = 64) -> None:
        self.topic = topic
        # The counter is read on every request (one indexed row, no commit marker in between):
        # a change this very process committed a moment ago is seen at once, with no
        # announcement from the writer.
        self._kept: FreshCache[V] = FreshCache(topic, self._changes, capacity, commits=_no_signal)

    async def get_or_compute(
        self, key: str, now: datetime, compute: Callable[[], Awaitable[tuple[V, datetime | None]]]
    ) -> V:
        """The value kept for ``key`` while it holds, else ``compute()``'s: ``(value, stale_at)``,
        judged at ``now``."""

        async def load() -> Loaded[V]:
            # The counter first: a change committed meanwhile leaves the value checked again.
            version = await topic_version(self.topic)
            value, stale_at = await compute()
            return Loaded(value, version=-1 if version is None else version, stale_at=stale_at, judged_at=now)

        return await self._kept.get_or_load(key, now, load)

    async def _changes(self, _key: str) -> int | None:
        return await topic_version(self.topic)


def _no_signal() -> int | None:
    return None


def _current_at(loaded: Loaded[Any], now: datetime) -> bool:
    """Whether time alone has not changed ``loaded`` by ``now`` (nor is ``now`` before its judging)."""
    if loaded.stale_at is not None and now >= loaded.stale_at:
        return False
    return loaded.judged_at is None or loaded.judged_at <= now


class _ChangeFeed:
    """This process's caches by topic, and whether PostgreSQL notices are arriving."""

    def __init__(self) -> None:
        # Weak: a cache lives as long as the application that made it.
        self.caches: dict[str, weakref.WeakSet[FreshCache[Any]]] = {}
        self.live = False
        self._task: asyncio.Task[None] | None = None

    def received(self, payload: str) -> None:
        topic, _, key = payload.partition(":")
        for cache in list(self.caches.get(topic, ())):
            if key == EVERY_KEY:
                cache.clear()
                continue
            cache.forget(key)
            cache.settle(key)

    def went_down(self) -> None:
        self.live = False
        for caches in self.caches.values():
            for cache in list(caches):
                cache.clear()


_feed = _ChangeFeed()


async def announce(topic: str, key: str) -> None:
    """Tell every instance that ``key`` of ``topic`` changed; call inside the changing transaction."""
    for cache in list(_feed.caches.get(topic, ())):
        cache.forget(key, unsettle=True)
    engine = db.engine()
    if isinstance(engine, PostgresEngine):
        await engine.run_querystring(QueryString("SELECT pg_notify({}, {})", CHANNEL, f"{topic}:{key}"))


def listening() -> bool:
    """Whether notices are arriving (cached values are then served without a lookup)."""
    return _feed.live


async def start_listening(dsn: str) -> None:
    """Listen for changes on PostgreSQL until :func:`stop_listening`; reconnects when dropped."""
    if _feed._task is None or _feed._task.done():
        _feed._task = asyncio.create_task(_listen(dsn))


async def stop_listening() -> None:
    task, _feed._task = _feed._task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    _feed.went_down()


async def _listen(dsn: str) -> None:
    import asyncpg

    while True:
        connection = None
        try:
            connection = await asyncpg.connect(dsn)
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _, lost=lost: lost.set())
            await connection.add_listener(CHANNEL, lambda _c, _p, _ch, payload: _feed.received(payload))
            # Anything cached before the listener was up may have missed a notice.
            _feed.went_down()
            _feed.live = True
            await lost.wait()
            log.warning("change_feed_lost")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("change_feed_unavailable", error=str(exc))
        finally:
            _feed.went_down()
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.close()
        await asyncio.sleep(RECONNECT_SECONDS)


async def topic_version(topic: str) -> int | None:
    """How many changes the database counted on ``topic``'s tables (see :func:`count_changes`);
    None on PostgreSQL, which announces them instead."""
    if not db.is_sqlite():
        return None
    row = await db.fetch_row(f"SELECT changes FROM {COUNTER_TABLE} WHERE topic = {{}}", topic)  # noqa: S608
    return int(row["changes"]) if row else None


# PostgreSQL: one statement-level trigger function for every counted table; the notice goes
# out when the transaction commits (not at all when it rolls back) and takes no lock.
ANNOUNCE_CHANGES = f"""
CREATE OR REPLACE FUNCTION governance_announce_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', TG_ARGV[0] || ':{EVERY_KEY}');
    RETURN NULL;
END
$$
"""


async def count_changes(topic: str, tables: tuple[str, ...]) -> None:
    """For a migration: every insert, update or delete on ``tables`` changes ``topic`` (its
    counter on SQLite, a notice on PostgreSQL), whoever writes, so a cache of values derived
    from the whole tables is never served after a change (see the module docstring)."""
    engine = db.engine()
    if engine.engine_type == "postgres":
        await engine.run_ddl(ANNOUNCE_CHANGES)
        for table in tables:
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_announces_{topic.replace('-', '_')} "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION governance_announce_changes('{topic}')"
            )
        return
    await engine.run_ddl(
        f"CREATE TABLE IF NOT EXISTS {COUNTER_TABLE} (topic TEXT PRIMARY KEY, changes INTEGER NOT NULL DEFAULT 0)"
    )
    # Only the migration's constants are formatted into these statements.
    await engine.run_ddl(f"INSERT OR IGNORE INTO {COUNTER_TABLE} (topic, changes) VALUES ('{topic}', 0)")  # noqa: S608
    for table in tables:
        for operation in ("INSERT", "UPDATE", "DELETE"):
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_counts_{topic.replace('-', '_')}_{operation.lower()} "  # noqa: S608
                f"AFTER {operation} ON {table} "
                f"BEGIN UPDATE {COUNTER_TABLE} SET changes = changes + 1 WHERE topic = '{topic}'; END"
            )
