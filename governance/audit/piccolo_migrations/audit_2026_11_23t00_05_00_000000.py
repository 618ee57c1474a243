"""Close two gaps in the append-only guarantee.

- SQLite's ``INSERT OR REPLACE`` deletes the conflicting row without firing DELETE
  triggers: refuse an insert whose key already exists (entries), or drop it silently
  (checkpoints, so that concurrent signers' ``ON CONFLICT DO NOTHING`` keeps working).
- The sequence head may only move forward and may not be deleted: lowering it would
  hide the newest entries from verification.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T00:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Refuse REPLACE on audit tables (SQLite); the sequence head only moves forward."

POSTGRES_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_head_moves_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.next_seq < OLD.next_seq OR NEW.name <> OLD.name THEN
        RAISE EXCEPTION 'audit history is append-only: the sequence head only moves forward (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
"""

SQLITE_STATEMENTS = (
    "CREATE TRIGGER audit_entry_no_replace BEFORE INSERT ON audit_entry "
    "WHEN EXISTS (SELECT 1 FROM audit_entry WHERE seq = NEW.seq) "
    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: REPLACE on audit_entry refused'); END",
    "CREATE TRIGGER audit_checkpoint_no_replace BEFORE INSERT ON audit_checkpoint "
    "WHEN EXISTS (SELECT 1 FROM audit_checkpoint WHERE tree_size = NEW.tree_size) "
    "BEGIN SELECT RAISE(IGNORE); END",
    "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
    "WHEN NEW.next_seq < OLD.next_seq OR NEW.name <> OLD.name "
    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: the sequence head only moves forward'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: the sequence head cannot be deleted'); END",
)


async def protect_head_and_refuse_replace():
    engine = engine_finder()
    if engine.engine_type == "postgres":
        await engine.run_ddl(POSTGRES_HEAD_FUNCTION)
        await engine.run_ddl(
            "CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head "
            "FOR EACH ROW EXECUTE FUNCTION governance_head_moves_forward()"
        )
        await engine.run_ddl(
            "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
            "FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_history_change()"
        )
    else:
        for statement in SQLITE_STATEMENTS:
            await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(protect_head_and_refuse_replace)
    return manager
