"""Idempotency keys: one claimed row per (scope, actor, key), holding the first response."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Idempotency keys."


def _params(**overrides):
    params = {
        "default": "",
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(overrides)
    return params


COLUMNS = (
    ("key_hash", Varchar, _params(length=64, unique=True, index=True)),
    ("scope", Varchar, _params(length=100)),
    ("actor", Varchar, _params(length=200)),
    ("idempotency_key", Varchar, _params(length=200)),
    ("fingerprint", Varchar, _params(length=64)),
    ("status_code", Integer, _params(default=None, null=True)),
    ("response_body", Text, _params(default=None, null=True)),
    ("created_at", Timestamptz, _params(default=TimestamptzNow())),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    manager.add_table(class_name="IdempotencyKey", tablename="idempotency_key", schema=None, columns=None)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="IdempotencyKey",
            tablename="idempotency_key",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
