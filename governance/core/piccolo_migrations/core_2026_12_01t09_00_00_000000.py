"""Data keys per subject, scope and generation: the columns.

A legal hold keeps one case's key while an erasure destroys the rest (``scope``); a subject
who comes back after an erasure gets keys of a new generation (``generation``); a key kept
for a hold is marked (``held_since``) so that the retention sweep destroys it once the hold
ends. Existing keys become the first general key of their subject (scope ``''``,
generation 1), which is how ``gv1.`` ciphertexts are still read.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Subject keys: scope, generation and held_since."


def _params(**overrides):
    params = {
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
    ("scope", Varchar, _params(length=200, default="")),
    ("generation", Integer, _params(default=1)),
    ("held_since", Timestamptz, _params(default=None, null=True)),
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="SubjectKey",
            tablename="subject_key",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
