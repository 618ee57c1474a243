"""Recomputing the leaves of one range of audit entries, in the verifying process or in a worker.

A leaf hash depends on its entry alone, so verification of a large log splits the entries
into contiguous ranges and checks each in its own process: Python hashes and encodes one
row at a time under the GIL, so threads would not share the work. Every process reads its
range inside the same database snapshot on PostgreSQL (``pg_export_snapshot``).

A range reports what the pass over the whole log needs from it, in order: the problems of
its entries (by sequence number), the hashes covering every prefix of the range at which a
checkpoint is checked, and those covering the whole range, as :func:`governance.audit.tree.cover`
splits a range into complete subtrees. :class:`~governance.audit.verification.VerificationPass`
joins the ranges, so the verdict, the problems and their order are the ones a single pass
gives.

Run as ``python -m governance.audit.entry_ranges`` this module is a worker: a
:class:`RangeJob` on stdin, its :class:`RangeResult` on stdout, both MessagePack. It
imports only msgspec, the leaf encoding and the database driver, so it starts quickly.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any, Final

import msgspec

from governance.audit import merkle, tree
from governance.audit.leaf import (
    LEAF_HASH_INPUT,
    VERSION_JSON,
    decode_json,
    encode_json,
    encode_sorted_json,
    normalise_time,
    roles_are_canonical,
)

COLUMNS: Final = (
    "seq, recorded_at, actor_sub, actor_roles, action, resource_type, resource_id, request_id, outcome, "
    "details, leaf_hash"
)
BATCH: Final = 5000
# A verification report lists the first 100 problems; a range keeps no more than that.
MAX_PROBLEMS: Final = 100
# The rows of a range, and the one stored after it: after a missing entry, the message
# names the next stored one, wherever it is. SQLite's placeholders are ``?``.
RANGE_SQL: Final = f"SELECT {COLUMNS} FROM audit_entry WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3"  # noqa: S608
RANGE_SQL_SQLITE: Final = RANGE_SQL.replace("$1", "?").replace("$2", "?").replace("$3", "?")
_SNAPSHOT_ID: Final = re.compile(r"[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+")

_NODE_CTX: Final = hashlib.sha256(b"\x01")


class RangeJob(msgspec.Struct, frozen=True):
    """Check the entries ``[start, stop)`` of a log whose head is ``head``; ``due``: the
    sizes in ``(start, stop]`` at which the tree's root is wanted (checkpoints)."""

    start: int
    stop: int
    head: int
    due: list[int]
    backend: str  # "postgres" (database: a DSN) or "sqlite" (database: the file)
    database: str
    snapshot: str | None = None  # PostgreSQL: the verifying transaction's exported snapshot


class RangeResult(msgspec.Struct):
    """What one range contributes to the verdict. ``end`` is ``stop`` when every entry of
    the range is stored, else the first missing one. ``cover``: the hashes of the complete
    subtrees covering ``[start, end)``; ``due``: the same for ``[start, size)`` at each due
    size reached, in order, as ``(size, kept, hashes)``: the first ``kept`` hashes of the
    previous due size's cover, then ``hashes`` (consecutive covers share their left part,
    and a log signed every few seconds has millions of checkpoints). ``problems``:
    (sequence number, problem), the first :data:`MAX_PROBLEMS`."""

    start: int
    stop: int
    end: int
    cover: list[bytes]
    due: list[tuple[int, int, list[bytes]]]
    problems: list[tuple[int, str]]


class RangeCheck:
    """One range's pass, fed the stored rows in order (each a sequence of :data:`COLUMNS`)."""

    def __init__(self, start: int, stop: int, due: Iterable[int]) -> None:
        self.start = start
        self.stop = stop
        self.position = start
        self.stack: list[bytes] = []
        self.due = sorted(size for size in set(due) if start < size <= stop)
        self.next = 0  # index in due of the next size to reach
        self.reached: list[tuple[int, int, list[bytes]]] = []
        self.unchanged = 0  # how much of the stack is as it was at the last due size
        self.problems: list[tuple[int, str]] = []
        self.done = start >= stop

    def feed(self, rows: Sequence[Sequence[Any]]) -> bool:
        """Check a batch; False once the range is done (complete, or an entry is missing)."""
        if self.done:
            return False
        start, stop, stack, problems = self.start, self.stop, self.stack, self.problems
        position = self.position
        due, reached, unchanged, index = self.due, self.reached, self.unchanged, self.next
        next_due = due[index] if index < len(due) else -1
        push, pop = stack.append, stack.pop
        node_ctx, sha256 = _NODE_CTX.copy, hashlib.sha256
        roles_ok, template, version = roles_are_canonical, LEAF_HASH_INPUT, VERSION_JSON
        encode, decode, encode_sorted, decode_error = encode_json, decode_json, encode_sorted_json, msgspec.DecodeError
        try:
            for row in rows:
                if position == stop:  # the row stored after the range: the next range's
                    self.done = True
                    return False
                seq, at, sub, roles, action, kind, resource_id, request_id, outcome, details, stored = row
                if seq != position:
                    if len(problems) < MAX_PROBLEMS:
                        problems.append((position, f"entry {position} is missing (next stored entry is {seq})"))
                    self.done = True
                    return False
                # entry_leaf_input inline (a call per row counts here), with the 0x00 prefix.
                if at.tzinfo is not UTC:
                    at = normalise_time(at)
                details_json = details.encode()
                computed = sha256(
                    template
                    % (
                        encode(action),
                        roles.encode(),
                        encode(sub),
                        details_json,
                        encode(outcome),
                        encode(request_id),
                        encode(resource_id),
                        encode(kind),
                        encode(seq),
                        encode(at),
                        version,
                    )
                ).digest()
                problem = None
                if computed != bytes(stored):
                    problem = f"entry {seq} does not match its leaf hash (edited)"
                else:
                    # Stored JSON is embedded verbatim in the leaf; only canonical JSON of the right
                    # shape keeps one leaf input from standing for two different rows. For the
                    # details, leaf.details_are_canonical inline, on the bytes encoded above.
                    try:
                        value = decode(details_json)
                    except decode_error:
                        value = None
                    if not roles_ok(roles) or not (isinstance(value, dict) and encode_sorted(value) == details_json):
                        problem = f"entry {seq} holds non-canonical roles or details (edited)"
                if problem is not None and len(problems) < MAX_PROBLEMS:
                    problems.append((seq, problem))
                # The stack is the cover of [start, position + 1): merge with the subtree to the
                # left while the merged one is aligned (a trailing 1-bit of the position) and
                # still starts inside the range.
                h, n, width, inside = computed, position, 2, position + 1 - start
                while n & 1 and width <= inside:
                    ctx = node_ctx()
                    ctx.update(pop())
                    ctx.update(h)
                    h = ctx.digest()
                    n >>= 1
                    width <<= 1
                if len(stack) < unchanged:
                    unchanged = len(stack)
                push(h)
                position += 1
                if position == next_due:
                    reached.append((position, unchanged, stack[unchanged:]))
                    unchanged = len(stack)
                    index += 1
                    next_due = due[index] if index < len(due) else -1
            if position == stop:
                self.done = True
            return not self.done
        finally:
            self.position = position
            self.unchanged = unchanged
            self.next = index

    def result(self) -> RangeResult:
        return RangeResult(
            start=self.start,
            stop=self.stop,
            end=self.position,
            cover=list(self.stack),
            due=list(self.reached),
            problems=self.problems,
        )


def extend_with_cover(builder: merkle.TreeBuilder, end: int, cover: Sequence[bytes]) -> None:
    """Append to ``builder`` the subtrees ``cover`` covering ``[builder.size, end)``."""
    spans = tree.cover(builder.size, end) if end > builder.size else []
    if len(spans) != len(cover):
        raise ValueError(f"{len(cover)} hashes cannot cover [{builder.size}, {end})")
    for (level, _), subtree in zip(spans, cover, strict=True):
        builder.append_subtree(subtree, level)


# --- reading a range ---------------------------------------------------------------------


def check_sqlite(job: RangeJob) -> RangeResult:
    """Read and check a range from the SQLite file (in this process)."""
    # The converters Piccolo registers (TIMESTAMPTZ into an aware datetime), so that a
    # worker reads each value exactly as the verifying process does.
    import piccolo.engine.sqlite  # noqa: F401

    check = RangeCheck(job.start, job.stop, job.due)
    connection = sqlite3.connect(job.database, detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None)
    try:
        connection.execute("BEGIN")
        cursor = connection.execute(RANGE_SQL_SQLITE, bounds(job.start, job.stop, job.head))
        while (rows := cursor.fetchmany(BATCH)) and check.feed(rows):
            pass
        connection.execute("COMMIT")
    finally:
        connection.close()
    return check.result()


async def check_postgres(job: RangeJob) -> RangeResult:
    """Read and check a range on a connection of its own, in the exported snapshot."""
    import asyncpg  # here: the SQLite worker does without it

    check = RangeCheck(job.start, job.stop, job.due)
    connection = await asyncpg.connect(job.database)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            if job.snapshot is not None:
                if not _SNAPSHOT_ID.fullmatch(job.snapshot):
                    raise ValueError(f"not a snapshot id: {job.snapshot!r}")
                await connection.execute(f"SET TRANSACTION SNAPSHOT '{job.snapshot}'")
            await feed_from_postgres(connection, check, job.head)
    finally:
        await connection.close()
    return check.result()


async def feed_from_postgres(connection: Any, check: RangeCheck, head: int) -> None:
    """Feed ``check`` its range from a server-side cursor on ``connection`` (asyncpg, in a
    transaction). The server reads the next batch while a thread checks this one: the
    reading and the hashing overlap, and the event loop stays free to serve requests."""
    cursor = await connection.cursor(RANGE_SQL, *bounds(check.start, check.stop, head))
    pending = asyncio.ensure_future(cursor.fetch(BATCH))
    try:
        while rows := await pending:
            pending = asyncio.ensure_future(cursor.fetch(BATCH))
            if not await asyncio.to_thread(check.feed, rows):
                break
    finally:
        # The connection takes one statement at a time: let a fetch still running end.
        if not pending.done():
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # a failure after the last batch used is of no interest


def bounds(start: int, stop: int, head: int) -> tuple[int, int, int]:
    """The parameters of :data:`RANGE_SQL` for the range ``[start, stop)`` of a log whose head is ``head``."""
    return start, head, stop - start + 1


# --- workers -----------------------------------------------------------------------------


def _command() -> tuple[list[str], dict[str, str]]:
    """``python -m governance.audit.entry_ranges``, able to import this very package."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "governance.audit.entry_ranges"], env


def _decoded(returncode: int, stdout: bytes, stderr: bytes) -> RangeResult:
    if returncode != 0:
        detail = stderr.decode(errors="replace")
        raise RuntimeError(f"an audit verification worker failed (exit {returncode}): {detail}")
    return msgspec.msgpack.decode(stdout, type=RangeResult)


def start_worker(job: RangeJob) -> subprocess.Popen[bytes]:
    """A worker process checking ``job`` (its job already sent); :func:`collect` reads its result."""
    command, env = _command()
    process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdin is not None
    process.stdin.write(msgspec.msgpack.encode(job))
    process.stdin.close()
    process.stdin = None  # sent: communicate() then only reads
    return process


def collect(process: subprocess.Popen[bytes]) -> RangeResult:
    """The result of a worker from :func:`start_worker` (waits for it)."""
    stdout, stderr = process.communicate()
    return _decoded(process.returncode, stdout, stderr)


async def run_worker(job: RangeJob) -> RangeResult:
    """Check ``job`` in a worker process without blocking the event loop; killed if cancelled."""
    command, env = _command()
    process = await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        stdout, stderr = await process.communicate(msgspec.msgpack.encode(job))
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    assert process.returncode is not None
    return _decoded(process.returncode, stdout, stderr)


def main() -> None:
    job = msgspec.msgpack.decode(sys.stdin.buffer.read(), type=RangeJob)
    result = check_postgres_sync(job) if job.backend == "postgres" else check_sqlite(job)
    sys.stdout.buffer.write(msgspec.msgpack.encode(result))


def check_postgres_sync(job: RangeJob) -> RangeResult:
    return asyncio.run(check_postgres(job))


if __name__ == "__main__":
    main()
