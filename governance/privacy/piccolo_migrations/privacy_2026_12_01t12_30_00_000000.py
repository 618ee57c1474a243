"""The database counts every change to the tables a period summary counts, so that a summary
kept in a process is never served after one (see governance.privacy.summary)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from governance.core.cache import count_changes

ID = "2026-12-01T12:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Change counting triggers on consent records and data requests (summary cache)."

# As governance.privacy.summary names them; written out, as a migration never changes.
TOPIC = "privacy-summary"
TABLES = ("privacy_consent_record", "privacy_data_request")


async def count_summary_changes():
    await count_changes(TOPIC, TABLES)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="privacy", description=DESCRIPTION)
    manager.add_raw(count_summary_changes)
    return manager
