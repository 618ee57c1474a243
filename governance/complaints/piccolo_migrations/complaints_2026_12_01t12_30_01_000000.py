"""An index on who opened a dispute: a party's disputes (candidate, mentor or opener) are
read through the three indexes at once instead of a scan of every dispute."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T12:30:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Index dispute.opened_by (a party's disputes without a full scan)."

STATEMENTS = ("CREATE INDEX dispute_opened_by ON dispute (opened_by)",)


async def create_indexes():
    engine = engine_finder()
    for statement in STATEMENTS:
        await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)
    manager.add_raw(create_indexes)
    return manager
