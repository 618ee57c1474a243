"""Complaint-list benchmark: queries per second with 100,000 complaints, next to bare Piccolo.

Run from the repository root::

    .venv/bin/python bench/complaints.py                  # SQLite, then PostgreSQL when reachable
    .venv/bin/python bench/complaints.py --only sqlite    # one backend

Through bench/harness.py, like the other scripts: the parent prepares the databases and
prints the header, and each backend runs in a child process (``--backend``) with its own
``GOVERNANCE_*`` environment, because Piccolo's engine is process-wide. SQLite uses a
fresh temporary directory; PostgreSQL the dedicated database named by
``GOVERNANCE_BENCH_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/governance_bench_complaints``), dropped and
re-created at the start and dropped at the end.

The query: the first page (50) of complaints filtered by state and breached, newest
first, as a support agent's queue asks for it. Three ways, interleaved, each the median
of ``--repeats`` runs of ``--queries`` queries from ``--workers`` concurrent tasks:

- ``http``: ``GET /api/v1/complaints?state=...&breached=true`` through the whole
  application (JWT, Casbin guard, service, msgspec encoding), in-process over ASGI;
- ``service``: ``governance.complaints.service.search(...)``;
- ``piccolo``: the same SELECT written directly with Piccolo (``Complaint.select(...)``),
  rows as dicts, nothing else: the baseline.

A diagnostic line gives ``GET /health`` through the same client and middleware, the
ceiling of any route measured in-process this way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import random
import sqlite3
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from harness import backend_arguments, median, out, rate, run_backends

from governance.complaints.schemas import CATEGORIES
from governance.complaints.schemas import COMPLAINT_STATES as STATES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/governance_bench_complaints"
QUERY_STATE = "investigating"
PAGE = 50
COLUMNS = (
    "id",
    "state",
    "version",
    "category",
    "severity",
    "complainant_id",
    "filed_by",
    "filed_by_role",
    "description",
    "remedies",
    "received_at",
    "sla_started_at",
    "updated_at",
    "sla_clock",
    "sla_pauses",
    "breached",
    "breaches",
    "next_due_at",
)

Query = Callable[[], Awaitable[int]]


def complaint_row(n: int, now: datetime, rng: random.Random) -> tuple[Any, ...]:
    received = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
    breached = rng.random() < 0.2
    return (
        uuid.UUID(int=rng.getrandbits(128), version=4),
        STATES[rng.randrange(len(STATES))],
        1,
        CATEGORIES[n % len(CATEGORIES)],
        "medium",
        f"mentee-{n % 20_000:05d}",
        "platform-1",
        "platform",
        "gv1." + "A" * 120,  # a ciphertext-sized description; never decrypted by a list
        "[]",
        received,
        received,
        received,
        "business",
        "[]",
        breached,
        '["resolve"]' if breached else "[]",
        received + timedelta(days=5),
    )


async def load(backend: str, settings: Any, count: int) -> float:
    """Bulk-insert ``count`` complaints (outside the service: it is the reads we measure)."""
    start = time.perf_counter()
    rng = random.Random(4)
    now = datetime.now(UTC)
    rows = [complaint_row(n, now, rng) for n in range(count)]
    if backend == "postgres":
        conn = await asyncpg.connect(settings.effective_database_url)
        try:
            await conn.copy_records_to_table("complaint", records=rows, columns=list(COLUMNS))
            await conn.execute("ANALYZE complaint")
        finally:
            await conn.close()
    else:
        # Piccolo's sqlite3 adapters (registered globally) store UUIDs and datetimes as Piccolo does.
        import piccolo.engine.sqlite  # noqa: F401

        conn3 = sqlite3.connect(settings.sqlite_path, isolation_level=None, timeout=30)
        try:
            conn3.execute("BEGIN IMMEDIATE")
            placeholders = ", ".join("?" for _ in COLUMNS)
            conn3.executemany(f"INSERT INTO complaint ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows)
            conn3.execute("COMMIT")
            conn3.execute("ANALYZE")
        finally:
            conn3.close()
    return time.perf_counter() - start


async def timed_queries(query: Query, total: int, workers: int) -> float:
    per_worker = total // workers

    async def worker() -> None:
        for _ in range(per_worker):
            await query()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return per_worker * workers / (time.perf_counter() - start)


async def child_main(backend: str, repeats: int, queries: int, workers: int, count: int) -> None:
    import httpx

    from governance.app import create_app
    from governance.cli import run_migrations
    from governance.complaints import service
    from governance.complaints.tables import Complaint
    from governance.core import db
    from governance.core.identity import issue_token
    from governance.settings import Settings

    settings = Settings.from_env()
    with contextlib.redirect_stdout(io.StringIO()):  # Piccolo prints its migration progress
        await run_migrations(settings)
    await db.start(settings)

    def line(text: str) -> None:
        out(f"{backend:<9} {text}")

    try:
        loaded_s = await load(backend, settings, count)
        total = await Complaint.count()
        matching = await Complaint.count().where((Complaint.state == QUERY_STATE) & Complaint.breached.eq(True))
        line(f"loaded {total:,} complaints in {loaded_s:.1f}s; {matching:,} are {QUERY_STATE} and breached")

        async def piccolo_query() -> int:
            rows = (
                await Complaint.select(*service.SUMMARY_COLUMNS)
                .where((Complaint.state == QUERY_STATE) & Complaint.breached.eq(True))
                .order_by(Complaint.received_at, Complaint.id, ascending=False)
                .limit(PAGE + 1)
            )
            return len(rows)

        async def service_query() -> int:
            page = await service.search(state=QUERY_STATE, breached=True, limit=PAGE)
            return len(page.items)

        token = issue_token(settings, "bench-agent", ["support_agent"], timedelta(hours=1))
        app = create_app(settings)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
        url = f"/api/v1/complaints?state={QUERY_STATE}&breached=true&limit={PAGE}"
        headers = {"Authorization": f"Bearer {token}"}

        async def http_query() -> int:
            response = await client.get(url, headers=headers)
            response.raise_for_status()
            return len(response.json()["items"])

        async def health_query() -> int:
            # Diagnostic: the same client and middleware stack on a route that does nothing.
            (await client.get("/health")).raise_for_status()
            return 1

        ops: dict[str, Query] = {
            "http": http_query,
            "service": service_query,
            "piccolo": piccolo_query,
            "health": health_query,
        }
        counts = {name: await op() for name, op in ops.items()}  # also warms every path up
        assert counts["http"] == counts["service"] == min(PAGE, matching), counts
        for op in ops.values():
            await timed_queries(op, max(workers * 20, 200), workers)
        rates: dict[str, list[float]] = {name: [] for name in ops}
        for _ in range(repeats):
            for name, op in ops.items():
                rates[name].append(await timed_queries(op, queries, workers))
        base = median(rates["piccolo"])
        for name in ("http", "service", "piccolo"):
            value = median(rates[name])
            line(f"list     workers={workers:<3} {name:<8} {rate(value)}  ratio to piccolo {100 * value / base:5.1f}%")
        line(
            f"  diag   GET /health through the same client and middleware: {rate(median(rates['health']))} "
            "(the ceiling of any route measured this way)"
        )
        runs = "  ".join(f"{name} " + "/".join(f"{r:,.0f}" for r in values) for name, values in rates.items())
        line(f"  runs   {runs}")
        await client.aclose()
    finally:
        await db.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    backend_arguments(parser)
    parser.add_argument("--queries", type=int, default=2000, help="queries per run")
    parser.add_argument("--workers", type=int, default=8, help="concurrent tasks issuing queries")
    parser.add_argument("--complaints", type=int, default=100_000, help="complaints loaded")
    args = parser.parse_args(argv)
    if args.backend:
        asyncio.run(child_main(args.backend, args.repeats, args.queries, args.workers, args.complaints))
        return 0
    return run_backends(
        Path(__file__).resolve(),
        args,
        title="complaint list benchmark",
        default_pg_url=DEFAULT_PG_URL,
        method=[
            f"{args.complaints:,} complaints; first page ({PAGE}) of state={QUERY_STATE}&breached=true, newest first;",
            f"{args.queries:,} queries per run from {args.workers} concurrent tasks; "
            f"every figure is the MEDIAN of {args.repeats} interleaved runs (listed on the 'runs' lines)",
        ],
        child_args=[
            f"--repeats={args.repeats}",
            f"--queries={args.queries}",
            f"--workers={args.workers}",
            f"--complaints={args.complaints}",
        ],
        env_extra={
            "GOVERNANCE_SLA_SCAN_INTERVAL": "0",
            "GOVERNANCE_VETTING_EXPIRY_INTERVAL": "0",
            "GOVERNANCE_DATABASE_POOL_SIZE": str(max(args.workers, 1)),
        },
    )


if __name__ == "__main__":
    sys.exit(main())
