"""Decisions carry their reasons: every dispute tier's decision, every refund approval."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Dispute decisions and refund approvals with their reasons (ciphertext)."

PARAMS = {
    "default": "[]",
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
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)
    for class_name, tablename, column in (("Dispute", "dispute", "decisions"), ("Refund", "refund", "approvals")):
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name=column,
            db_column_name=column,
            column_class_name="Text",
            column_class=Text,
            params=dict(PARAMS),
            schema=None,
        )
    return manager
