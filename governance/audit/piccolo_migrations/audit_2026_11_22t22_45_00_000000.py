"""Make the audit history append-only at the database and seed the sequence head.

A separate migration because Piccolo runs raw steps before the table steps of the same
migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from governance.core.db import make_append_only

# Append-only at the database: the service never updates or deletes history, and a
# direct UPDATE, DELETE (or TRUNCATE on PostgreSQL) is refused too.
PROTECTED = ("audit_entry", "audit_checkpoint")

async def install_append_only_triggers():
    engine = engine_finder()
    await engine.run_ddl("INSERT INTO audit_head (name, next_seq) VALUES ('audit', 0)")
    await make_append_only(PROTECTED, history="audit")


ID = "2026-11-22T22:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Append-only triggers on audit_entry and audit_checkpoint; the sequence head row."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(install_append_only_triggers)
    return manager
