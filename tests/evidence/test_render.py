"""The evidence bundle PDF: sections, figures, page numbers, metadata, registers, the child process."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pypdf
import pytest
from reportlab import rl_config

from governance.complaints.schemas import (
    AgreementFigure,
    AgreementFigures,
    ComplaintsSummary,
    DisputeFigures,
    MonthOfComplaints,
    RefundFigures,
    SlaAttainment,
)
from governance.evidence import render as render_module
from governance.evidence.contents import (
    SECTIONS,
    Artifact,
    AuditSection,
    BundleContents,
    CheckLine,
    ComplaintLine,
    Cover,
    DataRequestLine,
    DisputeLine,
    DocumentLine,
    MentorLine,
    RefundLine,
)
from governance.evidence.registers import money, percent
from governance.evidence.render import SECTION_TITLES, RenderFailed, render, render_in_subprocess
from governance.privacy.schemas import PrivacySummary
from governance.vetting.schemas import ReadinessSummary

ROOT = Path(__file__).resolve().parents[2]
GENERATED = datetime(2026, 4, 2, 9, 30, 15, tzinfo=UTC)
BUNDLE_ID = "b7a0c3e2-5d4f-4e61-9a1b-0c2d3e4f5a6b"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def ident(kind: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{n}"))


def digest(kind: str, n: int) -> str:
    return hashlib.sha256(f"{kind}/{n}".encode()).hexdigest()


def make_contents(
    *,
    sections: Sequence[str] = SECTIONS,
    mentors: int = 3,
    complaints: int = 5,
    refunds: int = 2,
    disputes: int = 2,
    requests: int = 2,
    mentor_filter: list[str] | None = None,
) -> BundleContents:
    mentor_lines = [
        MentorLine(
            mentor_id=ident("mentor", n),
            external_id=f"ext-{n:05d}",
            jurisdiction="GB",
            engagement_type="contractor",
            status="approved" if n % 3 else "lapsed",
            status_since=T0,
            registered_at=T0 - timedelta(days=60),
            first_approved_at=T0 - timedelta(days=30),
            checks=[
                CheckLine(
                    check_id=ident("check", n * 10 + k),
                    check_type=f"check_{k}",
                    state="passed",
                    valid_from=T0 - timedelta(days=k),
                    expires_at=T0 + timedelta(days=365),
                    reviewed_by="officer-a",
                    documents=[
                        DocumentLine(
                            document_id=ident("document", n * 100 + k * 10 + d),
                            sha256=digest("document", n * 100 + k * 10 + d),
                            size=1000 + d,
                            media_type="application/pdf",
                            uploaded_at=T0,
                        )
                        for d in range(k % 3)  # 0, 1 or 2 documents
                    ],
                )
                for k in range(3)
            ],
        )
        for n in range(mentors)
    ]
    complaint_lines = [
        ComplaintLine(
            complaint_id=ident("complaint", n),
            category="billing",
            severity="low",
            state="resolved",
            outcome="upheld",
            received_at=T0 + timedelta(hours=n),
            acknowledged_at=T0 + timedelta(hours=n + 1),
            resolved_at=T0 + timedelta(days=3, hours=n),
            resolve_due_at=T0 + timedelta(days=10),
            breached=n % 7 == 0,
        )
        for n in range(complaints)
    ]
    refund_lines = [
        RefundLine(
            refund_id=ident("refund", n),
            complaint_id=ident("complaint", n) if complaints else None,
            state="issued",
            amount_minor=1250 + n,
            currency="EUR",
            created_at=T0,
            updated_at=T0 + timedelta(days=1),
        )
        for n in range(refunds)
    ]
    dispute_lines = [
        DisputeLine(
            dispute_id=ident("dispute", n),
            attestation_id=ident("attestation", n),
            tier="L1",
            state="decided",
            outcome="upheld",
            opened_at=T0,
            decide_due_at=T0 + timedelta(days=10),
            closed_at=T0 + timedelta(days=5),
            breached=False,
        )
        for n in range(disputes)
    ]
    request_lines = [
        DataRequestLine(
            request_id=ident("request", n),
            request_type="access",
            state="completed",
            received_at=T0,
            due_at=T0 + timedelta(days=30),
            closed_at=T0 + timedelta(days=12),
            on_time=True,
        )
        for n in range(requests)
    ]
    artifacts = [
        Artifact(name=f"vetting/{d.document_id}.pdf", kind="vetting_document", sha256=d.sha256, size=d.size)
        for m in mentor_lines
        for c in m.checks
        for d in c.documents
    ]
    artifacts.insert(0, Artifact(name="checkpoint.txt", kind="checkpoint", sha256=digest("checkpoint", 0), size=210))
    return BundleContents(
        cover=Cover(
            bundle_id=BUNDLE_ID,
            title="Accreditation evidence Q1 2026",
            period_start=date(2026, 1, 1),
            period_end=date(2026, 3, 31),
            requested_by="officer-a",
            requested_at=GENERATED - timedelta(minutes=2),
            generated_at=GENERATED,
            generator="governance 0.1.0",
            sections=list(sections),
            mentor_filter=mentor_filter,
        ),
        vetting_summary=ReadinessSummary(
            as_of=GENERATED,
            mentors_by_status={"approved": 4, "lapsed": 2, "suspended": 1, "pending": 0},
            active_mentors=6,
            active_fully_vetted_and_current=4,
            share_fully_vetted_and_current=0.6667,
            checks_expiring_within_30_days=3,
            median_days_onboarding_to_approval=17.5,
            requirements_version="2026.1",
        ),
        complaints_summary=ComplaintsSummary(
            period_start=date(2026, 1, 1),
            period_end=date(2026, 3, 31),
            as_of=GENERATED,
            complaints_received=12,
            by_category={"session_quality": 5, "billing": 4, "safeguarding": 3},
            by_outcome={"upheld": 6, "partially_upheld": 2, "not_upheld": 1, "withdrawn": 1, "open": 2},
            per_month=[
                MonthOfComplaints(month="2026-01", by_category={"session_quality": 2, "billing": 1, "safeguarding": 1}),
                MonthOfComplaints(month="2026-02", by_category={"session_quality": 2, "billing": 2, "safeguarding": 0}),
                MonthOfComplaints(month="2026-03", by_category={"session_quality": 1, "billing": 1, "safeguarding": 2}),
            ],
            sla=SlaAttainment(judged=8, met=7, breached=1, attainment=0.875),
            refunds=RefundFigures(
                requested=5,
                by_state={"requested": 1, "approved": 1, "denied": 1, "issued": 2, "failed": 0},
                issued_minor_by_currency={"EUR": 123456, "JPY": 5000},
            ),
            disputes=DisputeFigures(
                opened=4,
                by_outcome={"upheld": 2, "amended": 1, "revoked": 0, "withdrawn": 0, "open": 1},
                by_tier={"L1": 3, "L2": 1, "L3": 0},
                breached=1,
            ),
            agreement=AgreementFigures(
                window_start=date(2026, 1, 1),
                window_end=date(2026, 3, 31),
                minimum_ratings=20,
                confidence=0.95,
                resamples=1000,
                seed=16,
                platform=AgreementFigure(
                    template=None,
                    template_version=None,
                    name=None,
                    units=30,
                    pairable_ratings=64,
                    mentors=12,
                    alpha=0.8154,
                    interval_low=0.7012,
                    interval_high=0.9034,
                ),
                by_template=[
                    AgreementFigure(
                        template="system-design",
                        template_version="2026.1",
                        name="System design readiness",
                        units=4,
                        pairable_ratings=9,
                        mentors=5,
                        alpha=None,
                        interval_low=None,
                        interval_high=None,
                    )
                ],
            ),
        ),
        privacy_summary=PrivacySummary(
            period_start=date(2026, 1, 1),
            period_end=date(2026, 3, 31),
            as_of=GENERATED,
            consent_changes_by_purpose={"marketing_emails": {"opt_in": 11, "opt_out": 23}},
            consent_changes_by_method={"explicit": 30, "gpc": 4},
            data_requests_received=10,
            data_requests_by_type={"access": 7, "erasure": 3},
            data_requests_closed=10,
            data_requests_answered_on_time=9,
            share_answered_on_time=0.9,
            data_requests_open_overdue=0,
        ),
        mentors=mentor_lines,
        complaints=complaint_lines,
        refunds=refund_lines,
        disputes=dispute_lines,
        data_requests=request_lines,
        audit=AuditSection(
            checkpoint="governance.test/audit\n42\nq8JgVKl0bR4m0JH9tDg5cS2m1f0cJkAqTg3C2Z0m0pE=\n\n"
            "— governance.test/audit Az3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8kq7C0W0=\n",
            origin="governance.test/audit",
            tree_size=42,
            root_hash="q8JgVKl0bR4m0JH9tDg5cS2m1f0cJkAqTg3C2Z0m0pE=",
            verifier_key="governance.test/audit+1a2b3c4d+AZ3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8=",
            verify_steps=["sha256sum -c manifest.sha256", "python tools/verify_export.py --checkpoint checkpoint.txt"],
        ),
        artifacts=artifacts,
    )


def text_of(path: Path) -> list[str]:
    """Each page's text with whitespace collapsed (pypdf breaks lines between table cells)."""
    reader = pypdf.PdfReader(path)
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def contents_entries(pages: list[str]) -> dict[str, int]:
    """The page numbers the contents page names, by section title."""
    contents = next(page for page in pages if " Contents " in f" {page} ")
    entries = {}
    for key, title in SECTION_TITLES.items():
        found = re.search(re.escape(title) + r"(?: \.)+ (\d+)", contents)
        if found:
            entries[key] = int(found.group(1))
    return entries


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, list[str]]:
    """One bundle, rendered and read once for the tests that only read it (each render and
    extraction costs seconds)."""
    out = tmp_path_factory.mktemp("rendered") / "bundle.pdf"
    result = render(make_contents(mentors=30, complaints=120, disputes=70, requests=60), out, invariant=True)
    return out, result, text_of(out)


# --- formatting -------------------------------------------------------------------------------


def test_percent_and_money_formats() -> None:
    assert percent(0.6667) == "66.67%"
    assert percent(1.0) == "100.00%"
    assert percent(0.0) == "0.00%"
    assert percent(0.875) == "87.50%"
    assert percent(None) == "n/a"
    assert money(123456, "EUR") == "EUR 1234.56"
    assert money(5, "GBP") == "GBP 0.05"
    assert money(5000, "JPY") == "JPY 5000"
    assert money(1234, "KWD") == "KWD 1.234"


# --- the document -----------------------------------------------------------------------------


def test_every_section_heading_is_present_and_the_result_describes_the_file(
    rendered: tuple[Path, Any, list[str]],
) -> None:
    out, result, pages = rendered
    data = out.read_bytes()
    assert result.pages == len(pages)
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    body = " ".join(pages[2:])  # after the cover and the contents page
    for title in SECTION_TITLES.values():
        assert title in body, title
    assert not list(out.parent.glob("*.partial"))


def test_cover_names_the_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle.pdf"
    render(make_contents(mentor_filter=["ext-00001", "ext-00002"]), out)
    cover = text_of(out)[0]
    for expected in (
        "Accreditation evidence Q1 2026",
        "Period: 2026-01-01 to 2026-03-31",
        f"Bundle id: {BUNDLE_ID}",
        "Requested by: officer-a",
        "Requested at: 2026-04-02T09:28:15Z",
        "Generated at: 2026-04-02T09:30:15Z",
        "Generator: governance 0.1.0",
        "Mentor filter: ext-00001, ext-00002",
    ):
        assert expected in cover, expected


def test_summary_prints_the_figures_as_they_are(rendered: tuple[Path, Any, list[str]]) -> None:
    _, _, pages = rendered
    start = contents_entries(pages)["summary"]
    summary = " ".join(pages[start - 1 : contents_entries(pages)["vetting"] - 1])
    for expected in (
        "Share fully vetted and current: 66.67%",
        "Active mentors (approved or lapsed) 6",
        "Active, fully vetted and current 4",
        "Checks expiring within 30 days 3",
        "Median days from onboarding to approval 17.5",
        "Mentors by status approved 4 lapsed 2 suspended 1 pending 0",
        "Complaints received: 12",
        "SLA attainment: 87.50% (7 of 8 judged resolved in time; 1 breached a target)",
        "Complaints by category session_quality 5 billing 4 safeguarding 3",
        "Complaints by outcome upheld 6 partially_upheld 2 not_upheld 1 withdrawn 1 open 2",
        "Refunds requested: 5",
        "Refunds by state requested 1 approved 1 denied 1 issued 2 failed 0",
        "EUR EUR 1234.56 (123456 minor units)",
        "JPY JPY 5000 (5000 minor units)",
        "Disputes opened: 4; breached a deadline: 1",
        "Disputes by outcome upheld 2 amended 1 revoked 0 withdrawn 0 open 1",
        "Disputes by highest tier reached L1 3 L2 1 L3 0",
        "Mentor agreement (Krippendorff's alpha, ordinal)",
        "All templates 0.815 [0.701, 0.903], 64 ratings, 12 mentors",
        "System design readiness (2026.1) not enough data (9 pairable ratings)",
        "Data requests answered on time: 9 of 10 closed (90.00%)",
        "Data requests received 10",
        # the charts' titles and labels
        "Complaints received per month, by category",
        "SLA attainment",
        "Mentors by vetting status",
        "approved (4)",
    ):
        assert expected in summary, expected


def test_contents_names_the_page_of_each_section(rendered: tuple[Path, Any, list[str]]) -> None:
    _, _, pages = rendered
    entries = contents_entries(pages)
    # The policies in force, the appendices and the sign-off are in every bundle.
    assert list(entries) == [*SECTIONS[:-1], "policies", "audit", "appendix", "policy_texts", "signoff"]
    assert list(entries.values()) == sorted(entries.values())
    for key, page in entries.items():
        # the heading opens its page, right after the running header
        assert pages[page - 1].split("Page ")[1].split(" ", 3)[3].startswith(SECTION_TITLES[key]), key
        assert SECTION_TITLES[key] not in pages[page - 2] or page - 2 == 1, key  # not on the page before


def test_every_page_has_the_header_and_page_n_of_m(rendered: tuple[Path, Any, list[str]]) -> None:
    _, _, pages = rendered
    total = len(pages)
    assert total > 10
    for number, page in enumerate(pages, start=1):
        assert f"Evidence bundle {BUNDLE_ID}" in page, number
        assert "Accreditation evidence Q1 2026" in page, number
        assert f"Page {number} of {total}" in page, number


def test_metadata(rendered: tuple[Path, Any, list[str]]) -> None:
    out, _, _ = rendered
    meta = pypdf.PdfReader(out).metadata
    assert meta is not None
    assert meta.title == "Accreditation evidence Q1 2026"
    assert meta.author == "governance 0.1.0"
    assert meta.creator == "governance 0.1.0"
    assert meta.subject == f"Evidence bundle {BUNDLE_ID} for 2026-01-01 to 2026-03-31"
    assert meta.creation_date == GENERATED


def test_invariant_output_is_byte_identical(tmp_path: Path) -> None:
    contents = make_contents(mentors=5, complaints=60)
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    a85 = rl_config.useA85
    a = render(contents, first, invariant=True)
    b = render(contents, second, invariant=True)
    assert first.read_bytes() == second.read_bytes()
    assert a == b
    assert rl_config.useA85 == a85  # the binary-streams switch is set for a render only


def test_progress_rises_to_one(tmp_path: Path) -> None:
    seen: list[float] = []
    render(make_contents(complaints=300), tmp_path / "bundle.pdf", progress=seen.append)
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert len(seen) > 5


# --- registers --------------------------------------------------------------------------------


def test_large_registers_split_across_pages_and_list_every_record(tmp_path: Path) -> None:
    contents = make_contents(mentors=80, complaints=400, refunds=150, disputes=130, requests=120)
    out = tmp_path / "bundle.pdf"
    render(contents, out)
    pages = text_of(out)
    entries = contents_entries(pages)
    complaints_pages = pages[entries["complaints"] - 1 : entries["disputes"] - 1]
    assert len(complaints_pages) >= 8
    for page in complaints_pages[1:]:
        assert "Complaint Category Severity State" in page or "Refund Complaint State Amount" in page
    text = " ".join(pages)
    records = [
        *(c.complaint_id for c in contents.complaints),
        *(r.refund_id for r in contents.refunds),
        *(d.dispute_id for d in contents.disputes),
        *(r.request_id for r in contents.data_requests),
        *(m.external_id for m in contents.mentors),
        *(a.sha256 for a in contents.artifacts),
    ]
    missing = [record for record in records if record not in text]
    assert not missing
    # every document's full SHA-256 in the vetting register itself
    vetting = " ".join(pages[entries["vetting"] - 1 : entries["complaints"] - 1])
    hashes = [d.sha256 for m in contents.mentors for c in m.checks for d in c.documents]
    assert len(hashes) == 80 * 3
    assert all(h in vetting for h in hashes)
    assert "no documents" in vetting
    assert "EUR 12.50" in text  # refund amounts in major units


def test_sections_not_requested_are_absent(tmp_path: Path) -> None:
    out = tmp_path / "bundle.pdf"
    render(make_contents(sections=["complaints", "audit"]), out)
    pages = text_of(out)
    text = " ".join(pages)
    assert list(contents_entries(pages)) == ["complaints", "policies", "audit", "appendix", "policy_texts", "signoff"]
    for key in ("summary", "vetting", "disputes", "privacy"):
        assert SECTION_TITLES[key] not in text, key
    assert ident("dispute", 0) not in text
    assert "ext-00001" not in text
    assert ident("complaint", 0) in text
    assert "Tree size: 42" in text
    assert "1. sha256sum -c manifest.sha256" in text
    assert "2. python tools/verify_export.py --checkpoint checkpoint.txt" in text
    assert "governance.test/audit+1a2b3c4d+AZ3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8=" in text
    assert "— governance.test/audit Az3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8kq7C0W0=" in text


def test_empty_registers_say_so(tmp_path: Path) -> None:
    contents = msgspec.structs.replace(
        make_contents(mentors=0, complaints=0, refunds=0, disputes=0, requests=0),
        artifacts=[],
        audit=None,
        privacy_summary=None,
    )
    out = tmp_path / "bundle.pdf"
    render(contents, out)
    text = " ".join(text_of(out))
    for sentence in (
        "No mentors are in scope of this bundle.",
        "No complaints were received in this period.",
        "No refunds were requested in this period.",
        "No disputes were opened in this period.",
        "No data requests were received in this period.",
        "No consent changes were recorded in this period.",
        "No checkpoint of the audit log is part of this bundle.",
        "No artifacts are listed.",
        "Privacy figures are not part of this bundle.",
    ):
        assert sentence in text, sentence
    assert "Complaint Category Severity" not in text  # no empty table


# --- the child process ------------------------------------------------------------------------


def run_entry_point(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "governance.evidence.render", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_entry_point_renders_and_reports_progress(tmp_path: Path) -> None:
    source, out = tmp_path / "contents.msgpack", tmp_path / "bundle.pdf"
    contents = make_contents(complaints=200)
    source.write_bytes(msgspec.msgpack.encode(contents))
    completed = run_entry_point(str(source), str(out), "--invariant")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    progress = [float(line.split()[1]) for line in lines if line.startswith("progress ")]
    assert progress[0] == 0.0
    assert progress[-1] == 1.0
    assert len(progress) > 3
    kind, pages, sha256, size = lines[-1].split()
    assert kind == "done"
    data = out.read_bytes()
    assert (int(pages), sha256, int(size)) == (
        len(pypdf.PdfReader(out).pages),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    # the same bytes as in this process
    assert render(contents, tmp_path / "here.pdf", invariant=True).sha256 == sha256


def test_entry_point_fails_clearly_on_a_corrupt_file(tmp_path: Path) -> None:
    source, out = tmp_path / "contents.msgpack", tmp_path / "bundle.pdf"
    source.write_bytes(b"\x93not a bundle")
    completed = run_entry_point(str(source), str(out))
    assert completed.returncode != 0
    assert "cannot read the bundle contents" in completed.stderr
    assert "done" not in completed.stdout
    assert not out.exists()


async def test_render_in_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "bundle.pdf"
    seen: list[float] = []
    contents = make_contents(complaints=150)
    result = await render_in_subprocess(contents, out, on_progress=seen.append, invariant=True)
    data = out.read_bytes()
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert sorted(os.listdir(tmp_path)) == ["bundle.pdf"]  # the contents file is gone
    assert result == render(contents, tmp_path / "here.pdf", invariant=True)


async def test_a_failing_child_raises_render_failed_with_its_error(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()  # the PDF cannot be moved into place: the child fails
    with pytest.raises(RenderFailed) as failed:
        await render_in_subprocess(make_contents(), out, on_progress=None)
    assert failed.value.returncode == 1
    assert "failed to render" in str(failed.value)
    assert "IsADirectoryError" in failed.value.stderr
    assert sorted(os.listdir(tmp_path)) == ["taken"]  # no contents file, no partial PDF left


async def test_a_corrupt_contents_file_raises_render_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the child does with a file it cannot decode, seen through the helper.
    monkeypatch.setattr(render_module.msgspec.msgpack, "encode", lambda _: b"\xc1garbage")
    with pytest.raises(RenderFailed, match="cannot read the bundle contents"):
        await render_in_subprocess(make_contents(), tmp_path / "bundle.pdf", on_progress=None)
    assert os.listdir(tmp_path) == []


async def test_cancelling_kills_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    processes: list[asyncio.subprocess.Process] = []
    spawn = asyncio.create_subprocess_exec

    async def recording(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        process = await spawn(*args, **kwargs)
        processes.append(process)
        return process

    monkeypatch.setattr(render_module.asyncio, "create_subprocess_exec", recording)
    started = asyncio.Event()

    def on_progress(value: float) -> None:
        started.set()

    out = tmp_path / "bundle.pdf"
    task = asyncio.create_task(
        render_in_subprocess(make_contents(mentors=300, complaints=6000), out, on_progress=on_progress)
    )
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (process,) = processes
    assert process.returncode is not None  # killed and reaped
    assert process.returncode < 0
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)
    assert not out.exists()
    assert os.listdir(tmp_path) == []  # neither the contents file nor a partial PDF


# --- what a reviewer missed (issue 12, item 13) ---------------------------------------------


def _axis_labels(drawing: Any) -> list[str]:
    """The value axis's tick labels as the chart prints them."""
    from reportlab.graphics.charts.barcharts import BarChart

    [chart] = [shape for shape in drawing.contents if isinstance(shape, BarChart)]
    chart.draw()  # lays out the axis: its ticks exist from here
    axis = chart.valueAxis
    return [axis.labelTextFormat % value for value in axis._tickValues]


@pytest.mark.parametrize("largest", [1, 2, 3, 4, 7, 11, 23, 99, 1234])
def test_chart_axes_label_each_count_once(largest: int) -> None:
    from governance.evidence import charts

    months = [
        MonthOfComplaints(month="2026-01", by_category={"billing": 1}),
        MonthOfComplaints(month="2026-02", by_category={"billing": largest}),
    ]
    sla = SlaAttainment(judged=largest, met=largest // 2, breached=largest - largest // 2, attainment=0.5)
    for drawing in (charts.complaints_per_month(months, 500), charts.sla_attainment(sla, 500)):
        labels = _axis_labels(drawing)
        assert len(labels) == len(set(labels)), labels  # reportlab's own step printed "0 0 1 1 2"
        values = [int(label) for label in labels]
        assert values[0] == 0 and values[-1] >= largest, labels
        assert len({b - a for a, b in itertools.pairwise(values)}) == 1, labels


def test_each_chart_shares_its_page_with_the_figures_it_draws(tmp_path: Path) -> None:
    out = tmp_path / "summary.pdf"
    render(make_contents(sections=["summary"], mentors=1, complaints=1, refunds=0, disputes=0, requests=0), out)
    pages = text_of(out)
    for chart, figures in (
        ("Mentors by vetting status", "Mentors by status approved 4"),
        ("SLA attainment (", "SLA attainment: "),
        ("Complaints received per month, by category", "Complaints by category session_quality 5"),
    ):
        holding = [page for page in pages if chart.rstrip(" (") in page.replace(figures, "")]
        assert len(holding) == 1, chart
        assert figures in holding[0], f"{chart} is on a page without the figures it draws"


def test_reasons_never_approved_policies_and_sign_off_are_printed(tmp_path: Path) -> None:
    from governance.evidence.contents import ERASED, PolicyVersion, ReasonLine, SignOff

    base = make_contents(mentors=2, complaints=2, disputes=1)
    long_reason = " ".join(f"word{n}" for n in range(120))  # several lines in its column
    applicant = msgspec.structs.replace(base.mentors[0], external_id="ext-applicant", status="onboarding")
    policy_text = '# SLA\n[calendar]\ntime_zone = "Europe/London"\n' + "# " + "x" * 200 + "\n"
    contents = msgspec.structs.replace(
        base,
        cover=msgspec.structs.replace(base.cover, requested_by_roles=["compliance_officer"]),
        mentors_never_approved=[applicant],
        vetting_reasons=[
            ReasonLine("ext-00001", "approve: confirmed", "officer-a, officer-b", T0, "All checks current"),
            ReasonLine("ext-applicant interview", "waiver justification", "officer-b", T0, long_reason),
        ],
        complaint_reasons=[ReasonLine(ident("refund", 0), "refund denied", "agent-1", T0, "Session took place")],
        dispute_reasons=[ReasonLine(ident("dispute", 0), "L1: upheld", "agent-1", T0, ERASED)],
        policies=[
            PolicyVersion(
                name="sla.toml",
                label=None,
                sha256=digest("policy", 1),
                size=len(policy_text),
                in_force_from=T0 - timedelta(days=90),
                in_force_until=T0 + timedelta(days=20),
                text=policy_text,
            ),
            PolicyVersion(
                name="sla.toml",
                label="2026.2",
                sha256=digest("policy", 2),
                size=10,
                in_force_from=T0 + timedelta(days=20),
                in_force_until=None,
                text="# the second version\n",
            ),
        ],
        sign_off=SignOff(requested_by="officer-a", roles=["compliance_officer"], requested_at=T0, request_entry=17),
    )
    out = tmp_path / "bundle.pdf"
    render(contents, out)
    pages = text_of(out)
    text = " ".join(pages)
    vetting = text.split("Mentors registered but never approved", 1)[1]
    assert "ext-applicant" in vetting.split("Reasons for vetting decisions and waivers")[0]
    reasons = vetting.split("Reasons for vetting decisions and waivers")[1]
    assert "All checks current" in reasons and all(f"word{n}" in reasons for n in range(120))
    assert "Session took place" in text.split("Reasons for complaint resolutions and refund decisions")[1]
    assert ERASED in text.split("Reasons for dispute decisions")[1]
    policies = text.rsplit("Policies in force during the period", 1)[1]
    assert digest("policy", 1) in policies and digest("policy", 2) in policies and "still in force" in policies
    appendix = text.rsplit("Appendix: policy texts", 1)[1]
    assert 'time_zone = "Europe/London"' in appendix and "# the second version" in appendix
    assert "x" * 100 in appendix.replace(" ", ""), "a long line is folded, not cut"
    sign_off = pages[-1]
    assert sign_off.index("Sign-off") < sign_off.index("Officer officer-a")
    for line in (
        "Role(s) when requesting compliance_officer",
        "Requested at 2026-01-05T08:00:00Z",
        "Request in the audit log entry 17",
        "Tree size 42",
        "q8JgVKl0bR4m0JH9tDg5cS2m1f0cJkAqTg3C2Z0m0pE=",
        "— governance.test/audit Az3YpA0Jq0x8u1Ef0bS3m9fZQ3CkD3q0H6p4p2m0nV8kq7C0W0=",
    ):
        assert line in sign_off, line
    assert sign_off.index("Officer officer-a") < sign_off.index("Bound by checkpoint") < sign_off.index("Tree size")
