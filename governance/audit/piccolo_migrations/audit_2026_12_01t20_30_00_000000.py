"""Policy versions cite their policy.version_in_force entry by id.

A change no longer waits for the sequence head's lock to learn its entry's number: it
stores the id its entry was queued under (``*_entry_id``), and readers look the number up
(``audit_entry.queue_id``). Rows written before keep the sequence number they were given
(``*_seq``, nullable from now on, never rewritten): they still point at the same entry.
Their entry ids stay null, as those entries were never queued.
"""

from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod

from governance.core.db import SnapshotOnlyAlter, drop_not_null

ID = "2026-12-01T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Policy versions cite their policy.version_in_force entry by id."

# (table class, table, sequence columns made nullable, entry id columns added)
TABLES = (('PolicyVersion', 'audit_policy_version', ('recorded_seq',), ('recorded_entry_id',)),)

COLUMN = {
    "default": None,
    "null": True,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def sequence_columns_nullable():
    for _, tablename, seq_columns, _ in TABLES:
        if seq_columns:
            await drop_not_null(tablename, seq_columns)


async def forwards():
    manager = SnapshotOnlyAlter(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(sequence_columns_nullable)
    for class_name, tablename, seq_columns, entry_columns in TABLES:
        for column in seq_columns:
            manager.alter_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=column,
                db_column_name=column,
                params={"null": True, "default": None},
                old_params={"null": False, "default": 0},
                column_class=BigInt,
                old_column_class=BigInt,
                schema=None,
            )
        for column in entry_columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=column,
                db_column_name=column,
                column_class_name="BigInt",
                column_class=BigInt,
                params=COLUMN,
                schema=None,
            )
    return manager
