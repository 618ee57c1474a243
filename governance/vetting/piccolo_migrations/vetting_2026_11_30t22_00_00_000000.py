"""A proposed decision can be rejected by a second officer, with reasons, or withdrawn by its proposer."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt, Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Vetting decisions: who closed a proposal (rejected or withdrawn), when, under which entry, and why."

COMMON = {
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

COLUMNS = (
    ("closed_by", Varchar, {"length": 200}),
    ("closed_at", Timestamptz, {}),
    ("closed_seq", BigInt, {}),
    ("closing_reasons", Text, {}),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="vetting", description=DESCRIPTION)
    for name, column_class, extra in COLUMNS:
        manager.add_column(
            table_class_name="Decision",
            tablename="vetting_decision",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params={**COMMON, **extra},
            schema=None,
        )
    return manager
