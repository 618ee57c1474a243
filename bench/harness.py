"""What every benchmark script shares: output, medians, and one child process per backend.

Piccolo's engine is process-wide (``governance.piccolo_conf`` reads the environment at
first import), so a script's parent process only prepares the databases and prints the
header; each backend runs in a child process (``--backend sqlite|postgres``) with its
own ``GOVERNANCE_*`` environment. SQLite uses a fresh temporary directory; PostgreSQL a
dedicated database, dropped and re-created at the start and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
PROTECTED_DATABASES = frozenset({"test", "postgres", "template0", "template1"})
POOL_SIZE = 20
TARGET_PERCENT = 50.0


def out(line: str = "") -> None:
    print(line, flush=True)


def rate(value: float) -> str:
    return f"{value:>9,.0f}/s"


def seconds(value: float) -> str:
    return f"{value:7.3f}s"


def verdict(percent: float) -> str:
    return f"(target >= {TARGET_PERCENT:.0f}%: {'met' if percent >= TARGET_PERCENT else 'MISSED'})"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


async def timed_async(work: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` awaits of ``work``, each after a ``gc.collect()``."""
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        await work()
        times.append(time.perf_counter() - start)
    return times


def admin_url(url: str) -> tuple[str, str]:
    """The URL of the ``postgres`` maintenance database on the same server, and the bench database name."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    return urlunsplit(parts._replace(path="/postgres")), name


async def reset_postgres(url: str) -> str | None:
    """Drop and re-create the bench database; the server version, or None when unreachable."""
    admin, name = admin_url(url)
    if not name or name in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to use database {name!r} for the benchmark; pick a dedicated one")
    try:
        conn = await asyncpg.connect(admin, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        out(f"PostgreSQL UNREACHABLE at {admin}: {exc!r}; running SQLite only")
        return None
    try:
        version = await conn.fetchval("SHOW server_version")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return str(version)


async def drop_postgres(url: str) -> None:
    admin, name = admin_url(url)
    conn = await asyncpg.connect(admin, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_child(
    script: Path, backend: str, database_url: str, data_dir: Path, child_args: list[str], env_extra: dict[str, str]
) -> int:
    """Run ``script --backend BACKEND`` with a clean ``GOVERNANCE_*`` environment for that backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_") or k.startswith("GOVERNANCE_BENCH_")}
    env.update(
        {
            "GOVERNANCE_DATABASE_URL": database_url,
            "GOVERNANCE_DATA_DIR": str(data_dir),
            "GOVERNANCE_CHECKPOINT_INTERVAL": "0",
            "GOVERNANCE_LOG_LEVEL": "WARNING",
            "GOVERNANCE_DATABASE_POOL_SIZE": str(POOL_SIZE),
            # The per-subject limit stays in the path (its cost is measured) but never refuses.
            "GOVERNANCE_RATE_LIMIT": str(10**9),
            **env_extra,
        }
    )
    command = [sys.executable, str(script), "--backend", backend, *child_args]
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=ROOT, check=False, timeout=1800)
    out(f"{backend:<9} (child finished in {time.perf_counter() - start:.0f}s, exit status {completed.returncode})")
    return completed.returncode


def run_backends(
    script: Path,
    args: argparse.Namespace,
    *,
    title: str,
    default_pg_url: str,
    method: Sequence[str],
    child_args: list[str],
    env_extra: dict[str, str] | None = None,
) -> int:
    """The parent: print the header, then run each wanted backend in its own child process."""
    pg_url = os.environ.get("GOVERNANCE_BENCH_DATABASE_URL", default_pg_url)
    wanted_pg = args.only in {None, "postgres"}
    pg_version = asyncio.run(reset_postgres(pg_url)) if wanted_pg else None
    out(title)
    out(f"  machine   {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}")
    out(f"  python    {platform.python_version()} ({sys.executable})")
    out(f"  sqlite    {sqlite3.sqlite_version}")
    if pg_version is not None:
        out(f"  postgres  {pg_version} at {pg_url}")
    else:
        out(f"  postgres  {'UNREACHABLE, skipped (see above)' if wanted_pg else 'not used'}")
    for index, line in enumerate(method):
        out(f"  {'method' if index == 0 else '':<9} {line}")
    out()
    status = 0
    for backend in (b for b in ("sqlite", "postgres") if args.only in {None, b}):
        if backend == "postgres" and pg_version is None:
            continue
        data_dir = Path(tempfile.mkdtemp(prefix=f"governance-bench-{backend}-"))
        try:
            url = f"sqlite:///{data_dir / 'bench.sqlite3'}" if backend == "sqlite" else pg_url
            status |= run_child(script, backend, url, data_dir, child_args, env_extra or {})
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        out()
    if pg_version is not None:
        asyncio.run(drop_postgres(pg_url))
    return status


def backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("sqlite", "postgres"), help="(internal) run one backend in this process")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="run only this backend")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the median is reported")


async def paired_rounds(
    measure: Callable[[int, int], Awaitable[tuple[float, float]]], requests: int, rounds: int
) -> tuple[float, float, list[float]]:
    """Short interleaved rounds of a full-stack measurement and its baseline.

    ``measure(start, count)`` runs one round of each side on the same slice of calls and
    returns (full, baseline) rates. Load from elsewhere on the machine then hits both
    sides of a pair alike; the ratio is taken per pair. Returns the median full rate, the
    median baseline rate and the sorted per-pair ratios (percent).
    """
    chunk = max(1, requests // 4)
    full: list[float] = []
    baseline: list[float] = []
    for round_ in range(rounds):
        start = (round_ % 4) * chunk  # the four slices in turn: every call is used
        a, b = await measure(start, chunk)
        full.append(a)
        baseline.append(b)
    ratios = sorted(100 * a / b for a, b in zip(full, baseline, strict=True))
    return median(full), median(baseline), ratios
