"""The sequencer: numbers queued entries, one batch at a time, so writers never wait on it.

Trillian's design. A change commits its entry in its own transaction as a row of
``audit_queue``, without a number and without taking any lock another writer needs; the
sequencer (one at a time across instances) takes the queued rows in the order their ids
were drawn, gives them the next sequence numbers, computes their leaf hashes as they were
always computed, inserts them into ``audit_entry`` and deletes them from the queue, all in
one transaction. Tree nodes and checkpoints then extend from ``audit_entry`` as before
(:func:`governance.audit.service.sign_checkpoint`).

Why a separate queue table rather than ``audit_entry`` with a nullable ``seq``: the log
table stays exactly what it was (dense ``seq`` primary key, UPDATE and DELETE refused by
triggers, the same bytes under every leaf), so nothing that verifies, exports or proves it
changes, and a queued row is never updated in place. The queue's own triggers let a row
leave only into the log: a DELETE is refused unless ``audit_entry`` holds its
``queue_id`` (unique), and UPDATE is refused outright.

Crash safety follows from the single transaction: killed before commit, the rows stay
queued and the head unmoved; after commit, they are in the log and out of the queue. No
entry is lost or numbered twice. A transaction still open when the sequencer runs is
invisible to it and is numbered by a later batch: "commit order" is the order in which
entries became visible to the sequencer, which is what a reader of the log could observe.

One sequencer at a time: an in-process lock (the only guard SQLite needs besides its write
lock, since one process serves a SQLite database) and, on PostgreSQL, a transaction-level
advisory lock, so instances take turns batch by batch and none waits for a dead one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from prometheus_client import Gauge, Histogram

from governance.audit import merkle
from governance.audit.leaf import leaf_input, normalise_time
from governance.audit.tables import AuditEntry
from governance.core import db

BATCH: Final = 500
_SEQUENCER_LOCK: Final = 0x73657175  # "sequ"
FIELDS: Final = (
    "recorded_at",
    "actor_sub",
    "actor_roles",
    "action",
    "resource_type",
    "resource_id",
    "request_id",
    "outcome",
    "details",
)

LAG: Final = Histogram(
    "governance_audit_integration_lag_seconds",
    "Time from an audit entry's recording to its integration into the numbered log",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
QUEUED: Final = Gauge("governance_audit_queue_depth", "Audit entries committed but not yet numbered")

_local_lock = db.LoopLock()


_ENQUEUE_ONE: Final = (
    f"INSERT INTO audit_queue ({', '.join(FIELDS)}) "  # noqa: S608 - column names, fixed here
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(FIELDS) + 1))}) RETURNING id"
)


async def enqueue(rows: Sequence[dict[str, Any]]) -> list[int]:
    """Queue entries (each a dict of :data:`FIELDS`) in one statement; their ids in order.

    Joins the caller's transaction when one is open (the entry of a change commits with it).
    """
    params = [row[name] for row in rows for name in FIELDS]
    connection = db.transaction_connection()
    if connection is not None and len(rows) == 1:
        # A change's one entry, on its transaction's own connection: asyncpg prepares the
        # statement once per connection, and Piccolo's query building (a tenth of the
        # change's cost at 16 writers) is skipped. Same statement, same transaction.
        return [int(await connection.fetchval(_ENQUEUE_ONE, *params))]
    columns = ", ".join(FIELDS)
    one = "(" + ", ".join("{}" for _ in FIELDS) + ")"
    values = ", ".join(one for _ in rows)
    inserted = await AuditEntry.raw(
        f"INSERT INTO audit_queue ({columns}) VALUES {values} RETURNING id",  # noqa: S608
        *params,
    )
    return [int(row["id"]) for row in inserted]


async def integrate_batch(limit: int = BATCH) -> int:
    """Number up to ``limit`` queued entries into the log, in one transaction; how many.

    Must run outside any transaction: the numbering commits on its own.
    """
    if db.in_transaction():
        raise RuntimeError("the sequencer runs outside any transaction")
    # A look without a transaction first: an idle sequencer takes no lock at all.
    if not await AuditEntry.raw("SELECT id FROM audit_queue LIMIT 1"):
        return 0
    async with _local_lock(), db.transaction():
        await _take_the_turn()
        return await _number_queued(limit)


async def _take_the_turn() -> None:
    """Take the sequencer's turn until the transaction ends (PostgreSQL; on SQLite the
    write lock the transaction already holds is the turn). Only a batch takes it: changes
    queue their entries and never wait for it."""
    if not db.is_sqlite():
        await AuditEntry.raw("SELECT pg_advisory_xact_lock({})", _SEQUENCER_LOCK)


async def _number_queued(limit: int = BATCH) -> int:
    """In the batch's transaction, holding the turn: number up to ``limit`` queued
    entries visible now, in id order; how many."""
    queued = await AuditEntry.raw(
        f"SELECT id, {', '.join(FIELDS)} FROM audit_queue ORDER BY id LIMIT {{}}",  # noqa: S608
        limit,
    )
    if not queued:
        return 0
    heads = await AuditEntry.raw(
        "UPDATE audit_head SET next_seq = next_seq + {} WHERE name = 'audit' RETURNING next_seq - {} AS first",
        len(queued),
        len(queued),
    )
    first = int(heads[0]["first"])
    params: list[Any] = []
    for offset, row in enumerate(queued):
        recorded_at = normalise_time(_aware(row["recorded_at"]))
        fields = {name: row[name] for name in FIELDS[1:]}
        leaf = merkle.leaf_hash(leaf_input(seq=first + offset, time=recorded_at, **fields))
        params += [first + offset, recorded_at, *fields.values(), leaf, int(row["id"])]
    one = "(" + ", ".join("{}" for _ in range(len(FIELDS) + 3)) + ")"
    await AuditEntry.raw(
        f"INSERT INTO audit_entry (seq, {', '.join(FIELDS)}, leaf_hash, queue_id) "  # noqa: S608
        f"VALUES {', '.join(one for _ in queued)}",
        *params,
    )
    ids = [int(row["id"]) for row in queued]
    await AuditEntry.raw(
        f"DELETE FROM audit_queue WHERE id IN ({', '.join('{}' for _ in ids)})",  # noqa: S608
        *ids,
    )
    now = datetime.now(UTC)
    for row in queued:
        LAG.observe(max(0.0, (now - _aware(row["recorded_at"])).total_seconds()))
    return len(queued)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def catch_up() -> int:
    """Number every entry queued so far (committed before this call); how many were numbered.

    Outside a transaction only; inside one it does nothing (the caller's own queued entries
    are not committed yet, and numbering must not join its transaction).
    """
    if db.in_transaction():
        return 0
    total = 0
    while count := await integrate_batch():
        total += count
        if count < BATCH:
            break
    return total


async def job() -> None:
    """The serving instance's sequencer round (GOVERNANCE_SEQUENCER_INTERVAL): number what is
    queued, then report what is left (the ``governance_audit_queue_depth`` gauge)."""
    await catch_up()
    await queue_depth()


async def queue_depth() -> int:
    rows = await AuditEntry.raw("SELECT count(*) AS n FROM audit_queue")
    depth = int(rows[0]["n"])
    QUEUED.set(depth)
    return depth


async def sequence_of(entry_id: int) -> int | None:
    """The sequence number the entry queued as ``entry_id`` was given; None while queued."""
    rows = await AuditEntry.raw("SELECT seq FROM audit_entry WHERE queue_id = {}", entry_id)
    return int(rows[0]["seq"]) if rows else None


async def sequenced(entry_id: int, within: float = 10.0) -> int:
    """Wait until the entry queued as ``entry_id`` is numbered (numbering it when no
    sequencer runs here); its sequence number. TimeoutError after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        seq = await sequence_of(entry_id)
        if seq is not None:
            return seq
        if time.monotonic() > deadline:
            raise TimeoutError(f"audit entry {entry_id} was not numbered within {within} s")
        if not await catch_up():
            await asyncio.sleep(0.01)


async def sequences_of(entry_ids: Sequence[int]) -> dict[int, int]:
    """The sequence numbers given so far to the entries queued as ``entry_ids``, by entry id
    (an entry still queued is absent). One query per 500 ids."""
    found: dict[int, int] = {}
    unique = sorted(set(entry_ids))
    for start in range(0, len(unique), BATCH):
        chunk = unique[start : start + BATCH]
        rows = await AuditEntry.raw(
            f"SELECT queue_id, seq FROM audit_entry WHERE queue_id IN ({', '.join('{}' for _ in chunk)})",  # noqa: S608
            *chunk,
        )
        found.update((int(row["queue_id"]), int(row["seq"])) for row in rows)
    return found
