"""The policy version history is append-only like the log: triggers refuse UPDATE and DELETE.

A separate migration because Piccolo runs a migration's raw steps before its new tables.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T09:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Refuse UPDATE and DELETE on the policy version history."

TABLE = "audit_policy_version"

async def append_only():
    engine = engine_finder()
    if engine.engine_type == "postgres":
        # governance_refuse_history_change() is the log's own (first audit migration).
        await engine.run_ddl(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION governance_refuse_history_change()"
        )
        await engine.run_ddl(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_history_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            await engine.run_ddl(
                f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'audit history is append-only: {operation} on {TABLE} refused'); END"
            )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(append_only)
    return manager
