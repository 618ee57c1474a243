"""Idempotency keys: the subject whose key seals a stored response, and the record it shows."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Idempotency keys: responses holding personal data are sealed under the subject's key."

PARAMS = {
    "length": 200,
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


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    for name in ("subject", "record_id"):
        manager.add_column(
            table_class_name="IdempotencyKey",
            tablename="idempotency_key",
            column_name=name,
            db_column_name=name,
            column_class_name="Varchar",
            column_class=Varchar,
            params=dict(PARAMS),
            schema=None,
        )
    return manager
