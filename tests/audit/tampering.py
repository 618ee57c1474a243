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
    return found


async def put_back(original: dict[str, Any]) -> None:
    """Restore one entry exactly as it was (delete whatever sits at its seq, insert it)."""
    async with triggers_disabled():
        await sql("DELETE FROM audit_entry WHERE seq = {}", original["seq"])
        await AuditEntry.insert(AuditEntry(**original))
