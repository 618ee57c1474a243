"""The database layer: reused SQLite connections and the hot read path."""

from __future__ import annotations

import uuid

import pytest

from governance.audit.tables import AuditHead
from governance.core import db
from governance.settings import Settings

from ..conftest import BACKEND


@pytest.mark.skipif(BACKEND != "sqlite", reason="connection reuse is the SQLite engine's")
async def test_reused_connections_see_every_commit_and_survive_errors(database: Settings) -> None:
    before = await AuditHead.select(AuditHead.next_seq).first()
    with pytest.raises(Exception, match="no such table"):
        await db.engine().run_ddl("SELECT * FROM no_such_table")
    async with db.transaction():
        await AuditHead.raw("UPDATE audit_head SET next_seq = next_seq + 0 WHERE name = 'audit'")
    for _ in range(10):  # more statements than connections kept
        assert await AuditHead.select(AuditHead.next_seq).first() == before


async def test_fetch_row_reads_the_latest_commit(database: Settings) -> None:
    row = await db.fetch_row("SELECT next_seq FROM audit_head WHERE name = {}", "audit")
    piccolo = await AuditHead.select(AuditHead.next_seq).where(AuditHead.name == "audit").first()
    assert row is not None
    assert row["next_seq"] == piccolo["next_seq"]
    assert await db.fetch_row("SELECT next_seq FROM audit_head WHERE name = {}", "nobody") is None


@pytest.mark.skipif(BACKEND != "sqlite", reason="connection reuse is the SQLite engine's")
def test_a_process_that_never_stops_the_database_still_exits(data_dir: object) -> None:
    """Kept connections must not hold the interpreter open at exit (their threads are daemons)."""
    import os
    import subprocess
    import sys

    script = (
        "import asyncio\n"
        "from governance.audit.tables import AuditHead\n"
        "async def main():\n"
        "    await AuditHead.select().first()\n"
        "    return asyncio.get_running_loop()\n"
        "loop = asyncio.run(main())  # the loop stays referenced, so do its kept connections\n"
        "print('done')\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script], env=os.environ.copy(), capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.stdout.strip() == "done", finished.stderr
    assert finished.returncode == 0


async def test_taking_turns_outside_a_transaction_is_refused(database: Settings) -> None:
    with pytest.raises(RuntimeError, match="outside a transaction"):
        await db.take_turns("anything")
    async with db.transaction():
        await db.take_turns("anything")


async def test_a_column_made_nullable_keeps_its_rows_indexes_and_triggers(database: Settings) -> None:
    """What the migrations that let ``*_seq`` columns hold null rely on (both engines; SQLite
    edits the table's definition in place instead of rebuilding it)."""
    engine = db.engine()
    table = f"nullable_{uuid.uuid4().hex[:8]}"
    if db.is_sqlite():
        await engine.run_ddl(f'CREATE TABLE "{table}" ("id" INTEGER PRIMARY KEY, "n_seq" INTEGER NOT NULL DEFAULT 0)')
        trigger = (
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, 'append-only'); END"
        )
    else:
        await engine.run_ddl(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, n_seq BIGINT NOT NULL DEFAULT 0)")
        await engine.run_ddl(
            f"CREATE FUNCTION {table}_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'append-only'; END $$"
        )
        trigger = (
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_refuse()"
        )
    await engine.run_ddl(trigger)
    await engine.run_ddl(f"CREATE INDEX {table}_n ON {table} (n_seq)")
    await engine.run_ddl(f"INSERT INTO {table} (id, n_seq) VALUES (1, 7)")
    with pytest.raises(Exception, match=r"NOT NULL|not-null|null value"):
        await engine.run_ddl(f"INSERT INTO {table} (id, n_seq) VALUES (2, NULL)")

    async with db.transaction():  # as a migration runs it
        await db.drop_not_null(table, ("n_seq",))
    await engine.run_ddl(f"INSERT INTO {table} (id) VALUES (2)")
    rows = await AuditHead.raw(f"SELECT id, n_seq FROM {table} ORDER BY id")
    assert [(row["id"], row["n_seq"]) for row in rows] == [(1, 7), (2, None)]
    with pytest.raises(Exception, match="append-only"):
        await engine.run_ddl(f"UPDATE {table} SET n_seq = 8")
    assert await AuditHead.raw(f"SELECT id FROM {table} WHERE n_seq = 7")
