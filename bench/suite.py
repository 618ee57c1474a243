"""Suite benchmark: `make test`'s wall time next to the suite of the day issue 13 was filed.

Run from the repository root (a clone with its history; it needs git, PostgreSQL and what
`make test` needs)::

    .venv/bin/python bench/suite.py                # baseline, the same tests today, the whole suite
    .venv/bin/python bench/suite.py --skip-whole   # the first two only (about 6 minutes)

Three runs, one after the other, on this machine in this run:

1. **baseline**: the repository at ``--baseline`` (default :data:`BASELINE`, the main branch
   when issue 13 was filed) in a temporary ``git worktree``, tested as its own Makefile did
   then: its lint (ruff, ruff format, mypy), then its suite on SQLite, then on PostgreSQL,
   one after the other, with this checkout's virtualenv. Its two vector tests read
   ``../shared/testvectors`` outside the repository (one of the issue's findings); the same
   published vectors, copied from ``tests/audit/vectors``, are put there for it.
2. **same tests today**: today's ``make test`` (lint, then both backends at once), running
   only the test functions the baseline had, by pytest id without parameters (the
   ``only_tests`` plugin beside this script selects them; those gone are counted).
   A test function split differently today counts whole (the route x role matrix: a
   test per row and role then, per row now).
3. **whole suite today**: ``make test`` as it is.

Every run uses ``CI=true`` (a missing browser or PostgreSQL fails) and the PostgreSQL database
``GOVERNANCE_BENCH_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/governance_bench_suite``),
created for it and dropped at the end. Each line prints the wall time, the tests that passed
and failed as pytest reported them, and the ratio to the baseline (issue 13's target: the
same tests at most two thirds of the baseline's time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT, cpu_model, drop_postgres, out, reset_postgres

# The main branch when issue 13 was filed: its file:line references point into this commit.
BASELINE = "b211940"
TARGET = 2 / 3
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/governance_bench_suite"
VENV_BIN = ROOT / ".venv" / "bin"
# pytest's last line: "1305 passed, 2 skipped, 1493 deselected in 134.87s (0:02:14)".
OUTCOME = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected)")


@dataclass(frozen=True)
class Step:
    """One command of a run: what it is, its wall time, its exit status and pytest's counts."""

    name: str
    seconds: float
    status: int
    counts: str


def run(name: str, command: list[str], *, cwd: Path, env: dict[str, str]) -> Step:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=3600)
    seconds = time.perf_counter() - start
    out(f"    ({name}: {seconds:.0f}s)")
    # One summary per pytest run (`make test` runs two), named by the backend its header printed.
    summaries, backend = [], ""
    for line in done.stdout.splitlines():
        if line.startswith("governance backend: "):
            backend = line.split()[2] + ": "
        elif OUTCOME.search(line) and " in " in line:
            summaries.append(backend + ", ".join(f"{n} {word}" for n, word in OUTCOME.findall(line)))
    counts = "; ".join(summaries)
    if done.returncode != 0:
        out(f"    {name} exited with {done.returncode}; its last lines:")
        for line in (done.stdout + done.stderr).strip().splitlines()[-15:]:
            out(f"      {line}")
    return Step(name, seconds, done.returncode, counts)


def environment(pg_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVERNANCE_", "PYTEST_"))}
    env.update({"CI": "true", "GOVERNANCE_TEST_DATABASE_URL": pg_url, **extra})
    return env


def baseline_checkout(revision: str, parent: Path) -> Path:
    """The baseline in ``parent/governance``, with the vectors it reads at ``parent/shared/testvectors``."""
    checkout = parent / "governance"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(checkout), revision], cwd=ROOT, check=True)
    vectors = parent / "shared" / "testvectors"
    vectors.mkdir(parents=True)
    for name in ("rfc9162-tree.json", "c2sp-note.json"):
        shutil.copy(ROOT / "tests" / "audit" / "vectors" / name, vectors / name)
    return checkout


def collected_ids(checkout: Path, env: dict[str, str]) -> list[str]:
    """The pytest ids of every test the checkout has (collected on SQLite, where every test runs)."""
    done = subprocess.run(
        [str(VENV_BIN / "pytest"), "--collect-only", "-q", "-p", "no:randomly"],
        cwd=checkout,
        env={**env, "GOVERNANCE_TEST_BACKEND": "sqlite"},
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if "::" in line]


def function(test_id: str) -> str:
    """A test's function: its id without the parameters (``path::name``)."""
    return test_id.split("[", 1)[0]


def measure_baseline(checkout: Path, env: dict[str, str]) -> list[Step]:
    """The baseline's `make test` of the day: lint, then each backend's suite in turn."""
    tools = [str(VENV_BIN / name) for name in ("ruff", "mypy", "pytest")]
    ruff, mypy, pytest = tools
    paths = ["governance", "tests", "bench", "tools"]
    return [
        run("lint: ruff", [ruff, "check", *paths], cwd=checkout, env=env),
        run("lint: ruff format", [ruff, "format", "--check", *paths], cwd=checkout, env=env),
        run("lint: mypy", [mypy], cwd=checkout, env=env),
        run("SQLite", [pytest], cwd=checkout, env={**env, "GOVERNANCE_TEST_BACKEND": "sqlite"}),
        run("PostgreSQL", [pytest], cwd=checkout, env={**env, "GOVERNANCE_TEST_BACKEND": "postgres"}),
    ]


def report(label: str, steps: list[Step], baseline: float | None) -> float:
    total = sum(step.seconds for step in steps)
    versus = ""
    if baseline is not None:
        ratio = total / baseline
        versus = f"  {ratio:6.1%} of the baseline (target <= {TARGET:.1%}: {'met' if ratio <= TARGET else 'MISSED'})"
    out(f"  {label:<28} {total:7.1f}s{versus}")
    for step in steps:
        status = "" if step.status == 0 else f"  EXIT STATUS {step.status}"
        out(f"      {step.name:<24} {step.seconds:7.1f}s  {step.counts}{status}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})")
    parser.add_argument("--skip-whole", action="store_true", help="do not run today's whole suite")
    args = parser.parse_args()
    pg_url = os.environ.get("GOVERNANCE_BENCH_DATABASE_URL", DEFAULT_PG_URL)
    pg_version = asyncio.run(reset_postgres(pg_url))
    if pg_version is None:
        return 1
    out("make test: the suite of the day issue 13 was filed, the same tests today, the whole suite today")
    out(f"  machine   {os.cpu_count()} CPUs ({cpu_model()})")
    out(f"  python    {sys.version.split()[0]}; postgres {pg_version} at {pg_url}")
    out(f"  baseline  {args.baseline}, tested as its Makefile did (lint, SQLite, PostgreSQL in turn)")
    out()
    status = 0
    parent = Path(tempfile.mkdtemp(prefix="governance-bench-suite-"))
    try:
        checkout = baseline_checkout(args.baseline, parent)
        # The baseline's code, not this checkout's (installed editable in the virtualenv).
        old_env = environment(pg_url, PYTHONPATH=str(checkout))
        ids = collected_ids(checkout, old_env)
        baseline_steps = measure_baseline(checkout, old_env)
        baseline = report(f"baseline ({len(ids):,} tests)", baseline_steps, None)
        status |= max(step.status for step in baseline_steps)

        today_ids = collected_ids(ROOT, environment(pg_url))
        # The same test functions, however their cases are split today (the route x role matrix
        # was one test per row and role, and is one per row).
        functions = {function(test_id) for test_id in ids}
        kept = [test_id for test_id in today_ids if function(test_id) in functions]
        gone = len(functions - {function(test_id) for test_id in kept})
        ids_file = parent / "baseline-tests.txt"
        ids_file.write_text("\n".join(kept) + "\n")
        selected = environment(
            pg_url,
            GOVERNANCE_BENCH_ONLY_TESTS=str(ids_file),
            PYTHONPATH=str(ROOT / "bench"),
            PYTEST_ADDOPTS="-p only_tests",
        )
        make = ["make", "--no-print-directory", "test"]
        same = [run("make test", make, cwd=ROOT, env=selected)]
        report(f"same {len(functions):,} test functions today", same, baseline)
        out(f"      ({len(kept):,} tests today; {gone} of the baseline's test functions no longer exist by name)")
        status |= same[0].status
        if not args.skip_whole:
            whole = [run("make test", make, cwd=ROOT, env=environment(pg_url))]
            report(f"whole suite ({len(today_ids):,} tests)", whole, baseline)
            status |= whole[0].status
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(parent / "governance")], cwd=ROOT, check=False)
        shutil.rmtree(parent, ignore_errors=True)
        asyncio.run(drop_postgres(pg_url))
    return status


if __name__ == "__main__":
    sys.exit(main())
