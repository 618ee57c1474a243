"""Consent history and receipts append-only at the database; the lookup index of the permission check.

A separate migration because Piccolo runs raw steps before the table steps of the same
migration. The trigger function is the audit app's (``governance_refuse_history_change``)
on PostgreSQL, so the refusal reads the same everywhere.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

PROTECTED = ("privacy_consent_record", "privacy_consent_receipt")

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


async def install():
    engine = engine_finder()
    # The permission check and the current view read the latest record of (subject, purpose).
    await engine.run_ddl(
        "CREATE INDEX privacy_consent_record_current ON privacy_consent_record (subject, purpose, recorded_seq)"
    )
    await engine.run_ddl(
        "CREATE INDEX privacy_retention_choice_current ON privacy_retention_choice (subject, category, recorded_seq)"
    )
    if engine.engine_type == "postgres":
        await engine.run_ddl(POSTGRES_FUNCTION)
        for table in PROTECTED:
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION governance_refuse_history_change()"
            )
            await engine.run_ddl(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_history_change()"
            )
    else:
        for table in PROTECTED:
            for operation in ("UPDATE", "DELETE"):
                await engine.run_ddl(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'consent history is append-only: {operation} on {table} refused'); END"
                )


ID = "2026-11-23T15:43:37:000000"
VERSION = "1.38.0"
DESCRIPTION = "Append-only triggers on consent records and receipts; the current-consent index."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="privacy", description=DESCRIPTION)
    manager.add_raw(install)
    return manager
