"""Database engine and transactions.

Piccolo keeps the current transaction in a ContextVar, so services open their own
transactions (``async with transaction():``) rather than receiving one from a
dependency that Litestar might resolve in another task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import aiosqlite
from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType, dict_factory
from piccolo.querystring import QueryString

from governance.settings import Settings

os.environ.setdefault("PICCOLO_CONF", "governance.piccolo_conf")

# Writers wait this long for SQLite's single write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0


class ReusingSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, with statements outside transactions on reused connections.

    Piccolo opens and closes a connection (and its thread) for every statement outside
    a transaction, which costs more than the statement: about 1.5 ms. Here such
    statements take a connection from a small per-event-loop set that stays open
    (autocommit, so each statement sees the latest commit). Transactions keep their own
    connection, as in Piccolo.
    """

    KEEP: Final = 4

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        idle = self._idle()
        connection = idle.pop() if idle else await self._kept_connection()
        try:
            async with connection.execute(query, args or []) as cursor:
                rows = await cursor.fetchall()
        except BaseException:
            # Cancelled or failed mid-statement: the connection's state is unknown.
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        if len(idle) < self.KEEP:
            idle.append(connection)
        else:
            await connection.close()
        return rows

    async def _kept_connection(self) -> Any:
        """A connection like Piccolo's, whose thread does not keep the process alive at exit.

        A kept connection outlives the statement that opened it; were its worker thread
        not a daemon, a process that ends without ``db.stop()`` would wait for it forever.
        """
        connection = aiosqlite.connect(**self.connection_kwargs)
        thread = getattr(connection, "_thread", connection)  # aiosqlite < 0.20: the connection is the thread
        if isinstance(thread, threading.Thread):
            thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    def _idle(self) -> list[Any]:
        loop = asyncio.get_running_loop()
        found = _idle_connections.get(loop)
        if found is None:
            found = _idle_connections[loop] = []
        return found


# Reused SQLite connections, per event loop (aiosqlite answers on the loop that asks).
_idle_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]] = weakref.WeakKeyDictionary()


def build_engine(settings: Settings) -> Engine[Any]:
    """The Piccolo engine for ``settings.effective_database_url``."""
    if settings.is_postgres:
        return PostgresEngine(
            config={"dsn": settings.effective_database_url},
            extensions=(),
        )
    path = settings.sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    return ReusingSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_S)


def check_engine_matches(settings: Settings) -> None:
    """Refuse settings whose database is not the one Piccolo's process-wide engine uses.

    Piccolo builds its engine once, from the environment, when a table is first used;
    settings built by hand with another database would otherwise be silently ignored.
    """
    db = engine()
    if isinstance(db, PostgresEngine):
        same = db.config.get("dsn") == settings.effective_database_url
    elif isinstance(db, SQLiteEngine):
        same = not settings.is_postgres and Path(db.path).resolve() == settings.sqlite_path.resolve()
    else:  # pragma: no cover - build_engine makes only these two
        same = False
    if not same:
        raise RuntimeError(
            "these settings name another database than GOVERNANCE_DATABASE_URL in the environment; "
            "the database is chosen once per process, by the environment"
        )


_engine: Engine[Any] | None = None


def engine() -> Engine[Any]:
    """The process-wide engine Piccolo's tables use."""
    global _engine
    # Piccolo's finder imports the configuration module on every call (tens of microseconds,
    # twice per audited change); the engine is chosen once per process, by the environment.
    if _engine is None:
        _engine = engine_finder()
        if _engine is None:  # pragma: no cover - piccolo_conf always defines DB
            raise RuntimeError("no Piccolo engine configured")
    return _engine


def is_sqlite() -> bool:
    return engine().engine_type == "sqlite"


def in_transaction() -> bool:
    """Whether the current task is inside a Piccolo transaction."""
    return engine().current_transaction.get() is not None


def transaction_connection() -> Any | None:
    """The asyncpg connection of the PostgreSQL transaction the current task is in, for a
    hot statement that skips Piccolo's query building; None on SQLite and outside one."""
    current = engine().current_transaction.get()
    return getattr(current, "connection", None) if isinstance(engine(), PostgresEngine) else None


def read_pool() -> Any | None:
    """PostgreSQL's connection pool, for a hot read-only query that skips Piccolo's query
    building (asyncpg prepares it once per connection); None on SQLite and inside a
    transaction, whose statements must run on its own connection: use Piccolo there."""
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None and not in_transaction():
        return db.pool
    return None


class LoopLock:
    """One asyncio.Lock per event loop (a lock is bound to the loop it first waits in, and
    tests run each in a loop of their own); it wakes its waiters in the order they came."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def __call__(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        found = self._locks.get(loop)
        if found is None:
            found = self._locks[loop] = asyncio.Lock()
        return found


# This process's queue for SQLite's write lock.
_write_turn = LoopLock()


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """A write transaction; joins the caller's transaction when one is open.

    On SQLite the transaction is IMMEDIATE: it takes the write lock at BEGIN, so
    concurrent writers queue on the busy timeout instead of failing with
    "database is locked" when a reader upgrades to a writer.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        if db.current_transaction.get() is not None:  # joined: the outer one holds the turn
            async with db.transaction(transaction_type=TransactionType.immediate):
                yield
            return
        # SQLite has one writer at a time; left to its busy handler, writers retry on a
        # sleeping backoff and a steady stream of them can starve one (the sequencer behind
        # 16 writers waited seconds). In this process they take turns first come, first
        # served; other processes (the CLI) still meet the busy timeout.
        async with _write_turn(), db.transaction(transaction_type=TransactionType.immediate):
            yield
    else:
        async with db.transaction():
            yield


async def take_turns(name: str) -> None:
    """Inside a transaction: wait until no other transaction holds the turn called ``name``,
    and hold it until this one ends (for a read-then-write that must not interleave, such as
    handing out the next number). PostgreSQL: a transaction-scoped advisory lock; SQLite: its
    IMMEDIATE transactions already take turns at BEGIN."""
    if not in_transaction():
        raise RuntimeError(f"take_turns({name!r}) outside a transaction holds nothing")
    if not is_sqlite():
        await engine().run_querystring(QueryString("SELECT pg_advisory_xact_lock(hashtext({}))", name))


@asynccontextmanager
async def snapshot() -> AsyncIterator[None]:
    """Several reads that see the database as of one instant, without blocking writers.

    For reports whose figures must agree with each other (a summary and the register it
    counts). REPEATABLE READ, READ ONLY on PostgreSQL; on SQLite a deferred transaction,
    whose first read fixes the snapshot (WAL). Write nothing inside.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        async with db.transaction(transaction_type=TransactionType.deferred):
            yield
    else:
        async with db.transaction():
            await db.run_querystring(QueryString("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            yield


# The one trigger function behind every append-only history on PostgreSQL (the audit log,
# consent records and receipts), so a direct UPDATE, DELETE or TRUNCATE reads the same
# refusal everywhere. Migrations install it with :func:`make_append_only`.
REFUSE_HISTORY_CHANGE = """
CREATE OR REPLACE FUNCTION governance_refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


async def make_append_only(tables: tuple[str, ...], history: str) -> None:
    """Refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``tables`` at the database.

    The service never changes history; these triggers make a direct statement fail too.
    ``history`` names it in SQLite's refusal ("consent history is append-only: ...").
    """
    engine = engine_finder()
    assert engine is not None
    if engine.engine_type == "postgres":
        await engine.run_ddl(REFUSE_HISTORY_CHANGE)
        for table in tables:
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION governance_refuse_history_change()"
            )
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_history_change()"
            )
        return
    for table in tables:
        for operation in ("UPDATE", "DELETE"):
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{history} history is append-only: {operation} on {table} refused'); END"
            )


async def drop_not_null(table: str, columns: tuple[str, ...]) -> None:
    """Let ``columns`` of ``table`` (integers Piccolo declared ``NOT NULL DEFAULT 0``) hold
    null, default null, keeping every row, index and trigger: a migration's raw step.

    PostgreSQL alters the columns. SQLite cannot drop a NOT NULL constraint by ``ALTER
    TABLE``; its documented way for a change that leaves the stored rows valid (sqlite.org,
    "ALTER TABLE", making other kinds of table schema changes) edits the table's definition
    in the schema and bumps the schema version, inside the migration's transaction, instead
    of rebuilding a table that other tables reference and triggers guard.
    """
    db = engine_finder()
    if db is None:
        raise RuntimeError("no database engine")
    if db.engine_type == "postgres":
        for column in columns:
            await db.run_ddl(
                f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL, ALTER COLUMN {column} SET DEFAULT NULL"
            )
        return
    [found] = await db.run_querystring(
        QueryString("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = {}", table)
    )
    definition = found["sql"]
    for column in columns:
        definition, replaced = re.subn(
            rf'"{column}" INTEGER NOT NULL DEFAULT 0\b', f'"{column}" INTEGER DEFAULT null', definition
        )
        if replaced != 1:
            raise RuntimeError(f"{table}.{column} is not the column this migration expects: {found['sql']}")
    [version] = await db.run_querystring(QueryString("PRAGMA schema_version"))
    await db.run_ddl("PRAGMA writable_schema = ON")
    await db.run_querystring(
        QueryString("UPDATE sqlite_master SET sql = {} WHERE type = 'table' AND name = {}", definition, table)
    )
    await db.run_ddl(f"PRAGMA schema_version = {int(version['schema_version']) + 1}")
    await db.run_ddl("PRAGMA writable_schema = OFF")


class SnapshotOnlyAlter(MigrationManager):
    """A migration whose column changes are made by its raw step (on both engines), and
    recorded with ``alter_column`` only so Piccolo's schema snapshot, and so the check that
    tables and migrations agree, knows of them. Piccolo's own ALTER cannot drop a
    constraint or add a foreign key on SQLite, which rebuilds the table instead."""

    async def _run_alter_columns(self, backwards: bool = False) -> None:
        return None


def is_unique_violation(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing a duplicate of a unique key (either engine)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE constraint failed" in str(exc)
    return type(exc).__name__ == "UniqueViolationError"  # asyncpg's, without importing the driver here


_PLACEHOLDER = re.compile(r"\{\}")
_sqlite_readers: dict[str, sqlite3.Connection] = {}
# The query text per engine kind, with its own placeholders (``?`` or ``$n``).
_dialects: dict[tuple[str, str], str] = {}


async def fetch_row(query: str, *args: Any) -> dict[str, Any] | None:
    """One row of a small, hot, read-only query (``{}`` placeholders), outside any transaction.

    The fast path for reads on every request (a record's version before serving a cached
    rendering): Piccolo opens a connection per query on SQLite, which costs more than the
    rest of the request. Here SQLite answers from one long-lived read-only connection, run
    inline (an indexed lookup takes microseconds; WAL readers never wait for writers), and
    PostgreSQL from the pool without Piccolo's query building.
    """
    db = engine()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        record = await db.pool.fetchrow(_dialect("postgres", query), *args)
        return dict(record) if record is not None else None
    if isinstance(db, SQLiteEngine):
        reader = _sqlite_reader(db.path)
        cursor = reader.execute(_dialect("sqlite", query), [_sqlite_value(a) for a in args])
        row = cursor.fetchone()
        if row is None:
            return None
        return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}
    rows = await db.run_querystring(QueryString(query, *args))  # pragma: no cover - no pool started
    return rows[0] if rows else None


def sqlite_data_version() -> int | None:
    """SQLite's ``PRAGMA data_version`` on the read connection; None on PostgreSQL.

    It changes whenever any other connection, in this process or another, commits: while
    it stands still, nothing anywhere in the database has changed.
    """
    db = engine()
    if not isinstance(db, SQLiteEngine):
        return None
    row = _sqlite_reader(db.path).execute("PRAGMA data_version").fetchone()
    return int(row[0])


def _dialect(kind: str, query: str) -> str:
    found = _dialects.get((kind, query))
    if found is None:
        if kind == "sqlite":
            found = _PLACEHOLDER.sub("?", query)
        else:
            count = iter(range(1, query.count("{}") + 1))
            found = _PLACEHOLDER.sub(lambda _: f"${next(count)}", query)
        _dialects[(kind, query)] = found
    return found


def _sqlite_reader(path: str) -> sqlite3.Connection:
    reader = _sqlite_readers.get(path)
    if reader is None:
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
        reader.execute("PRAGMA busy_timeout = 1000")
        _sqlite_readers[path] = reader
    return reader


def _sqlite_value(value: Any) -> Any:
    # Piccolo stores UUIDs as text on SQLite.
    return str(value) if isinstance(value, UUID) else value


async def start(settings: Settings) -> None:
    """Open the connection pool (PostgreSQL) or prepare the file (SQLite)."""
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=settings.database_pool_size)
    else:
        # WAL lets readers proceed while one writer commits; it persists in the file.
        await db.run_ddl("PRAGMA journal_mode=WAL")


async def stop() -> None:
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.close_connection_pool()
    for reader in _sqlite_readers.values():
        reader.close()
    _sqlite_readers.clear()
    with contextlib.suppress(RuntimeError):  # no running loop: nothing of this loop to close
        for connection in _idle_connections.pop(asyncio.get_running_loop(), []):
            await connection.close()


async def ping() -> None:
    """Raise when the database cannot answer a trivial query."""
    await engine().run_ddl("SELECT 1")
