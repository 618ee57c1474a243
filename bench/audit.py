"""Audit log benchmark: append throughput and verification speed, each next to a raw baseline.

Run from the repository root::

    .venv/bin/python bench/audit.py                    # SQLite, then PostgreSQL when reachable
    .venv/bin/python bench/audit.py --only sqlite      # one backend

Piccolo's engine is process-wide (``governance.piccolo_conf`` reads the environment at
first import), so the parent process only prepares the databases and prints the header;
each backend runs in a child process (``--backend sqlite|postgres``) with its own
``GOVERNANCE_*`` environment. SQLite uses a fresh temporary directory; PostgreSQL uses the
dedicated database named by ``GOVERNANCE_BENCH_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/governance_bench``), dropped and re-created at
the start and dropped at the end.

Every figure is the median of ``--repeats`` runs (3 by default), each started after a
``gc.collect()``; audited and baseline runs are interleaved so that drift (caches,
autovacuum, WAL growth) affects both alike. See bench/README.md for what each line means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import io
import itertools
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
import asyncpg
from harness import (
    POOL_SIZE,
    backend_arguments,
    median,
    out,
    rate,
    run_backends,
    seconds,
    timed_async,
    verdict,
)

if TYPE_CHECKING:
    from governance.audit.service import LogKey
    from governance.settings import Settings

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/governance_bench"
WRITER_COUNTS = (1, 16)
WARMUP_APPENDS = 200
# Roughly the size of one audit row, so the raw baseline writes a comparable amount.
RAW_PAYLOAD = "x" * 320
ENTRY_COLUMNS = (
    "seq",
    "recorded_at",
    "actor_sub",
    "actor_roles",
    "action",
    "resource_type",
    "resource_id",
    "request_id",
    "outcome",
    "details",
    "leaf_hash",
)

Op = Callable[[int, int], Awaitable[None]]


# --- output ----------------------------------------------------------------------------


# --- timing ----------------------------------------------------------------------------


async def timed_writers(op: Op, total: int, writers: int) -> float:
    """Run ``total`` calls of ``op`` spread over ``writers`` concurrent tasks; return calls per second."""
    per_writer = total // writers

    async def writer(w: int) -> None:
        for i in range(per_writer):
            await op(w, i)

    gc.collect()
    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    elapsed = time.perf_counter() - start
    return per_writer * writers / elapsed


async def compare_rates(ops: dict[str, Op], total: int, writers: int, repeats: int) -> dict[str, list[float]]:
    """Warm every op up, then run them interleaved ``repeats`` times; rates per op name."""
    for op in ops.values():
        await timed_writers(op, max(WARMUP_APPENDS, writers * 8), writers)
    rates: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, op in ops.items():
            rates[name].append(await timed_writers(op, total, writers))
    return rates


def timed(work: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of a synchronous ``work``."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return times


# --- realistic entries -----------------------------------------------------------------

ACTIONS = (
    ("complaint.status_changed", "complaint"),
    ("vetting.check_recorded", "vetting_case"),
    ("privacy.export_requested", "privacy_request"),
    ("mentor.profile_updated", "mentor"),
)
ROLE_SETS = (("compliance_officer",), ("support_agent",), ("admin", "auditor"), ("platform",))


def entry_fields(n: int) -> dict[str, Any]:
    """The arguments of ``service.record_event`` for the n-th synthetic event (small, realistic details)."""
    action, resource_type = ACTIONS[n % len(ACTIONS)]
    return {
        "actor_sub": f"user-{n % 97:04d}",
        "actor_roles": ROLE_SETS[n % len(ROLE_SETS)],
        "action": action,
        "resource_type": resource_type,
        "resource_id": f"{resource_type}-{n:08d}",
        "request_id": f"{n:032x}",
        "outcome": "success" if n % 11 else "denied",
        "details": {
            "from": "open",
            "to": "in_review",
            "assignee": f"user-{(n * 7) % 97:04d}",
            "fields": ["status", "assignee"],
            "reason_ref": f"sha256:{hashlib.sha256(str(n).encode()).hexdigest()[:32]}",
            "attempt": n % 3,
        },
    }


# --- the child: one backend per process --------------------------------------------------


@dataclass
class Child:
    backend: str
    settings: Settings
    repeats: int
    appends: int
    entries: int
    raw_pool: asyncpg.Pool | None = None
    sqlite_conn: aiosqlite.Connection | None = None

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgres"

    def line(self, text: str) -> None:
        out(f"{self.backend:<9} {text}")


async def child_main(backend: str, repeats: int, appends: int, entries: int) -> None:
    from governance.cli import run_migrations
    from governance.core import db
    from governance.settings import Settings

    settings = Settings.from_env()
    with contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints its migration progress
        await run_migrations(settings)
    await db.start(settings)
    child = Child(backend=backend, settings=settings, repeats=repeats, appends=appends, entries=entries)
    try:
        await describe_backend(child)
        await create_raw_tables(child)
        if child.is_postgres:
            child.raw_pool = await asyncpg.create_pool(
                settings.effective_database_url, min_size=1, max_size=settings.database_pool_size
            )
        else:
            # The connection arguments Piccolo's SQLite engine uses (its converters are registered globally).
            child.sqlite_conn = await aiosqlite.connect(
                settings.sqlite_path,
                isolation_level=None,
                timeout=30,
                detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
            )
        # A sequencer runs beside the writers, as in a serving instance; stopped (the queue
        # drained) before the verification log is bulk-filled behind its back.
        sequencing = asyncio.create_task(run_sequencer())
        try:
            await bench_appends(child)
        finally:
            sequencing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sequencing
        await report_lag(child)
        await bench_verify(child)
    finally:
        if child.raw_pool is not None:
            await child.raw_pool.close()
        if child.sqlite_conn is not None:
            await child.sqlite_conn.close()
        await db.stop()


async def run_sequencer(interval: float = 0.01) -> None:
    """What the service's ``audit_sequencer`` job does (GOVERNANCE_SEQUENCER_INTERVAL)."""
    from governance.audit import sequencer

    while True:
        await sequencer.catch_up()
        await asyncio.sleep(interval)


def lag_buckets() -> list[tuple[float, float]]:
    """The integration lag histogram's cumulative buckets: (upper bound, count)."""
    from governance.audit import sequencer

    return [
        (float(sample.labels["le"]), sample.value)
        for metric in sequencer.LAG.collect()
        for sample in metric.samples
        if sample.name.endswith("_bucket")
    ]


async def report_lag(child: Child) -> None:
    """p50/p99 of the time from an entry's recording to its numbering, over every append above
    (from the governance_audit_integration_lag_seconds histogram: an upper bound per bucket)."""
    from governance.audit import sequencer

    await sequencer.catch_up()
    buckets = lag_buckets()
    total = buckets[-1][1]
    if not total:
        child.line("lag      no entry was numbered")
        return

    def quantile(fraction: float) -> str:
        bound = next(le for le, count in buckets if count >= fraction * total)
        return f"<= {bound * 1000:,.0f} ms" if bound != float("inf") else "> 30 s"

    p99 = next(le for le, count in buckets if count >= 0.99 * total)
    child.line(
        f"lag      integration lag over {total:,.0f} appends: p50 {quantile(0.5)}  p99 {quantile(0.99)}  "
        f"(target p99 <= 1 s: {'met' if p99 <= 1 else 'MISSED'})"
    )


async def describe_backend(child: Child) -> None:
    from governance.core import db

    if child.is_postgres:
        rows = await db.engine().run_ddl(
            "SELECT current_setting('server_version') AS v, current_setting('fsync') AS f, "
            "current_setting('synchronous_commit') AS s"
        )
        row = rows[0]
        child.line(f"server {row['v']}, fsync={row['f']}, synchronous_commit={row['s']}, pool={POOL_SIZE}")
    else:
        journal = await db.engine().run_ddl("PRAGMA journal_mode")
        sync = await db.engine().run_ddl("PRAGMA synchronous")
        child.line(
            f"sqlite {sqlite3.sqlite_version}, journal_mode={journal[0]['journal_mode']}, "
            f"synchronous={sync[0]['synchronous']} (2=FULL), file {child.settings.sqlite_path}"
        )


async def create_raw_tables(child: Child) -> None:
    from governance.core import db

    if child.is_postgres:
        await db.engine().run_ddl("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, payload text)")
        await db.engine().run_ddl("CREATE TABLE bench_head (name text PRIMARY KEY, next_seq bigint NOT NULL)")
        await db.engine().run_ddl("INSERT INTO bench_head VALUES ('raw', 0)")
    else:
        await db.engine().run_ddl("CREATE TABLE bench_raw (id integer PRIMARY KEY, payload text)")


def raw_table() -> Any:
    """A Piccolo table for ``bench_raw``, so raw inserts take the same engine path as the service."""
    from piccolo.columns import Text
    from piccolo.table import Table

    class BenchRaw(Table, tablename="bench_raw"):
        payload = Text()

    return BenchRaw


# --- 1 and 2: appends ------------------------------------------------------------------


def audited_op(*, change: bool = False) -> Op:
    """A standalone event (``record_event``), or with ``change`` the entry of a change
    (``record_change``, which the caller runs inside the change's transaction)."""
    from governance.audit import service
    from governance.core.identity import Identity

    record = service.record_change if change else service.record_event

    async def op(w: int, i: int) -> None:
        f = entry_fields(w * 1_000_003 + i)
        await record(
            actor=Identity(sub=f["actor_sub"], roles=f["actor_roles"]),
            action=f["action"],
            resource_type=f["resource_type"],
            resource_id=f["resource_id"],
            outcome=f["outcome"],
            details=f["details"],
            request_id=f["request_id"],
        )

    return op


def audited_in_transaction_op() -> Op:
    """A change and its audit entry committed together: the path every audited mutation takes.

    The entry is queued with the change (no sequence lock); the sequencer beside the writers
    numbers it (see the lag line).
    """
    from governance.core import db

    table = raw_table()
    record = audited_op(change=True)

    async def op(w: int, i: int) -> None:
        async with db.transaction():
            await table.raw("INSERT INTO bench_raw (payload) VALUES ({})", RAW_PAYLOAD)
            await record(w, i)

    return op


def piccolo_raw_op() -> Op:
    """INSERT + COMMIT through Piccolo's engine, in ``db.transaction()`` as the service does."""
    from governance.core import db

    table = raw_table()

    async def op(w: int, i: int) -> None:
        async with db.transaction():
            await table.raw("INSERT INTO bench_raw (payload) VALUES ({})", RAW_PAYLOAD)

    return op


def asyncpg_raw_op(pool: asyncpg.Pool) -> Op:
    async def op(w: int, i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO bench_raw (payload) VALUES ($1)", RAW_PAYLOAD)

    return op


def asyncpg_locked_op(pool: asyncpg.Pool) -> Op:
    """Diagnostic: raw asyncpg plus the service's head-row pattern (UPDATE ... RETURNING, INSERT, COMMIT)."""

    async def op(w: int, i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchval("UPDATE bench_head SET next_seq = next_seq + 1 WHERE name = 'raw' RETURNING next_seq")
            await conn.execute("INSERT INTO bench_raw (payload) VALUES ($1)", RAW_PAYLOAD)

    return op


def aiosqlite_op(conn: aiosqlite.Connection) -> Op:
    """Diagnostic: one long-lived aiosqlite connection (writers take turns), BEGIN IMMEDIATE / INSERT / COMMIT."""
    lock = asyncio.Lock()

    async def op(w: int, i: int) -> None:
        async with lock:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO bench_raw (payload) VALUES (?)", (RAW_PAYLOAD,))
            await conn.execute("COMMIT")

    return op


async def bench_appends(child: Child) -> None:
    ops: dict[str, Op] = {"audited": audited_op(), "change+entry": audited_in_transaction_op()}
    if child.is_postgres:
        assert child.raw_pool is not None
        ops["raw"] = asyncpg_raw_op(child.raw_pool)
        # Diagnostics: where the gap between audited and raw comes from.
        ops["raw+headlock"] = asyncpg_locked_op(child.raw_pool)
        ops["piccolo-raw"] = piccolo_raw_op()
    else:
        assert child.sqlite_conn is not None
        ops["raw"] = piccolo_raw_op()
        # Diagnostic: the same inserts without a new connection (and thread) per transaction.
        ops["aiosqlite-1conn"] = aiosqlite_op(child.sqlite_conn)
    for writers in WRITER_COUNTS:
        rates = await compare_rates(ops, child.appends, writers, child.repeats)
        audited, raw = median(rates["audited"]), median(rates["raw"])
        percent = 100 * audited / raw
        child.line(
            f"appends  writers={writers:<3} audited {rate(audited)}  raw {rate(raw)}  "
            f"ratio {percent:5.1f}%  {verdict(percent)}"
        )
        change = median(rates["change+entry"])
        change_percent = 100 * change / raw
        child.line(
            f"changes  writers={writers:<3} change+entry {rate(change)}  raw insert+commit {rate(raw)}  "
            f"ratio {change_percent:5.1f}%  {verdict(change_percent)}"
        )
        for name in ops:
            if name in {"audited", "raw"}:
                continue
            value = median(rates[name])
            child.line(
                f"  diag   writers={writers:<3} {name:<12} {rate(value)}  ({100 * value / raw:5.1f}% of raw, "
                f"audited is {100 * audited / value:5.1f}% of it)"
            )
        runs = "  ".join(f"{name} " + "/".join(f"{r:,.0f}" for r in values) for name, values in rates.items())
        child.line(f"  runs   writers={writers:<3} {runs}")


# --- 3: verification -------------------------------------------------------------------


def synthetic_row(seq: int, base: datetime) -> tuple[Any, ...]:
    """One audit_entry row, its leaf computed exactly as ``service.record_event`` computes it."""
    from governance.audit import merkle
    from governance.audit.leaf import canonical_json, leaf_input, normalise_time

    f = entry_fields(seq)
    recorded_at = normalise_time(base + timedelta(microseconds=seq * 1_237))
    roles_json = canonical_json(list(f["actor_roles"]))
    details_json = canonical_json(dict(f["details"]))
    leaf = merkle.leaf_hash(
        leaf_input(
            seq=seq,
            time=recorded_at,
            actor_sub=f["actor_sub"],
            actor_roles=roles_json,
            action=f["action"],
            resource_type=f["resource_type"],
            resource_id=f["resource_id"],
            request_id=f["request_id"],
            outcome=f["outcome"],
            details=details_json,
        )
    )
    return (
        seq,
        recorded_at,
        f["actor_sub"],
        roles_json,
        f["action"],
        f["resource_type"],
        f["resource_id"],
        f["request_id"],
        f["outcome"],
        details_json,
        leaf,
    )


async def insert_rows(child: Child, rows: list[tuple[Any, ...]], next_seq: int) -> None:
    """Bulk insert in one transaction and move the head, as if ``record_event`` had appended them."""
    columns = ", ".join(ENTRY_COLUMNS)
    if child.is_postgres:
        assert child.raw_pool is not None
        placeholders = ", ".join(f"${i + 1}" for i in range(len(ENTRY_COLUMNS)))
        async with child.raw_pool.acquire() as conn, conn.transaction():
            await conn.executemany(f"INSERT INTO audit_entry ({columns}) VALUES ({placeholders})", rows)
            await conn.execute("UPDATE audit_head SET next_seq = $1 WHERE name = 'audit'", next_seq)
        return
    placeholders = ", ".join("?" for _ in ENTRY_COLUMNS)
    # Piccolo's sqlite3 adapters (registered globally) store the datetimes as Piccolo does.
    conn = sqlite3.connect(child.settings.sqlite_path, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(f"INSERT INTO audit_entry ({columns}) VALUES ({placeholders})", rows)
        conn.execute("UPDATE audit_head SET next_seq = ? WHERE name = 'audit'", (next_seq,))
        conn.execute("COMMIT")
    finally:
        conn.close()


async def fill_log(child: Child, log_key: LogKey) -> tuple[int, int, float]:
    """Grow the log to ``child.entries`` with bulk inserts and a few signed checkpoints."""
    from governance.audit import service

    start = time.perf_counter()
    appended = await service.tree_size()
    await service.sign_checkpoint(log_key)  # covers the entries the append bench recorded
    base = datetime.now(UTC) - timedelta(days=30)
    target = max(child.entries, appended)
    bounds = [appended + (target - appended) * k // 4 for k in range(5)]
    for lo, hi in itertools.pairwise(bounds):
        rows = [synthetic_row(seq, base) for seq in range(lo, hi)]
        await insert_rows(child, rows, hi)
        await service.sign_checkpoint(log_key)
    return appended, await service.tree_size(), time.perf_counter() - start


async def verification_read(child: Child, head: int) -> int:
    """Read every entry below ``head`` the way ``verification.verify`` does, without checking it."""
    from governance.audit import verification
    from governance.core import db

    query = f"SELECT {verification.COLUMNS} FROM audit_entry WHERE seq < {{}} ORDER BY seq"
    engine = db.engine()
    if child.is_postgres:
        count = 0
        async with engine.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = await conn.cursor(query.replace("{}", "$1"), head)
            while rows := await cursor.fetch(verification.BATCH):
                count += len(rows)
        return count

    def read_sqlite() -> int:
        # Plain tuples, as verify reads them (the columns by position).
        conn = sqlite3.connect(str(engine.path), detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None)
        try:
            conn.execute("BEGIN")
            cursor = conn.execute(query.replace("{}", "?"), (head,))
            count = 0
            while rows := cursor.fetchmany(verification.BATCH):
                count += len(rows)
            conn.execute("COMMIT")
            return count
        finally:
            conn.close()

    return await asyncio.to_thread(read_sqlite)


async def bench_verify(child: Child) -> None:
    from governance.audit import merkle, service, verification
    from governance.audit.entry_ranges import RangeCheck
    from governance.audit.leaf import entry_leaf_input
    from governance.audit.tables import AuditCheckpoint
    from governance.core import db

    log_key = service.load_log_key(child.settings)
    appended, size, fill_s = await fill_log(child, log_key)
    checkpoints = await AuditCheckpoint.select(AuditCheckpoint.tree_size, AuditCheckpoint.note)
    child.line(
        f"verify   log of {size:,} entries ({appended:,} recorded by the append bench, the rest bulk-inserted "
        f"in {fill_s:.1f}s), {len(checkpoints)} signed checkpoints"
    )

    async def run_verify() -> None:
        result = await service.verify(log_key)
        assert result.ok, result.problems
        assert result.size == size
        assert result.checkpoints_checked == len(checkpoints)

    async def read_rows() -> None:
        # Verify's own read path without the checking: one read-only snapshot, the bare driver,
        # batches of verification.BATCH (a server-side cursor on PostgreSQL, sqlite3 in a thread).
        assert await verification_read(child, size) == size

    # A log that grew by appends has planner statistics (autovacuum analyses it as it grows); the
    # bulk-filled table has none yet. One run as it is, then ANALYZE, then the measured runs.
    unanalysed = await timed_async(run_verify, 1)
    await db.engine().run_ddl("ANALYZE audit_entry")
    child.line(
        f"verify   before ANALYZE (fresh bulk-loaded table, no planner statistics, 1 run): "
        f"{rate(size / unanalysed[0]).strip()}; the figures below are after ANALYZE"
    )

    verify_times: list[float] = []
    read_times: list[float] = []
    for _ in range(child.repeats):  # interleaved, so that drift affects all three alike
        verify_times += await timed_async(run_verify, 1)
        read_times += await timed_async(read_rows, 1)
    # Rows as the bare driver gives them to verification: the columns in order, untimed.
    names = [name.strip() for name in verification.COLUMNS.split(",")]
    batches = [[tuple(row[name] for name in names) for row in b] async for b in service._entry_batches(size)]

    def recompute() -> None:
        # The whole log as one range, in this process: verification's work without the reads.
        state = verification.VerificationPass(log_key.signer.verifier, checkpoints)
        check = RangeCheck(0, size, state.due_sizes())
        for rows in batches:
            check.feed(rows)
        assert state.join(check.result())
        assert state.finish(head=size).ok

    rows = [row for b in batches for row in b]
    leaves = [entry_leaf_input(*row[:10]) for row in rows]  # outside every timed section
    hashes = [merkle.leaf_hash(b) for b in leaves]
    assert hashes == [bytes(row[10]) for row in rows]

    def hashlib_loop() -> None:
        sha256 = hashlib.sha256
        for b in leaves:
            sha256(b).digest()

    def leaf_inputs() -> None:
        encode = entry_leaf_input
        for row in rows:
            encode(*row[:10])

    def leaf_hashes() -> None:
        leaf_hash = merkle.leaf_hash
        for b in leaves:
            leaf_hash(b)

    def tree_append() -> None:
        builder = merkle.TreeBuilder()
        for h in hashes:
            builder.append(h)

    recompute_times = timed(recompute, child.repeats)
    hashlib_times = timed(hashlib_loop, child.repeats)
    parts = [
        ("entry_leaf_input from the stored row", timed(leaf_inputs, child.repeats)),
        ("leaf_hash (0x00 prefix + sha256)", timed(leaf_hashes, child.repeats)),
        ("TreeBuilder.append per leaf", timed(tree_append, child.repeats)),
        ("bare hashlib.sha256(b).digest()", hashlib_times),
    ]

    verify_s, hashlib_s = median(verify_times), median(hashlib_times)
    percent = 100 * hashlib_s / verify_s
    processes = verification.worker_count(size)
    child.line(
        f"verify   service.verify used {processes} process(es) (verification.worker_count: one per CPU, at most "
        f"{verification.MAX_PROCESSES}, >= {verification.MIN_ENTRIES_PER_PROCESS:,} entries each); every baseline "
        "and breakdown figure is ONE process"
    )
    child.line(
        f"verify   entries={size:<7} verify  {rate(size / verify_s)}  hashlib {rate(size / hashlib_s)}  "
        f"ratio {percent:5.1f}%  {verdict(percent)}"
    )
    read_s, recompute_s = median(read_times), median(recompute_times)

    def share(label: str, value: float, indent: str = "  breakdown  ") -> None:
        child.line(
            f"{indent}{label:<40} {seconds(value)}  {rate(size / value)}  {100 * value / verify_s:5.1f}% of verify"
        )

    bare_s = read_s + hashlib_s
    bare_percent = 100 * bare_s / verify_s
    child.line(
        f"verify   entries={size:<7} verify  {rate(size / verify_s)}  bare read+hashlib {rate(size / bare_s)}  "
        f"ratio {bare_percent:5.1f}%  {verdict(bare_percent)}"
    )
    share("service.verify total", verify_s)
    share("read rows (verify's snapshot read)", read_s)
    share("recompute in memory, 1 process", recompute_s)
    for label, times in parts:
        share(label, median(times), "    part     ")
    if processes == 1:
        rest = verify_s - read_s - recompute_s
        child.line(f"  breakdown  {'rest (verify - read - recompute)':<40} {seconds(rest)}")
    else:
        serial = read_s + recompute_s
        child.line(
            f"  breakdown  read + recompute in one process would take {seconds(serial).strip()}: "
            f"{processes} processes did it in {100 * verify_s / serial:.0f}% of that"
        )
    runs = (
        ("verify", verify_times),
        ("read", read_times),
        ("recompute", recompute_times),
        ("hashlib", hashlib_times),
    )
    child.line("  runs       " + "  ".join(f"{name} " + "/".join(f"{t:.3f}" for t in ts) + "s" for name, ts in runs))
    mean_leaf = sum(len(b) for b in leaves) / len(leaves)
    child.line(f"  note       mean leaf input {mean_leaf:.0f} bytes")
    # The in-memory copies of the log above (millions of objects) are the bench's, not the
    # service's: freed before the proofs, so that no collection of them lands in a proof.
    for copy in (batches, rows, leaves, hashes):
        copy.clear()
    gc.collect()
    await bench_proofs(child, log_key, size)
    await bench_tiles(child, log_key, size)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def bench_proofs(child: Child, log_key: LogKey, size: int, calls: int = 1000) -> None:
    """Inclusion and consistency proofs from the stored nodes, one call at a time, at random points."""
    import random

    from governance.audit import proofs

    rng = random.Random(15)
    for name, make in (
        ("inclusion", lambda: proofs.inclusion(log_key, rng.randrange(size), size)),
        ("consistency", lambda: proofs.consistency(log_key, rng.randrange(1, size), size)),
    ):
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            await make()
            times.append(time.perf_counter() - start)
        p50, p99 = percentile(times, 0.5) * 1000, percentile(times, 0.99) * 1000
        met = "met" if p99 < 5 else "MISSED"
        child.line(
            f"proofs   {name:<11} tree_size={size:,}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (target p99 < 5 ms: {met})"
        )


async def bench_tiles(child: Child, log_key: LogKey, size: int, seconds_each: float = 3.0) -> None:
    """Full tiles read by 16 concurrent clients at the service layer (what GET /tlog/tile/... answers, without HTTP)."""
    import random

    from governance.audit import proofs

    full = size // proofs.TILE_WIDTH
    if full == 0:
        child.line("tiles    log smaller than one full tile: skipped")
        return
    rng = random.Random(16)
    for name, fetch in (
        ("hash tiles (level 0)", lambda: proofs.hash_tile(log_key, 0, rng.randrange(full), None)),
        ("entry bundles", lambda: proofs.entry_bundle(log_key, rng.randrange(full), None)),
    ):
        served = [0]

        async def client(fetch: Callable[[], Awaitable[object]], deadline: float, served: list[int]) -> None:
            while time.perf_counter() < deadline:
                await fetch()
                served[0] += 1

        start = time.perf_counter()
        await asyncio.gather(*(client(fetch, start + seconds_each, served) for _ in range(16)))
        child.line(
            f"tiles    {name:<22} {rate(served[0] / (time.perf_counter() - start))}  (16 clients, service layer)"
        )


# --- the parent ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    backend_arguments(parser)
    parser.add_argument("--appends", type=int, default=2000, help="appends per measurement")
    parser.add_argument("--entries", type=int, default=100_000, help="entries in the verified log")
    args = parser.parse_args(argv)
    if args.backend:
        asyncio.run(child_main(args.backend, args.repeats, args.appends, args.entries))
        return 0
    return run_backends(
        Path(__file__).resolve(),
        args,
        title="audit log benchmark",
        default_pg_url=DEFAULT_PG_URL,
        method=[
            f"appends: {args.appends:,} per measurement after a warm-up, audited and raw interleaved; "
            f"verify: {args.entries:,}-entry log",
            f"every figure is the MEDIAN of {args.repeats} runs (each run is listed on the 'runs' lines); "
            "gc.collect() before each timed run",
        ],
        child_args=[f"--repeats={args.repeats}", f"--appends={args.appends}", f"--entries={args.entries}"],
    )


if __name__ == "__main__":
    sys.exit(main())
