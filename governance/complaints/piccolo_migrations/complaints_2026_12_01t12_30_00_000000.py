"""The database counts every change to the tables a period summary counts, so that a summary
kept in a process is never served after one (see governance.complaints.summary)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from governance.core.cache import count_changes

ID = "2026-12-01T12:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Change counting triggers on complaint, refund, dispute and attestation (summary cache)."

# As governance.complaints.summary names them; written out, as a migration never changes.
TOPIC = "complaints-summary"
TABLES = ("complaint", "refund", "dispute", "attestation")


async def count_summary_changes():
    await count_changes(TOPIC, TABLES)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="complaints", description=DESCRIPTION)
    manager.add_raw(count_summary_changes)
    return manager
