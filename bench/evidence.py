"""Evidence bundle benchmark: the rendered PDF next to a bare reportlab rendering of the same rows.

Run from the repository root::

    .venv/bin/python bench/evidence.py
    .venv/bin/python bench/evidence.py --mentors 1000 --complaints 10000 --disputes 2000 --requests 2000 --repeats 3

``synthetic_contents(...)`` builds a deterministic (seeded) ``BundleContents`` at the
target scale: by default 1,000 mentors with 5 checks and one document per check (5,000
documents, each also an artifact of the manifest), 10,000 complaints, 3,000 refunds,
2,000 disputes, 2,000 data requests, all sections. (Later: database seeding and the real
assembly replace this function; the rest stays.)

Each measurement runs in its own child process (``--child ours|bare IN OUT``), which
decodes the contents (msgpack, as the service hands them over), then times only the
rendering and prints pages and seconds; the parent reads the child's peak RSS from
``os.wait4`` (``ru_maxrss``), so each figure belongs to one child alone:

- ``ours``: ``governance.evidence.render.render(contents, out)``: the whole document,
  every section, charts, headers, "Page N of M" footers, the contents page;
- ``bare``: ``bare_render(rows, out)``: the same register rows (formatted as strings
  before the timer starts) as plain reportlab ``Table``s of page-sized chunks in a
  ``SimpleDocTemplate``, landscape A4 (so that the wide rows fit), no style at all, reportlab's
  defaults otherwise (ASCII85 streams; ours writes binary ones).

``ours`` and ``bare`` alternate ``--repeats`` times; figures are medians. ``ratio`` is
ours / bare in pages per second (target >= 50%); rows per second are printed too, since
the two layouts put a different number of rows on a page. RSS target: < 300 MB.
Finally the real entry point (``python -m governance.evidence.render``) renders once,
timed from start to ``done`` including interpreter start-up and decoding.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import msgspec
from harness import ROOT, cpu_model, median, out, seconds, verdict

RSS_TARGET_MB = 300.0
BARE_CHUNK = 24  # plain rows (Helvetica 10, padding 3+3 = 18 pt) that fit a landscape A4 frame


# --- the synthetic bundle ----------------------------------------------------------------


def synthetic_contents(
    mentors: int = 1000,
    complaints: int = 10_000,
    disputes: int = 2000,
    data_requests: int = 2000,
    refunds: int | None = None,
    checks_per_mentor: int = 5,
    documents_per_check: int = 1,
    seed: int = 20260331,
) -> object:
    """A ``BundleContents`` at the given scale, every section requested; the same for the same arguments."""
    from governance.complaints.schemas import (
        CATEGORIES,
        ComplaintsSummary,
        DisputeFigures,
        MonthOfComplaints,
        RefundFigures,
        SlaAttainment,
    )
    from governance.evidence import contents as c
    from governance.privacy.schemas import PrivacySummary
    from governance.vetting.schemas import ReadinessSummary

    rng = random.Random(seed)
    refunds = complaints * 3 // 10 if refunds is None else refunds

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def sha() -> str:
        return hashlib.sha256(rng.getrandbits(64).to_bytes(8, "big")).hexdigest()

    start, end = date(2026, 1, 1), date(2026, 3, 31)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    span = (end - start).days * 86400

    def when() -> datetime:
        return t0 + timedelta(seconds=rng.randrange(span))

    check_types = ["identity", "criminal_record", "references", "qualification", "safeguarding_training", "interview"]
    mentor_statuses = ["approved"] * 6 + ["lapsed", "pending", "suspended", "revoked"]
    mentor_lines = []
    artifacts = []
    for n in range(mentors):
        registered = when() - timedelta(days=200)
        check_lines = []
        for k in range(checks_per_mentor):
            valid_from = registered + timedelta(days=10 + k)
            documents = [
                c.DocumentLine(
                    document_id=uid(),
                    sha256=sha(),
                    size=rng.randrange(20_000, 2_000_000),
                    media_type="application/pdf",
                    uploaded_at=valid_from,
                )
                for _ in range(documents_per_check)
            ]
            check = c.CheckLine(
                check_id=uid(),
                check_type=check_types[k % len(check_types)],
                state=rng.choice(["passed", "passed", "passed", "waived", "expired"]),
                valid_from=valid_from,
                expires_at=valid_from + timedelta(days=365),
                reviewed_by=f"officer-{rng.randrange(5)}",
                documents=documents,
            )
            check_lines.append(check)
            artifacts.extend(
                c.Artifact(
                    name=f"vetting/mentor-{n:06d}/{check.check_type}/{d.document_id}.pdf",
                    kind="vetting_document",
                    sha256=d.sha256,
                    size=d.size,
                )
                for d in documents
            )
        status = rng.choice(mentor_statuses)
        mentor_lines.append(
            c.MentorLine(
                mentor_id=uid(),
                external_id=f"mentor-{n:06d}",
                jurisdiction=rng.choice(["GB", "FR", "DE", "IE", "NL"]),
                engagement_type=rng.choice(["volunteer", "contractor", "employee"]),
                status=status,
                status_since=registered + timedelta(days=20),
                registered_at=registered,
                first_approved_at=None if status == "pending" else registered + timedelta(days=20),
                checks=check_lines,
            )
        )

    outcomes = ["upheld", "partially_upheld", "not_upheld", None]
    complaint_lines = []
    for _ in range(complaints):
        received = when()
        resolved = received + timedelta(days=rng.randrange(1, 30)) if rng.random() < 0.8 else None
        outcome = rng.choice(outcomes[:3]) if resolved else None
        complaint_lines.append(
            c.ComplaintLine(
                complaint_id=uid(),
                category=rng.choice(CATEGORIES),
                severity=rng.choice(["low", "medium", "high", "critical"]),
                state="resolved" if resolved else rng.choice(["received", "acknowledged", "investigating"]),
                outcome=outcome,
                received_at=received,
                acknowledged_at=received + timedelta(hours=rng.randrange(1, 48)),
                resolved_at=resolved,
                resolve_due_at=received + timedelta(days=20),
                breached=rng.random() < 0.15,
            )
        )
    refund_lines = [
        c.RefundLine(
            refund_id=uid(),
            complaint_id=rng.choice(complaint_lines).complaint_id if complaint_lines and rng.random() < 0.9 else None,
            state=rng.choice(["requested", "approved", "denied", "issued", "issued", "failed"]),
            amount_minor=rng.randrange(500, 20_000),
            currency=rng.choice(["EUR", "GBP"]),
            created_at=(created := when()),
            updated_at=created + timedelta(days=2),
        )
        for _ in range(refunds)
    ]
    dispute_lines = [
        c.DisputeLine(
            dispute_id=uid(),
            attestation_id=uid(),
            tier=rng.choice(["L1", "L1", "L2", "L3"]),
            state=rng.choice(["l1_review", "l2_review", "decided", "decided", "withdrawn"]),
            outcome=rng.choice(["upheld", "amended", "revoked", None]),
            opened_at=(opened := when()),
            decide_due_at=opened + timedelta(days=10),
            closed_at=opened + timedelta(days=rng.randrange(1, 20)) if rng.random() < 0.7 else None,
            breached=rng.random() < 0.1,
        )
        for _ in range(disputes)
    ]
    request_lines = []
    for _ in range(data_requests):
        received = when()
        closed = received + timedelta(days=rng.randrange(1, 40)) if rng.random() < 0.85 else None
        due = received + timedelta(days=30)
        request_lines.append(
            c.DataRequestLine(
                request_id=uid(),
                request_type=rng.choice(["access", "portability", "erasure", "rectification"]),
                state="completed" if closed else "in_progress",
                received_at=received,
                due_at=due,
                closed_at=closed,
                on_time=None if closed is None else closed <= due,
            )
        )

    by_status: dict[str, int] = {}
    for m in mentor_lines:
        by_status[m.status] = by_status.get(m.status, 0) + 1
    active = by_status.get("approved", 0) + by_status.get("lapsed", 0)
    per_month = [
        MonthOfComplaints(
            month=month,
            by_category={cat: sum(1 for x in complaint_lines if x.category == cat and _month(x.received_at) == month)
                         for cat in CATEGORIES},
        )
        for month in ("2026-01", "2026-02", "2026-03")
    ]  # fmt: skip
    judged = sum(1 for x in complaint_lines if x.resolved_at is not None)
    breached = sum(1 for x in complaint_lines if x.breached)
    issued: dict[str, int] = {}
    for r in refund_lines:
        if r.state == "issued":
            issued[r.currency] = issued.get(r.currency, 0) + r.amount_minor
    closed_requests = [r for r in request_lines if r.closed_at is not None]
    on_time = sum(1 for r in closed_requests if r.on_time)
    generated = datetime(2026, 4, 2, 9, 30, tzinfo=UTC)
    checkpoint = (
        "governance.example/audit\n"
        f"{complaints * 4}\n"
        "q8JgVKl0bR4m0JH9tDg5cS2m1f0cJkAqTg3C2Z0m0pE=\n"
        "\n"
        "— governance.example/audit Az3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8kq7C0W0m2p8Jm7c2vZ3k9n1QwE6r5t2Y=\n"
    )
    return c.BundleContents(
        cover=c.Cover(
            bundle_id=uid(),
            title="Accreditation evidence, first quarter 2026",
            period_start=start,
            period_end=end,
            requested_by="officer-a",
            requested_at=generated - timedelta(minutes=3),
            generated_at=generated,
            generator="governance 0.1.0",
            sections=list(c.SECTIONS),
        ),
        vetting_summary=ReadinessSummary(
            as_of=generated,
            mentors_by_status=by_status,
            active_mentors=active,
            active_fully_vetted_and_current=by_status.get("approved", 0),
            share_fully_vetted_and_current=round(by_status.get("approved", 0) / active, 4) if active else None,
            checks_expiring_within_30_days=rng.randrange(100),
            median_days_onboarding_to_approval=19.5,
            requirements_version="2026.1",
        ),
        complaints_summary=ComplaintsSummary(
            period_start=start,
            period_end=end,
            as_of=generated,
            complaints_received=complaints,
            by_category={cat: sum(m.by_category[cat] for m in per_month) for cat in CATEGORIES},
            by_outcome={
                o: sum(1 for x in complaint_lines if (x.outcome or "open") == o)
                for o in ("upheld", "partially_upheld", "not_upheld", "withdrawn", "open")
            },
            per_month=per_month,
            sla=SlaAttainment(
                judged=judged,
                met=judged - breached // 2,
                breached=breached,
                attainment=round((judged - breached // 2) / judged, 4) if judged else None,
            ),
            refunds=RefundFigures(
                requested=refunds,
                by_state={
                    s: sum(1 for r in refund_lines if r.state == s)
                    for s in ("requested", "approved", "denied", "issued", "failed")
                },
                issued_minor_by_currency=issued,
            ),
            disputes=DisputeFigures(
                opened=disputes,
                by_outcome={
                    o: sum(1 for d in dispute_lines if (d.outcome or "open") == o)
                    for o in ("upheld", "amended", "revoked", "open")
                },
                by_tier={t: sum(1 for d in dispute_lines if d.tier == t) for t in ("L1", "L2", "L3")},
                breached=sum(1 for d in dispute_lines if d.breached),
            ),
        ),
        privacy_summary=PrivacySummary(
            period_start=start,
            period_end=end,
            as_of=generated,
            consent_changes_by_purpose={
                "marketing_emails": {"opt_in": 120, "opt_out": 340},
                "employer_sharing": {"opt_in": 800, "opt_out": 75},
                "session_recording": {"opt_in": 55, "opt_out": 12},
            },
            consent_changes_by_method={"explicit": 1200, "gpc": 90, "expired": 112},
            data_requests_received=data_requests,
            data_requests_by_type={},
            data_requests_closed=len(closed_requests),
            data_requests_answered_on_time=on_time,
            share_answered_on_time=round(on_time / len(closed_requests), 4) if closed_requests else None,
            data_requests_open_overdue=rng.randrange(20),
        ),
        mentors=mentor_lines,
        complaints=complaint_lines,
        refunds=refund_lines,
        disputes=dispute_lines,
        data_requests=request_lines,
        audit=c.AuditSection(
            checkpoint=checkpoint,
            origin="governance.example/audit",
            tree_size=complaints * 4,
            root_hash="q8JgVKl0bR4m0JH9tDg5cS2m1f0cJkAqTg3C2Z0m0pE=",
            verifier_key="governance.example/audit+a1b2c3d4+AZ3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8=",
            verify_steps=[
                "sha256sum -c manifest.sha256",
                "python tools/verify_export.py --log audit-export.jsonl --checkpoint checkpoint.txt "
                "--key 'governance.example/audit+a1b2c3d4+AZ3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8='",
            ],
        ),
        artifacts=[
            c.Artifact(name="checkpoint.txt", kind="checkpoint", sha256=sha(), size=len(checkpoint.encode())),
            *artifacts,
        ],
    )


def _month(value: datetime) -> str:
    return value.strftime("%Y-%m")


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


def run_child(args: list[str]) -> tuple[str, float]:
    """Run a child; its stdout and its own peak RSS in MB."""
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
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
    parser.add_argument("--disputes", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000, help="data requests")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the median is reported")
    args = parser.parse_args(argv)
    if args.child:
        kind, source, target = args.child
        child(kind, Path(source), Path(target))
        return 0

    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    contents = synthetic_contents(
        mentors=args.mentors, complaints=args.complaints, disputes=args.disputes, data_requests=args.requests
    )
    built = time.perf_counter() - started
    rows = register_rows(contents)
    out("evidence benchmark: the bundle PDF next to a bare reportlab rendering of the same rows")
    out(f"  machine   {os.cpu_count()} CPUs ({cpu_model()}), {platform.platform()}")
    out(f"  python    {platform.python_version()} ({sys.executable})")
    import reportlab

    out(f"  reportlab {reportlab.Version}")
    out(
        f"  method    {args.mentors:,} mentors, {args.complaints:,} complaints, {args.disputes:,} disputes, "
        f"{args.requests:,} data requests: {len(rows):,} register rows (built in {built:.1f}s)"
    )
    out(f"            each run in its own child; ours and bare alternate {args.repeats} times; figures are MEDIANS")
    out()
    with tempfile.TemporaryDirectory(prefix="governance-bench-evidence-") as tmp:
        source = Path(tmp) / "contents.msgpack"
        source.write_bytes(msgspec.msgpack.encode(contents))
        del contents
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
                f"{kind:<5} {pages:>6,} pages  {seconds(elapsed)}  {pages / elapsed:8.1f} pages/s  "
                f"{len(rows) / elapsed:9,.0f} rows/s  peak RSS {rss:6.1f} MB  "
                f"(runs: {', '.join(f'{r[1]:.2f}s' for r in results)})"
            )
        (p_ours, s_ours, rss_ours), (p_bare, s_bare, rss_bare) = figures["ours"], figures["bare"]
        ratio = 100 * (p_ours / s_ours) / (p_bare / s_bare)
        row_ratio = 100 * s_bare / s_ours
        out(f"ratio  pages/s ours / bare {ratio:5.1f}%  {verdict(ratio)}")
        out(f"       rows/s  ours / bare {row_ratio:5.1f}%  (for scale: ours puts more rows on a page)")
        met = "met" if rss_ours < RSS_TARGET_MB else "MISSED"
        out(f"memory peak RSS ours {rss_ours:.1f} MB, bare {rss_bare:.1f} MB  (target < {RSS_TARGET_MB:.0f} MB: {met})")
        started = time.perf_counter()
        output, rss = run_child(
            [sys.executable, "-m", "governance.evidence.render", str(source), str(Path(tmp) / "entry.pdf")]
        )
        wall = time.perf_counter() - started
        done = [line for line in output.splitlines() if line.startswith("done ")]
        progress = sum(1 for line in output.splitlines() if line.startswith("progress "))
        out(
            f"entry  python -m governance.evidence.render: {wall:.2f}s wall (start-up and decoding included), "
            f"{progress} progress lines, peak RSS {rss:.1f} MB, {done[-1] if done else 'NO done LINE'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
