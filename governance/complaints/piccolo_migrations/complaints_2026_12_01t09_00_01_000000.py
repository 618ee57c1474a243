"""Open complaints start with the resolve deadline they have now (a resolved one's is lost)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T09:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Complaints: fill the kept resolve deadline from the pending one."


async def backfill():
    await engine_finder().run_ddl(
        "UPDATE complaint SET resolve_deadline_at = resolve_due_at "
        "WHERE resolve_deadline_at IS NULL AND resolve_due_at IS NOT NULL"
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)
    manager.add_raw(backfill)
    return manager
