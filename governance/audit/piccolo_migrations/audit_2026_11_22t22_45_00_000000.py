"""Make the audit history append-only at the database and seed the sequence head.

A separate migration because Piccolo runs raw steps before the table steps of the same
migration.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

# Append-only at the database: the service never updates or deletes history, and a
# direct UPDATE, DELETE (or TRUNCATE on PostgreSQL) is refused too.
PROTECTED = ("audit_entry", "audit_checkpoint")

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_refuse_history_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


async def install_append_only_triggers():
    engine = engine_finder()
    await engine.run_ddl("INSERT INTO audit_head (name, next_seq) VALUES ('audit', 0)")
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
                    f"BEGIN SELECT RAISE(ABORT, 'audit history is append-only: {operation} on {table} refused'); END"
                )


ID = "2026-11-22T22:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Append-only triggers on audit_entry and audit_checkpoint; the sequence head row."


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(install_append_only_triggers)
    return manager
