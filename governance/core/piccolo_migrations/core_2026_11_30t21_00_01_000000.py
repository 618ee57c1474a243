"""Responses stored in clear before bodies were sealed: keep who and what they show, drop the plaintext.

A migration cannot seal them (the master key is not its to hold), and a stored response
outlives an erasure; so the personal ones give up their body. A replay of such a key
answers the record as it reads now (``governance.core.idempotency``), and is still a
replay: the work is not done twice. A separate migration because Piccolo runs raw steps
before the table steps of the same migration.
"""

import json

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

ID = "2026-11-30T21:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "Drop the plaintext of stored responses that hold personal data."

# Scope (or scope prefix) -> the member naming the subject whose personal data the body holds.
PERSONAL_SCOPES = (
    ("refunds.create", "mentee_id"),
    ("vetting.decisions.propose:", "mentor_id"),
    ("vetting.decisions.confirm:", "mentor_id"),
)


def _subject_member(scope):
    for prefix, member in PERSONAL_SCOPES:
        if scope == prefix or (prefix.endswith(":") and scope.startswith(prefix)):
            return member
    return None


async def drop_plaintext():
    engine = engine_finder()
    rows = await engine.run_querystring(
        QueryString(
            "SELECT key_hash, scope, response_body FROM idempotency_key "
            "WHERE response_body IS NOT NULL AND subject IS NULL"
        )
    )
    for row in rows:
        member = _subject_member(row["scope"])
        if member is None:
            continue
        body = json.loads(row["response_body"])
        await engine.run_querystring(
            QueryString(
                "UPDATE idempotency_key SET subject = {}, record_id = {}, response_body = NULL WHERE key_hash = {}",
                str(body[member]),
                str(body["id"]),
                row["key_hash"],
            )
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)
    manager.add_raw(drop_plaintext)
    return manager
