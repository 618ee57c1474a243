"""Witnesses' cosignatures of the log's checkpoints."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Witness cosignatures (c2sp.org/tlog-cosignature) of the audit checkpoints."

COMMON = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_table(class_name="AuditCosignature", tablename="audit_cosignature", schema=None, columns=None)
    for name, column_class, extra in (
        ("tree_size", BigInt, {"default": 0, "index": True}),
        ("witness", Varchar, {"default": "", "length": 300}),
        ("checkpoint", Text, {"default": ""}),
        ("cosignature", Text, {"default": ""}),
        ("cosigned_at", Timestamptz, {"default": TimestamptzNow()}),
    ):
        manager.add_column(
            table_class_name="AuditCosignature",
            tablename="audit_cosignature",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**COMMON, **extra},
            schema=None,
        )
    return manager
