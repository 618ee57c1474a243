"""The history of the policy files the service ran on (the next migration makes it append-only)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Policy versions in force: exact text and SHA-256."

TABLE = "audit_policy_version"

COMMON = {
    "default": None,
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}

COLUMNS = (
    ("id", UUID, {"default": UUID4(), "primary_key": True}),
    ("name", Varchar, {"length": 100, "default": "", "index": True}),
    ("label", Varchar, {"length": 100, "null": True}),
    ("sha256", Varchar, {"length": 64, "default": ""}),
    ("size", BigInt, {"default": 0}),
    ("text", Text, {"default": ""}),
    ("in_force_from", Timestamptz, {"default": TimestamptzNow(), "index": True}),
    ("recorded_seq", BigInt, {"default": 0}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_table(class_name="PolicyVersion", tablename=TABLE, schema=None, columns=None)
    for name, column_class, extra in COLUMNS:
        manager.add_column(
            table_class_name="PolicyVersion",
            tablename=TABLE,
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**COMMON, **extra},
            schema=None,
        )
    return manager
