"""Composite indexes for the complaint list and the SLA scan (both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T15:23:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for listing complaints by state and breach, newest first."

STATEMENTS = (
    "CREATE INDEX complaint_list_state ON complaint (state, breached, received_at, id)",
    "CREATE INDEX complaint_list_all ON complaint (received_at, id)",
)


async def create_indexes():
    engine = engine_finder()
    for statement in STATEMENTS:
        await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)
    manager.add_raw(create_indexes)
    return manager
