"""What an attacker with database access would do: switch off the triggers and rewrite rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from governance.audit.tables import AuditEntry
from governance.core import db

SQLITE_TRIGGERS = {
    ("audit_entry", "UPDATE"),
    ("audit_entry", "DELETE"),
    ("audit_checkpoint", "UPDATE"),
    ("audit_checkpoint", "DELETE"),
}


async def sql(query: str, *args: Any) -> list[dict[str, Any]]:
    return list(await AuditEntry.raw(query, *args))


@asynccontextmanager
async def triggers_disabled() -> AsyncIterator[None]:
    """Inside one transaction: triggers off, the block's statements, triggers back on."""
    async with db.transaction():
        if db.is_sqlite():
            for table, operation in SQLITE_TRIGGERS:
                await sql(f"DROP TRIGGER {table}_no_{operation.lower()}")
        else:
            await sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
            await sql("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER")
        yield
        if db.is_sqlite():
            for table, operation in SQLITE_TRIGGERS:
                await sql(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'audit history is append-only: {operation} on {table} refused'); END"
                )
        else:
            await sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")
            await sql("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER")


async def row(seq: int) -> dict[str, Any]:
    [found] = await sql("SELECT * FROM audit_entry WHERE seq = {}", seq)
    found.pop("queue_id", None)  # which queued row it came from: not part of the entry, not a Piccolo column
    return found


async def put_back(original: dict[str, Any]) -> None:
    """Restore one entry exactly as it was (delete whatever sits at its seq, insert it)."""
    async with triggers_disabled():
        await sql("DELETE FROM audit_entry WHERE seq = {}", original["seq"])
        await AuditEntry.insert(AuditEntry(**original))


HEAD_TRIGGER_SQLITE = (
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
    "WHEN NEW.next_seq < OLD.next_seq OR NEW.name <> OLD.name "
    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: the sequence head only moves forward'); END"
)
UNLOCKED_TABLES = ("audit_entry", "audit_checkpoint", "audit_tree_node", "audit_cosignature")


@asynccontextmanager
async def everything_unlocked() -> AsyncIterator[None]:
    """Like :func:`triggers_disabled`, for the tree nodes and the sequence head too: what an
    attacker who owns the database does to rewrite history thoroughly."""
    async with db.transaction():
        if db.is_sqlite():
            for table in UNLOCKED_TABLES:
                for operation in ("update", "delete"):
                    await sql(f"DROP TRIGGER {table}_no_{operation}")
            await sql("DROP TRIGGER audit_head_forward")
        else:
            for table in (*UNLOCKED_TABLES, "audit_head"):
                await sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        if db.is_sqlite():
            for table in UNLOCKED_TABLES:
                for operation in ("UPDATE", "DELETE"):
                    await sql(
                        f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} BEGIN "
                        f"SELECT RAISE(ABORT, 'audit history is append-only: {operation} on {table} refused'); END"
                    )
            await sql(HEAD_TRIGGER_SQLITE)
        else:
            for table in (*UNLOCKED_TABLES, "audit_head"):
                await sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


@asynccontextmanager
async def restored_afterwards() -> AsyncIterator[None]:
    """Whatever a test does to the log, put every audit row back as it was afterwards (the
    suite shares one log)."""
    saved = {table: await sql(f"SELECT * FROM {table}") for table in UNLOCKED_TABLES}
    head = await sql("SELECT next_seq FROM audit_head WHERE name = 'audit'")
    try:
        yield
    finally:
        async with everything_unlocked():
            await sql("UPDATE audit_head SET next_seq = {} WHERE name = 'audit'", head[0]["next_seq"])
            for table, rows in saved.items():
                await sql(f"DELETE FROM {table}")
                for first in range(0, len(rows), 200):
                    chunk = rows[first : first + 200]
                    columns = list(chunk[0]) if chunk else []
                    if not columns:
                        continue
                    marks = ", ".join("(" + ", ".join("{}" for _ in columns) + ")" for _ in chunk)
                    await sql(
                        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}",
                        *(r[c] for r in chunk for c in columns),
                    )
