"""Parent ids become foreign keys: a complaint's events and notes, an attestation's status
changes and disputes, a dispute's events.

They were plain UUID columns with a random default, so a row could name a parent that
never existed. PostgreSQL adds the constraints (and drops the random default); SQLite,
which cannot add a constraint to a column, rebuilds each table with the same rows,
indexes and columns. A child naming a missing parent stops the migration with its table
and count rather than being deleted: history is not this migration's to drop.
"""

import re

from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import UUID, ForeignKey
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString
from piccolo.table import Table

from governance.core.db import SnapshotOnlyAlter

ID = "2026-12-01T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Foreign keys from complaint, attestation and dispute children to their parents."

# (child table, class, column, parent table, parent class): parents before their children,
# so SQLite's rebuild of ``dispute`` happens before ``dispute_event`` references it.
LINKS = (
    ("complaint_event", "ComplaintEvent", "complaint_id", "complaint", "Complaint"),
    ("complaint_note", "ComplaintNote", "complaint_id", "complaint", "Complaint"),
    ("attestation_status_change", "AttestationStatusChange", "attestation_id", "attestation", "Attestation"),
    ("dispute", "Dispute", "attestation_id", "attestation", "Attestation"),
    ("dispute_event", "DisputeEvent", "dispute_id", "dispute", "Dispute"),
)


def _parent(class_name: str, tablename: str) -> type[Table]:
    """The parent as Piccolo's snapshot knows it: a table with its UUID primary key."""
    key = UUID(
        default=UUID4(),
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name=None,
        secret=False,
    )
    return type(class_name, (Table,), {"id": key}, tablename=tablename, schema=None)


async def _rows(engine, query: str) -> list[dict]:
    return await engine.run_querystring(QueryString(query))


async def _refuse_orphans(engine) -> None:
    for child, _, column, parent, _ in LINKS:
        [found] = await _rows(
            engine,
            f"SELECT COUNT(*) AS n FROM {child} WHERE {column} NOT IN (SELECT id FROM {parent})",
        )
        if found["n"]:
            raise RuntimeError(
                f"{found['n']} row(s) of {child} name a {parent} that does not exist ({column}); "
                "resolve them before migrating"
            )


async def _rebuild_with_reference(engine, child: str, column: str, parent: str) -> None:
    [table] = await _rows(engine, f"SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{child}'")
    indexes = await _rows(
        engine, f"SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '{child}' AND sql IS NOT NULL"
    )
    definition, replaced = re.subn(
        rf'"{column}" UUID NOT NULL DEFAULT [^,)]+',
        f'"{column}" UUID NOT NULL REFERENCES "{parent}" ("id") ON DELETE RESTRICT ON UPDATE CASCADE',
        table["sql"],
    )
    if replaced != 1:
        raise RuntimeError(f"{child}.{column} is not the column this migration expects: {table['sql']}")
    definition = definition.replace(f'CREATE TABLE "{child}"', f'CREATE TABLE "{child}_rebuilt"', 1)
    await engine.run_ddl(definition)
    await engine.run_ddl(f'INSERT INTO "{child}_rebuilt" SELECT * FROM "{child}"')
    await engine.run_ddl(f'DROP TABLE "{child}"')
    await engine.run_ddl(f'ALTER TABLE "{child}_rebuilt" RENAME TO "{child}"')
    for index in indexes:
        await engine.run_ddl(index["sql"])


async def link_children_to_parents():
    engine = engine_finder()
    await _refuse_orphans(engine)
    for child, _, column, parent, _ in LINKS:
        if engine.engine_type == "postgres":
            await engine.run_ddl(f"ALTER TABLE {child} ALTER COLUMN {column} DROP DEFAULT")
            await engine.run_ddl(
                f"ALTER TABLE {child} ADD CONSTRAINT {child}_{column}_fkey FOREIGN KEY ({column}) "
                f"REFERENCES {parent} (id) ON DELETE RESTRICT ON UPDATE CASCADE"
            )
        else:
            await _rebuild_with_reference(engine, child, column, parent)


async def forwards():
    manager = SnapshotOnlyAlter(migration_id=ID, app_name="complaints", description=DESCRIPTION)
    manager.add_raw(link_children_to_parents)
    for child, class_name, column, parent, parent_class in LINKS:
        manager.alter_column(
            table_class_name=class_name,
            tablename=child,
            column_name=column,
            db_column_name=column,
            params={
                "references": _parent(parent_class, parent),
                "on_delete": OnDelete.restrict,
                "on_update": OnUpdate.cascade,
                "target_column": None,
            },
            old_params={"references": None, "on_delete": None, "on_update": None, "target_column": None},
            column_class=ForeignKey,
            old_column_class=UUID,
            schema=None,
        )
    return manager
