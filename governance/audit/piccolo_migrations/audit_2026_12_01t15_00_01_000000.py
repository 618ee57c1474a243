"""Cosignatures are append-only like the log (a separate migration: raw steps run before new tables)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from governance.core.db import make_append_only

ID = "2026-12-01T15:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Refuse UPDATE and DELETE on witness cosignatures."


async def append_only():
    await make_append_only(("audit_cosignature",), history="audit")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(append_only)
    return manager
