"""Evidence bundle benchmark: a bundle of a seeded platform, next to a bare reportlab
rendering of the same rows, in the same run.

Run from the repository root::

    .venv/bin/python bench/evidence.py
    .venv/bin/python bench/evidence.py --mentors 1000 --complaints 10000 --entries 100000 --repeats 3

1. ``seed`` (a child process, on a fresh SQLite database under a temporary data dir):
   1,000 approved mentors with every check their requirements ask for and each check's
   documents (the vetting benchmark's seeding), 10,000 complaints (the complaints
   benchmark's), 3,000 refunds, 2,000 disputes, 2,000 data requests received over the last
   year, and an audit log grown to 100,000 entries (the audit benchmark's rows, hashed as
   ``record_event`` hashes them) with signed checkpoints.
2. ``job`` (another child, so its memory is the worker's alone): a compliance officer's
   request for the last 365 days, every section, produced as the service produces it:
   claimed, gathered from the database, rendered by ``python -m governance.evidence.render``
   in its own process, stored with its manifest in the local object store and checked.
   It prints the job's seconds and pages and the worker's peak RSS, and writes the
   gathered contents (msgpack) for step 3.
3. ``ours`` and ``bare`` alternate ``--repeats`` times, each in its own child that decodes
   the same contents and times only the rendering; the parent reads each child's peak RSS
   from ``os.wait4`` (``ru_maxrss``):

   - ``ours``: ``governance.evidence.render.render(contents, out)``: the whole document,
     every section, charts, headers, "Page N of M" footers, the contents page;
   - ``bare``: ``bare_render(rows, out)``: the same register rows (formatted as strings
     before the timer starts) as plain reportlab ``Table``s of page-sized chunks in a
     ``SimpleDocTemplate``, landscape A4 (so that the wide rows fit), no style at all,
     reportlab's defaults otherwise (ASCII85 streams; ours writes binary ones).

Figures are medians. ``ratio`` is ours / bare in pages per second (target >= 50%), for the
rendering alone and for the whole job (gathering, child start-up, storing and checking
included); rows per second are printed too, since the two layouts put a different number
of rows on a page. RSS target: < 300 MB, for the renderer and for the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from harness import ROOT, cpu_model, median, out, seconds, verdict

RSS_TARGET_MB = 300.0
BARE_CHUNK = 24  # plain rows (Helvetica 10, padding 3+3 = 18 pt) that fit a landscape A4 frame
AUDIT_BATCH = 20_000


# --- step 1: the seeded platform ----------------------------------------------------------


async def seed_platform(args: argparse.Namespace) -> None:
    """Seed the database the environment names (a child process: the engine is process-wide)."""
    import complaints as complaints_bench
    import vetting as vetting_bench
    from audit import insert_rows, synthetic_row

    from governance import bootstrap
    from governance.audit import service as audit
    from governance.cli import run_migrations
    from governance.core import db
    from governance.settings import Settings

    settings = Settings.from_env()
    await run_migrations(settings)
    services = bootstrap.build(settings)
    await db.start(settings)
    try:
        started = time.perf_counter()
        await vetting_bench.seed(services.vetting, args.mentors)
        mentors_done = time.perf_counter()
        await complaints_bench.load("sqlite", settings, args.complaints)
        await seed_cases(args.refunds, args.disputes, args.requests)
        cases_done = time.perf_counter()
        log_key = services.log_key
        child = argparse.Namespace(is_postgres=False, raw_pool=None, settings=settings)
        base = datetime.now(UTC) - timedelta(days=300)
        position = await audit.tree_size()
        while position < args.entries:
            stop = min(position + AUDIT_BATCH, args.entries)
            await insert_rows(child, [synthetic_row(seq, base) for seq in range(position, stop)], stop)  # type: ignore[arg-type]
            await audit.sign_checkpoint(log_key)
            position = stop
        print(
            f"seeded {args.mentors:,} mentors in {mentors_done - started:.1f}s, "
            f"{args.complaints:,} complaints, {args.refunds:,} refunds, {args.disputes:,} disputes and "
            f"{args.requests:,} data requests in {cases_done - mentors_done:.1f}s, "
            f"{position:,} audit entries in {time.perf_counter() - cases_done:.1f}s",
            flush=True,
        )
    finally:
        await db.stop()


async def seed_cases(refunds: int, disputes: int, requests: int) -> None:
    """Refunds, disputes and data requests spread over the last year (rows as the services write them)."""
    from governance.complaints.schemas import REFUND_STATES
    from governance.complaints.tables import Attestation, Dispute, Refund
    from governance.core import db
    from governance.privacy.tables import DataRequest

    rng = random.Random(7)
    now = datetime.now(UTC)

    def when() -> datetime:
        return now - timedelta(seconds=rng.randrange(360 * 24 * 3600))

    rows: list[Any] = []
    for n in range(refunds):
        at = when()
        rows.append(
            Refund(
                id=uuid.uuid4(), state=REFUND_STATES[n % len(REFUND_STATES)], session_id=f"s-{n}",
                mentee_id=f"mentee-{n % 20_000:05d}", amount_minor=500 + n % 9_500, currency=("EUR", "GBP")[n % 2],
                reason="gv1." + "A" * 60, requested_by="agent-1", created_at=at, updated_at=at,
            )
        )  # fmt: skip
    for n in range(disputes):
        at = when()
        tier, state, outcome, status = (("L1", "l1_review", None, "disputed"), ("L1", "decided", "upheld", "valid"),
                                        ("L2", "decided", "amended", "amended"),
                                        ("L3", "revoked", "revoked", "revoked"))[n % 4]  # fmt: skip
        # Each dispute is about an attestation of its own, in the status the dispute left it.
        attestation = Attestation(
            id=uuid.uuid4(), mentor_id=str(uuid.UUID(int=n)), candidate_id=f"cand-{n}", competency="system-design",
            score=3, rubric_version="2026.1", session_date=at.date(), token_sha256="0" * 64, status=status,
            status_since=at, recorded_by="platform", recorded_at=at - timedelta(days=2),
        )  # fmt: skip
        rows.append(attestation)
        rows.append(
            Dispute(
                id=uuid.uuid4(), attestation_id=attestation.id, state=state, tier=tier, opened_by=f"cand-{n}",
                opened_as="candidate", candidate_id=f"cand-{n}", mentor_id=str(uuid.UUID(int=n)), reason="too low",
                outcome=outcome, tier_started_at=at, decide_due_at=at + timedelta(days=10), opened_at=at,
                closed_at=None if outcome is None else at + timedelta(days=rng.randrange(1, 20)),
            )
        )  # fmt: skip
    for n in range(requests):
        at = when()
        closed = None if n % 5 == 0 else at + timedelta(days=rng.randrange(1, 40))
        rows.append(
            DataRequest(
                id=uuid.uuid4(), subject=f"mentee-{n:05d}", request_type=("access", "erasure", "portability")[n % 3],
                state="received" if closed is None else "completed", filed_by=f"mentee-{n:05d}", received_at=at,
                due_at=at + timedelta(days=30), closed_at=closed, last_seq=0,
            )
        )  # fmt: skip
    async with db.transaction():
        for table in (Refund, Attestation, Dispute, DataRequest):
            batch = [row for row in rows if isinstance(row, table)]
            for start in range(0, len(batch), 500):
                await table.insert(*batch[start : start + 500])


# --- step 2: the job, as the service runs it ----------------------------------------------


async def run_job(contents_out: Path) -> None:
    """One bundle of the last 365 days produced by a worker; figures on stdout."""
    from governance import bootstrap
    from governance.core import db
    from governance.core.clock import SystemClock
    from governance.core.identity import Identity
    from governance.evidence import jobs, service
    from governance.evidence.schemas import BundleRequest
    from governance.settings import Settings

    settings = Settings.from_env()
    evidence = bootstrap.build(settings).evidence
    await db.start(settings)
    try:
        now = datetime.now(UTC)
        request = BundleRequest(
            period_start=(now - timedelta(days=364)).date(), period_end=now.date(), title="Benchmark bundle"
        )
        bundle = await service.request(request, Identity(sub="officer-bench", roles=("compliance_officer",)), now)
        row = await jobs.claim("bench", now, evidence.lease, bundle.id)
        assert row is not None
        started = time.perf_counter()
        await jobs.produce(evidence, row, "bench", SystemClock())
        elapsed = time.perf_counter() - started
        done = await service.get(bundle.id)
        if done.state != "ready":
            raise SystemExit(f"the bundle failed: {done.failure_reason}")
        # The renderer's own peak is measured by the ``ours`` children: a child's ru_maxrss
        # would include the worker's pages it was forked with.
        worker_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        contents = await jobs.gather(evidence, row, now)
        gathering = time.perf_counter() - started
        await asyncio.to_thread(contents_out.write_bytes, msgspec.msgpack.encode(contents))
        print(f"{done.pages} {elapsed:.6f} {worker_rss:.1f} {done.pdf_size} {gathering:.6f}", flush=True)
    finally:
        await db.stop()


# --- the baseline ------------------------------------------------------------------------


def register_rows(contents: object) -> list[list[str]]:
    """Every register row of the bundle, as the rendered document formats them (strings)."""
    from governance.evidence.registers import registers

    rows: list[list[str]] = []
    for register in registers(contents).values():  # type: ignore[arg-type]
        rows.append(list(register.header))
        rows.extend(register.formatted())
    return rows


def bare_render(rows: Sequence[list[str]], out_path: Path) -> int:
    """The rows as plain reportlab Tables (page-sized chunks), SimpleDocTemplate, no style; the page count."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import SimpleDocTemplate, Table

    doc = SimpleDocTemplate(str(out_path), pagesize=landscape(A4))
    story = [Table(rows[i : i + BARE_CHUNK]) for i in range(0, len(rows), BARE_CHUNK)]
    doc.build(story)
    return int(doc.page)


# --- children ----------------------------------------------------------------------------


def child(kind: str, source: Path, target: Path) -> None:
    from governance.evidence.contents import BundleContents

    contents = msgspec.msgpack.decode(source.read_bytes(), type=BundleContents)
    if kind == "ours":
        from governance.evidence.render import render

        started = time.perf_counter()
        pages = render(contents, target).pages
        elapsed = time.perf_counter() - started
    else:
        rows = register_rows(contents)
        del contents
        started = time.perf_counter()
        pages = bare_render(rows, target)
        elapsed = time.perf_counter() - started
    print(f"{pages} {elapsed:.6f}", flush=True)


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run a child; its stdout and its own peak RSS in MB."""
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child {args} failed with status {process.returncode}")
    return output, usage.ru_maxrss / 1024


def measure(kind: str, source: Path, target: Path) -> tuple[int, float, float]:
    output, rss = run_child([sys.executable, str(Path(__file__).resolve()), "--child", kind, str(source), str(target)])
    pages, elapsed = output.split()
    return int(pages), float(elapsed), rss


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "IN", "OUT"), help="(internal) one measurement")
    parser.add_argument("--mentors", type=int, default=1000)
    parser.add_argument("--complaints", type=int, default=10_000)
    parser.add_argument("--refunds", type=int, default=3000)
    parser.add_argument("--disputes", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000, help="data requests")
    parser.add_argument("--entries", type=int, default=100_000, help="audit log entries")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the median is reported")
    args = parser.parse_args(argv)
    if args.child:
        kind, source, target = args.child
        if kind == "seed":
            asyncio.run(seed_platform(args))
        elif kind == "job":
            asyncio.run(run_job(Path(target)))
        else:
            child(kind, Path(source), Path(target))
        return 0

    import reportlab

    out("evidence benchmark: a bundle of a seeded platform next to a bare reportlab rendering of the same rows")
    out(f"  machine   {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}")
    out(f"  python    {platform.python_version()} ({sys.executable})")
    out(f"  reportlab {reportlab.Version}, SQLite database, local object store")
    with tempfile.TemporaryDirectory(prefix="governance-bench-evidence-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
        env.update(
            {
                "GOVERNANCE_DATA_DIR": tmp,
                "GOVERNANCE_DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "GOVERNANCE_LOG_LEVEL": "WARNING",
                "GOVERNANCE_CHECKPOINT_INTERVAL": "0",
            }
        )
        sizes = [f"--{name}={getattr(args, name)}" for name in ("mentors", "complaints", "refunds", "disputes")]
        sizes += [f"--requests={args.requests}", f"--entries={args.entries}"]
        script = str(Path(__file__).resolve())
        seeded = subprocess.run(
            [sys.executable, script, *sizes, "--child", "seed", "-", "-"],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        out(f"  method    {seeded.stdout.strip().splitlines()[-1]}")
        source = Path(tmp) / "contents.msgpack"
        job_output, _ = run_child([sys.executable, script, "--child", "job", "-", str(source)], env)
        pages_job, job_seconds, worker_rss, size, gathering = job_output.split()
        from governance.evidence.contents import BundleContents

        rows = len(register_rows(msgspec.msgpack.decode(source.read_bytes(), type=BundleContents)))
        out(f"            every section of the last 365 days: {rows:,} register rows")
        out(f"            ours and bare alternate {args.repeats} times, each in its own child; figures are MEDIANS")
        out()
        job = float(job_seconds)
        out(
            f"job    {int(pages_job):>6,} pages  {seconds(job)}  {int(pages_job) / job:8.1f} pages/s  "
            f"{int(size) / 1e6:.1f} MB PDF (gathering from the database alone: {float(gathering):.2f}s); "
            f"peak RSS of the worker {float(worker_rss):.1f} MB (the renderer's: line ours)"
        )
        runs: dict[str, list[tuple[int, float, float]]] = {"ours": [], "bare": []}
        for _ in range(args.repeats):
            for kind in ("bare", "ours"):
                runs[kind].append(measure(kind, source, Path(tmp) / f"{kind}.pdf"))
        figures = {}
        for kind, results in runs.items():
            pages = results[0][0]
            elapsed = median([r[1] for r in results])
            rss = max(r[2] for r in results)
            figures[kind] = (pages, elapsed, rss)
            out(
                f"{kind:<5}  {pages:>6,} pages  {seconds(elapsed)}  {pages / elapsed:8.1f} pages/s  "
                f"{rows / elapsed:9,.0f} rows/s  peak RSS {rss:6.1f} MB  "
                f"(runs: {', '.join(f'{r[1]:.2f}s' for r in results)})"
            )
        (p_ours, s_ours, rss_ours), (p_bare, s_bare, rss_bare) = figures["ours"], figures["bare"]
        bare_rate = p_bare / s_bare
        ratio = 100 * (p_ours / s_ours) / bare_rate
        job_ratio = 100 * (int(pages_job) / job) / bare_rate
        out(f"ratio  pages/s rendering ours / bare {ratio:5.1f}%  {verdict(ratio)}")
        out(f"       pages/s whole job / bare      {job_ratio:5.1f}%  {verdict(job_ratio)}")
        out(f"       rows/s  rendering ours / bare {100 * s_bare / s_ours:5.1f}%  (ours puts more rows on a page)")
        met = "met" if max(rss_ours, float(worker_rss)) < RSS_TARGET_MB else "MISSED"
        out(
            f"memory peak RSS renderer {rss_ours:.1f} MB, worker {float(worker_rss):.1f} MB, "
            f"bare {rss_bare:.1f} MB  (target < {RSS_TARGET_MB:.0f} MB: {met})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
