"""Verification of the whole log, from one consistent snapshot of the database.

Every leaf hash is recomputed from the stored columns, the tree is rebuilt, and its root
is compared with every stored checkpoint, whose signature is checked too. The rows are
read with the bare driver (asyncpg on PostgreSQL, the standard library's sqlite3 in a
thread on SQLite) inside one read-only snapshot, so appends that commit meanwhile
neither slow the pass down nor make a healthy log look truncated.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import sqlite3
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import anyio.to_thread
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from governance.audit import entry_ranges, merkle, note
from governance.audit.cosignature import CosignerKey
from governance.audit.entry_ranges import RangeCheck, RangeJob, RangeResult
from governance.audit.keys import KeyHistory
from governance.audit.schemas import Verification
from governance.core import db
from governance.core.rows import Row, typed_all

BATCH: Final = entry_ranges.BATCH
COLUMNS: Final = entry_ranges.COLUMNS
# A worker process costs about a quarter of a second to start, the time it takes to check
# some 50,000 entries: below twice that per process, fewer processes finish sooner.
MIN_ENTRIES_PER_PROCESS: Final = 100_000
MAX_PROCESSES: Final = 8
HEAD_SQL: Final = "SELECT next_seq FROM audit_head WHERE name = 'audit'"
BEYOND_HEAD_SQL: Final = "SELECT count(*) FROM audit_entry WHERE seq >= {}"
CHECKPOINTS_SQL: Final = "SELECT tree_size, note, link FROM audit_checkpoint ORDER BY tree_size"
COSIGNATURES_SQL: Final = "SELECT witness, checkpoint, cosignature FROM audit_cosignature ORDER BY tree_size"

LINK_HEADER: Final = "governance audit checkpoint link/v1"
NO_PREVIOUS: Final = "-"


def note_digest(text: str) -> str:
    """base64(SHA-256(text)): how a link names a signed note."""
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def link_body(number: int, size: int, checkpoint_note: str, previous_note: str | None) -> str:
    """The text of a checkpoint's link: its number (0 for the first stored checkpoint), its
    size, the digest of its signed note and of the one stored before it. Signed by the log
    key as a note of its own, so that the checkpoint stays a plain tlog-checkpoint that
    witnesses and tools read as is (c2sp.org/tlog-checkpoint discourages extension lines).
    The second line is not a decimal: a link never parses as a checkpoint."""
    previous = NO_PREVIOUS if previous_note is None else note_digest(previous_note)
    return (
        f"{LINK_HEADER}\nnumber {number}\nsize {size}\ncheckpoint {note_digest(checkpoint_note)}\nprevious {previous}\n"
    )


@dataclass(frozen=True, slots=True)
class Link:
    number: int
    size: int
    checkpoint: str
    previous: str


def open_link(link: str, verifier: note.VerifierKey) -> Link:
    """A stored link, its signature checked; NoteError if it is not one the log key signed."""
    lines = note.open_note(link, verifier).split("\n")
    fields = dict(line.split(" ", 1) for line in lines[1:-1] if " " in line)
    if len(lines) != 6 or lines[0] != LINK_HEADER or set(fields) != {"number", "size", "checkpoint", "previous"}:
        raise note.NoteError("malformed checkpoint link")
    if not fields["number"].isdigit() or not fields["size"].isdigit():
        raise note.NoteError("malformed checkpoint link")
    return Link(int(fields["number"]), int(fields["size"]), fields["checkpoint"], fields["previous"])


class _Signed(Row):
    """A stored checkpoint as verification reads it: the size it claims, its signed note and
    the signed link that numbers it (empty before numbering began)."""

    tree_size: int
    note: str
    link: str = ""


@dataclass(frozen=True, slots=True)
class _Cosigned:
    """A checkpoint a trusted witness cosigned: the entries must still hash to its root."""

    size: int
    root: bytes
    witness: str
    timestamp: int


class VerificationPass:
    """One pass: every leaf recomputed, the root compared at every checkpoint.

    The entries are checked in contiguous ranges (:mod:`governance.audit.entry_ranges`),
    here or by worker processes, as the bare driver reads them (a sequence of
    :data:`COLUMNS` per row: at hundreds of thousands of rows, a conversion each would
    cost as much as the hashing); :meth:`join` takes each range in, in order.
    """

    def __init__(
        self,
        keys: KeyHistory | note.VerifierKey,
        checkpoints: Sequence[Mapping[str, Any]],
        saved: note.Checkpoint | None = None,
        witnesses: Sequence[CosignerKey] = (),
        cosignatures: Sequence[Mapping[str, Any]] = (),
        *,
        every_witness: bool = True,
    ) -> None:
        self.keys = keys if isinstance(keys, KeyHistory) else KeyHistory(current=keys)
        self.verifier = self.keys.current
        self.builder = merkle.TreeBuilder()
        signed = typed_all((dict(row) for row in checkpoints), _Signed)
        self.pending = deque(sorted(signed, key=lambda c: c.tree_size))
        self.checked = 0
        self.first_bad_seq: int | None = None
        self.first_bad_checkpoint: int | None = None
        self.last_good_checkpoint = 0
        self.problems: list[str] = []
        # The chain of stored checkpoints: how many came before, the last one's note, and
        # whether numbering has begun (checkpoints signed before it have no link).
        self.position = 0
        self.previous_note: str | None = None
        self.numbered = False
        # A checkpoint kept outside the database (`audit verify --since`): the log must still
        # hash to its root at its size, and still store it.
        self.saved = saved
        if saved is not None and saved.size not in {c.tree_size for c in signed}:
            self.bad_checkpoint(saved.size, f"the checkpoint saved earlier (size {saved.size}) is no longer stored")
        self.cosigned = deque(self._cosigned(witnesses, cosignatures, every_witness))
        self.last_agreed = 0
        self.checkpoints_due()

    def _cosigned(
        self, witnesses: Sequence[CosignerKey], rows: Sequence[Mapping[str, Any]], every_witness: bool
    ) -> list[_Cosigned]:
        """The stored cosignatures by the trusted witnesses that verify, smallest size first.
        With ``every_witness``, a trusted witness with none is a problem: its evidence was
        removed, or never came."""
        cosigned: list[_Cosigned] = []
        by_key = {key.encode(): key for key in witnesses}
        seen: set[str] = set()
        for row in rows:
            key = by_key.get(row["witness"])
            if key is None:
                continue
            try:
                timestamp = key.open(row["checkpoint"], row["cosignature"])
                checkpoint = note.parse_checkpoint(row["checkpoint"])
            except note.NoteError as exc:
                self.problems.append(f"a stored cosignature by witness {key.name} does not verify ({exc})")
                continue
            if checkpoint.origin != self.verifier.name:
                self.problems.append(f"witness {key.name} cosigned a checkpoint of another log ({checkpoint.origin!r})")
                continue
            seen.add(key.name)
            cosigned.append(_Cosigned(checkpoint.size, checkpoint.root, key.name, timestamp))
        for key in witnesses if every_witness else ():
            if key.name not in seen:
                self.problems.append(f"no stored checkpoint carries a valid cosignature by witness {key.name}")
        return sorted(cosigned, key=lambda c: c.size)

    def bad_seq(self, seq: int, problem: str) -> None:
        if self.first_bad_seq is None:
            self.first_bad_seq = seq
        self.problems.append(problem)

    def due_sizes(self) -> list[int]:
        """The sizes at which the tree's root is still to be compared: checkpoints stored,
        cosigned or saved (what a range reports the cover of, see :class:`RangeResult`)."""
        sizes = {c.tree_size for c in self.pending} | {c.size for c in self.cosigned}
        if self.saved is not None:
            sizes.add(self.saved.size)
        return sorted(size for size in sizes if size > self.builder.size)

    def leaves(self, rows: Sequence[Sequence[Any]]) -> bool:
        """Check a batch of rows (each :data:`COLUMNS` in order) that follows the entries
        checked so far; False once an entry is missing (positions after a gap mean nothing)."""
        check = RangeCheck(self.builder.size, self.builder.size + len(rows), self.due_sizes())
        check.feed(rows)
        return self.join(check.result())

    def join(self, done: RangeResult) -> bool:
        """Take in a range checked here or in a worker process, in the order a single pass
        would have met them: each entry's problems, then the checkpoints due at the size
        the tree reaches with it. False once an entry is missing: later ranges mean nothing."""
        if done.start != self.builder.size:
            raise ValueError(f"range from {done.start} joined at size {self.builder.size}")
        problems = iter(done.problems)
        problem = next(problems, None)
        whole = self.builder
        cover: list[bytes] = []
        for size, kept, hashes in done.due:
            while problem is not None and problem[0] < size:
                self.bad_seq(*problem)
                problem = next(problems, None)
            cover = cover[:kept] + hashes
            self.builder = whole.copy()  # the tree at this size, for the checks below
            entry_ranges.extend_with_cover(self.builder, size, cover)
            self.checkpoints_due()
        while problem is not None:
            self.bad_seq(*problem)
            problem = next(problems, None)
        self.builder = whole
        entry_ranges.extend_with_cover(whole, done.end, done.cover)
        return done.end == done.stop

    def checkpoints_due(self) -> None:
        """Check every checkpoint signed at the size the tree has now (size 0 included), and
        the saved one when the tree reaches its size."""
        while self.pending and self.pending[0].tree_size == self.builder.size:
            self.checkpoint(self.pending.popleft())
        while self.cosigned and self.cosigned[0].size == self.builder.size:
            self.witnessed(self.cosigned.popleft())
        saved = self.saved
        if saved is not None and saved.size == self.builder.size:
            if not hmac.compare_digest(saved.root, self.builder.root()):
                self.bad_checkpoint(
                    saved.size,
                    f"the checkpoint saved earlier (size {saved.size}): the entries no longer hash to its root "
                    "(history was rewritten)",
                )
            self.saved = None

    def chain(self, stored: _Signed) -> None:
        """Each checkpoint is numbered after, and linked to, the one stored before it: a
        deleted, replaced or inserted checkpoint breaks the chain."""
        size, position, previous = stored.tree_size, self.position, self.previous_note
        self.position += 1
        self.previous_note = stored.note
        if not stored.link:
            if self.numbered:
                self.bad_checkpoint(size, f"checkpoint at size {size} has no number, though those before it have")
            return
        self.numbered = True
        verifier = self.keys.for_size(size)
        if verifier is None:
            return  # reported by checkpoint(): no key was valid for this size
        try:
            link = open_link(stored.link, verifier)
        except note.NoteError as exc:
            self.bad_checkpoint(size, f"checkpoint at size {size}: its link does not verify ({exc})")
            return
        expected_previous = NO_PREVIOUS if previous is None else note_digest(previous)
        if link.size != size or link.checkpoint != note_digest(stored.note):
            self.bad_checkpoint(size, f"checkpoint at size {size}: its link names another checkpoint")
        elif link.number > position:
            self.bad_checkpoint(
                size,
                f"checkpoint at size {size} is number {link.number}, but only {position} are stored before it: "
                f"{link.number - position} checkpoint(s) were deleted",
            )
        elif link.number < position:
            self.bad_checkpoint(
                size, f"checkpoint at size {size} is number {link.number}, but {position} are stored before it"
            )
        elif link.previous != expected_previous:
            self.bad_checkpoint(
                size, f"checkpoint at size {size} does not link to the checkpoint stored before it (replaced)"
            )

    def checkpoint(self, stored: _Signed) -> None:
        size = stored.tree_size
        self.checked += 1
        self.chain(stored)
        verifier = self.keys.for_size(size)
        if verifier is None:
            self.bad_checkpoint(size, f"checkpoint at size {size}: no key of this log was valid for that size")
            return
        try:
            signed = note.parse_checkpoint(note.open_note(stored.note, verifier))
        except note.NoteError as exc:
            self.bad_checkpoint(size, f"checkpoint at size {size}: {exc}")
            return
        if signed.size != size or signed.origin != self.verifier.name:
            self.bad_checkpoint(size, f"checkpoint at size {size} signs size {signed.size} of {signed.origin!r}")
        elif not hmac.compare_digest(signed.root, self.builder.root()):
            self.bad_checkpoint(size, f"checkpoint at size {size}: the entries no longer hash to its signed root")
        elif self.first_bad_checkpoint is None:
            self.last_good_checkpoint = size

    def witnessed(self, cosigned: _Cosigned) -> None:
        """The log's history must agree with every checkpoint a witness cosigned: a witness
        keeps its own record, so a rewrite the database hides still shows here."""
        when = datetime.fromtimestamp(cosigned.timestamp, UTC).isoformat()
        if hmac.compare_digest(cosigned.root, self.builder.root()):
            self.last_agreed = cosigned.size
            return
        self.bad_checkpoint(
            cosigned.size,
            f"the log contradicts the checkpoint at size {cosigned.size} that witness {cosigned.witness} cosigned "
            f"at {when}: the first rewritten entry is among entries {self.last_agreed} to {cosigned.size - 1}",
        )
        self.last_good_checkpoint = min(self.last_good_checkpoint, self.last_agreed)

    def bad_checkpoint(self, size: int, problem: str) -> None:
        if self.first_bad_checkpoint is None:
            self.first_bad_checkpoint = size
        self.problems.append(problem)

    def finish(self, head: int, beyond_head: int = 0) -> Verification:
        """The verdict, given the number of entries the log says it holds and any stored past it."""
        if beyond_head:
            # The head was moved back to hide the newest entries from verification.
            self.bad_seq(head, f"{beyond_head} entries are stored at or after the sequence head {head}")
        if self.first_bad_seq is None and self.builder.size < head:
            self.bad_seq(self.builder.size, f"entries {self.builder.size} to {head - 1} are missing")
        if self.saved is not None:
            self.bad_checkpoint(
                self.saved.size,
                f"the log has {self.builder.size} entries, fewer than the {self.saved.size} of the checkpoint "
                "saved earlier: it was truncated",
            )
            if self.first_bad_seq is None:
                self.first_bad_seq = self.builder.size
        for cosigned in self.cosigned:  # cosigned beyond the entries: truncated, or an old backup
            self.bad_checkpoint(
                cosigned.size,
                f"the log has {self.builder.size} entries, fewer than the checkpoint at size {cosigned.size} "
                f"that witness {cosigned.witness} cosigned: it was truncated or restored from an old backup",
            )
            if self.first_bad_seq is None:
                self.first_bad_seq = self.builder.size
        for stored in self.pending:  # checkpoints beyond the entries: the log was truncated
            self.checked += 1
            self.chain(stored)
            size = stored.tree_size
            self.bad_checkpoint(size, f"checkpoint at size {size} is beyond the {self.builder.size} stored entries")
            if self.first_bad_seq is None:
                self.first_bad_seq = self.builder.size
        suspect = None
        if self.first_bad_checkpoint is not None and self.first_bad_seq is None:
            # Leaf hashes were rewritten with the entries: the edit lies in this range.
            suspect = [self.last_good_checkpoint, self.first_bad_checkpoint]
        return Verification(
            ok=not self.problems,
            size=self.builder.size,
            root=self.builder.root().hex(),
            checkpoints_checked=self.checked,
            first_bad_seq=self.first_bad_seq,
            first_bad_checkpoint=self.first_bad_checkpoint,
            suspect_range=suspect,
            problems=self.problems[:100],
        )


def worker_count(entries: int) -> int:
    """How many processes check a log of ``entries`` entries: one per CPU this process may
    use, at most :data:`MAX_PROCESSES`, each with at least :data:`MIN_ENTRIES_PER_PROCESS`."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cpus, MAX_PROCESSES, entries // MIN_ENTRIES_PER_PROCESS))


def split(head: int, processes: int) -> list[tuple[int, int]]:
    """``[0, head)`` in ``processes`` contiguous ranges of nearly equal size (fewer when
    there are fewer entries; one, empty, for an empty log)."""
    count = max(1, min(processes, head))
    bounds = [head * k // count for k in range(count + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(count)]


def _within(sizes: list[int], start: int, stop: int) -> list[int]:
    return [size for size in sizes if start < size <= stop]


async def verify(
    verifier: KeyHistory | note.VerifierKey,
    saved: note.Checkpoint | None = None,
    witnesses: Sequence[CosignerKey] = (),
    *,
    every_witness: bool = True,
    processes: int | None = None,
) -> Verification:
    """Verify every entry and checkpoint the database held at one instant.

    An edited entry is reported by sequence number; an edit whose leaf hash was rewritten
    too is caught by the first checkpoint whose signed root no longer matches; deleted or
    reordered entries and forged checkpoints make ``ok`` false.

    A large log is checked by several processes, each a range of entries
    (:func:`worker_count` of them unless ``processes`` says how many); the verdict is the
    same, problems and their order included.
    """
    engine = db.engine()
    if isinstance(engine, PostgresEngine):
        return await _verify_postgres(engine, verifier, saved, witnesses, every_witness, processes)
    if isinstance(engine, SQLiteEngine):
        return await anyio.to_thread.run_sync(
            _verify_sqlite, str(engine.path), verifier, saved, witnesses, every_witness, processes
        )
    raise TypeError(f"unsupported engine {engine.engine_type}")  # pragma: no cover


async def _verify_postgres(
    engine: PostgresEngine,
    verifier: KeyHistory | note.VerifierKey,
    saved: note.Checkpoint | None,
    witnesses: Sequence[CosignerKey],
    every_witness: bool,
    processes: int | None,
) -> Verification:
    connection = await (engine.pool.acquire() if engine.pool else engine.get_new_connection())
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            head = int(await connection.fetchval(HEAD_SQL))
            cosignatures = await connection.fetch(COSIGNATURES_SQL) if witnesses else []
            checkpoints = await connection.fetch(CHECKPOINTS_SQL)
            state = VerificationPass(verifier, checkpoints, saved, witnesses, cosignatures, every_witness=every_witness)
            (first, first_stop), *others = split(head, processes or worker_count(head))
            due = state.due_sizes()
            # The workers read the rows this transaction sees, and no others.
            snapshot = str(await connection.fetchval("SELECT pg_export_snapshot()")) if others else None
            dsn = str(engine.config["dsn"])

            async def here() -> RangeResult:
                """The first range, on this connection."""
                check = RangeCheck(first, first_stop, due)
                await entry_ranges.feed_from_postgres(connection, check, head)
                return check.result()

            async with asyncio.TaskGroup() as group:
                workers = [
                    group.create_task(
                        entry_ranges.run_worker(
                            RangeJob(start, stop, head, _within(due, start, stop), "postgres", dsn, snapshot)
                        )
                    )
                    for start, stop in others
                ]
                mine = group.create_task(here())
            for result in (mine.result(), *(worker.result() for worker in workers)):
                if not state.join(result):
                    break
            beyond = int(await connection.fetchval(BEYOND_HEAD_SQL.format("$1"), head))
    finally:
        if engine.pool:
            await engine.pool.release(connection)
        else:
            await connection.close()
    return state.finish(head, beyond)


def _verify_sqlite(
    path: str,
    verifier: KeyHistory | note.VerifierKey,
    saved: note.Checkpoint | None,
    witnesses: Sequence[CosignerKey],
    every_witness: bool,
    processes: int | None,
) -> Verification:
    # PARSE_DECLTYPES: Piccolo registered the converters that turn TIMESTAMPTZ into datetimes.
    connection = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None)
    connection.row_factory = sqlite3.Row
    workers: list[Any] = []
    try:
        connection.execute("BEGIN")  # one read snapshot (WAL) for everything below
        head = int(connection.execute(HEAD_SQL).fetchone()[0])
        cosignatures = connection.execute(COSIGNATURES_SQL).fetchall() if witnesses else []
        state = VerificationPass(
            verifier,
            connection.execute(CHECKPOINTS_SQL).fetchall(),
            saved,
            witnesses,
            cosignatures,
            every_witness=every_witness,
        )
        (first, first_stop), *others = split(head, processes or worker_count(head))
        due = state.due_sizes()
        # SQLite cannot share a snapshot between connections. A worker reads entries below
        # the head read here, which appends never touch: only a rewrite during the pass
        # could make its rows differ from this snapshot's, and it is a rewrite either way.
        workers = [
            entry_ranges.start_worker(RangeJob(start, stop, head, _within(due, start, stop), "sqlite", path))
            for start, stop in others
        ]
        connection.row_factory = None  # plain tuples: the rows are read by position
        check = RangeCheck(first, first_stop, due)
        cursor = connection.execute(entry_ranges.RANGE_SQL_SQLITE, entry_ranges.bounds(first, first_stop, head))
        while (rows := cursor.fetchmany(BATCH)) and check.feed(rows):
            pass
        results = [check.result(), *(entry_ranges.collect(worker) for worker in workers)]
        workers = []
        for result in results:
            if not state.join(result):
                break
        beyond = int(connection.execute(BEYOND_HEAD_SQL.format("?"), (head,)).fetchone()[0])
        connection.execute("COMMIT")
    finally:
        for worker in workers:  # failed before collecting them
            worker.kill()
            worker.wait()
        connection.close()
    return state.finish(head, beyond)
