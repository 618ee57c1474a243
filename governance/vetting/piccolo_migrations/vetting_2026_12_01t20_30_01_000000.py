"""A check's own version (its ETag, added by the previous migration), bumped by every change.

It was the sequence number of the check's latest audit entry, which a change no longer
learns while it commits. Existing checks start from that number, so an ETag served before
still matches the check it was served for; each change adds one. A separate migration:
Piccolo runs raw steps before the table steps of the same migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T20:30:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Vetting checks: a version of their own, from their latest entry's sequence number."


async def start_from_latest_entry():
    await engine_finder().run_ddl("UPDATE vetting_check SET version = last_seq WHERE last_seq IS NOT NULL")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="vetting", description=DESCRIPTION)
    manager.add_raw(start_from_latest_entry)
    return manager
