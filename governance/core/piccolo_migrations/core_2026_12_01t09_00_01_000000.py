"""One data key per (subject, scope, generation) instead of one per subject.

The unique constraint moves from ``subject`` to ``(subject, scope, generation)``, which
the keyring's ``INSERT ... ON CONFLICT`` relies on when two first writes race. SQLite
cannot drop a column's constraint, so there the table is rebuilt with the same rows. A
separate migration because Piccolo runs raw steps before the table steps of the same
migration (the columns come from the previous one).
"""

from piccolo.columns.column_types import Varchar
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

from governance.core.db import SnapshotOnlyAlter

ID = "2026-12-01T09:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Subject keys: unique per subject, scope and generation."

COLUMNS = "id, subject, wrapped_key, master_key_id, created_at, shredded_at, scope, generation, held_since"

SQLITE_TABLE = """
CREATE TABLE "subject_key_rebuilt" (
    "id" INTEGER PRIMARY KEY NOT NULL,
    "subject" VARCHAR(200) NOT NULL DEFAULT '',
    "wrapped_key" BLOB DEFAULT null,
    "master_key_id" VARCHAR(64) NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "shredded_at" TIMESTAMPTZ DEFAULT null,
    "scope" VARCHAR(200) NOT NULL DEFAULT '',
    "generation" INTEGER NOT NULL DEFAULT 1,
    "held_since" TIMESTAMPTZ DEFAULT null
)
"""


async def one_key_per_scope_and_generation():
    engine = engine_finder()
    if engine.engine_type == "postgres":
        rows = await engine.run_querystring(
            QueryString(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'subject_key'::regclass AND contype = 'u'"
            )
        )
        for row in rows:
            await engine.run_ddl(f'ALTER TABLE subject_key DROP CONSTRAINT "{row["conname"]}"')
    else:
        await engine.run_ddl(SQLITE_TABLE)
        await engine.run_ddl(f"INSERT INTO subject_key_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM subject_key")
        await engine.run_ddl("DROP TABLE subject_key")
        await engine.run_ddl("ALTER TABLE subject_key_rebuilt RENAME TO subject_key")
        await engine.run_ddl('CREATE INDEX subject_key_subject ON "subject_key" ("subject")')
    await engine.run_ddl("CREATE UNIQUE INDEX subject_key_slot ON subject_key (subject, scope, generation)")


async def forwards():
    manager = SnapshotOnlyAlter(migration_id=ID, app_name="core", description=DESCRIPTION)
    manager.add_raw(one_key_per_scope_and_generation)
    manager.alter_column(
        table_class_name="SubjectKey",
        tablename="subject_key",
        column_name="subject",
        db_column_name="subject",
        params={"unique": False},
        old_params={"unique": True},
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )
    return manager
