"""The queue of entries waiting for the sequencer (see :mod:`governance.audit.sequencer`).

Made by raw statements on both engines: on SQLite the id must be ``AUTOINCREMENT``, never
reused once a row has left the queue (Piccolo's serial would reuse the largest id after a
delete), and a UNIQUE column cannot be added by ``ALTER TABLE`` there. Neither the queue nor
``audit_entry.queue_id`` is part of a leaf: the log's bytes do not change.

Guarantees, at the database: a queued entry is never changed, and leaves the queue only into
the log (a DELETE is refused unless an ``audit_entry`` row with its ``queue_id`` exists).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Audit queue: entries commit with their change; one sequencer numbers them."

COLUMNS = (
    "recorded_at {time} NOT NULL, actor_sub VARCHAR(200) NOT NULL, actor_roles TEXT NOT NULL, "
    "action VARCHAR(120) NOT NULL, resource_type VARCHAR(80) NOT NULL, resource_id VARCHAR(200), "
    "request_id VARCHAR(64), outcome VARCHAR(20) NOT NULL, details TEXT NOT NULL"
)

POSTGRES = (
    "CREATE TABLE audit_queue (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    + COLUMNS.format(time="TIMESTAMPTZ")
    + ")",
    "ALTER TABLE audit_entry ADD COLUMN queue_id BIGINT",
    "CREATE UNIQUE INDEX audit_entry_queue_id ON audit_entry (queue_id)",
    """
CREATE OR REPLACE FUNCTION governance_queue_leaves_into_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_entry WHERE queue_id = OLD.id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit history is append-only: % on audit_queue refused (a queued entry leaves only into the log)',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
""",
    "CREATE TRIGGER audit_queue_into_log BEFORE UPDATE OR DELETE ON audit_queue "
    "FOR EACH ROW EXECUTE FUNCTION governance_queue_leaves_into_log()",
    "CREATE TRIGGER audit_queue_no_truncate BEFORE TRUNCATE ON audit_queue "
    "FOR EACH STATEMENT EXECUTE FUNCTION governance_refuse_history_change()",
)

SQLITE = (
    "CREATE TABLE audit_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, " + COLUMNS.format(time="TIMESTAMPTZ") + ")",
    "ALTER TABLE audit_entry ADD COLUMN queue_id BIGINT",
    "CREATE UNIQUE INDEX audit_entry_queue_id ON audit_entry (queue_id)",
    "CREATE TRIGGER audit_queue_no_update BEFORE UPDATE ON audit_queue "
    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: UPDATE on audit_queue refused'); END",
    "CREATE TRIGGER audit_queue_into_log BEFORE DELETE ON audit_queue "
    "WHEN NOT EXISTS (SELECT 1 FROM audit_entry WHERE queue_id = OLD.id) "
    "BEGIN SELECT RAISE(ABORT, 'audit history is append-only: DELETE on audit_queue refused "
    "(a queued entry leaves only into the log)'); END",
)


async def create_queue():
    engine = engine_finder()
    for statement in POSTGRES if engine.engine_type == "postgres" else SQLITE:
        await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)
    manager.add_raw(create_queue)
    return manager
