"""Consent history and receipts append-only at the database; the lookup index of the permission check.

A separate migration because Piccolo runs raw steps before the table steps of the same
migration. The triggers are the ones every append-only history uses
(``governance.core.db.make_append_only``).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from governance.core.db import make_append_only

PROTECTED = ("privacy_consent_record", "privacy_consent_receipt")


async def install():
    engine = engine_finder()
    # The permission check and the current view read the latest record of (subject, purpose).
    await engine.run_ddl(
        "CREATE INDEX privacy_consent_record_current ON privacy_consent_record (subject, purpose, recorded_seq)"
    )
    await engine.run_ddl(
        "CREATE INDEX privacy_retention_choice_current ON privacy_retention_choice (subject, category, recorded_seq)"
    )
    await make_append_only(PROTECTED, history="consent")


ID = "2026-11-23T15:43:37:000000"
VERSION = "1.38.0"
DESCRIPTION = "Append-only triggers on consent records and receipts; the current-consent index."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="privacy", description=DESCRIPTION)
    manager.add_raw(install)
    return manager
