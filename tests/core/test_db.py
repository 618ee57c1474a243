"""The database layer: reused SQLite connections and the hot read path."""

from __future__ import annotations

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
