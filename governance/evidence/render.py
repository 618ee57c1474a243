"""Render an evidence bundle (``BundleContents``) as one PDF with reportlab.

reportlab holds the whole document in memory and is not thread-safe, so the service
renders in a child process: ``render_in_subprocess`` encodes the contents (msgpack) to a
file next to the output and runs ``python -m governance.evidence.render IN OUT``, which
prints ``progress 0.42`` lines and a final ``done PAGES SHA256 SIZE``. ``render`` does
the work in the current process (tests call it directly).

Page numbers in one pass. Every page's footer ("Page N of M") and every line of the
contents page are PDF form XObjects that the pages refer to by name while the document
is laid out and that are defined once the layout is finished, when the total and the
page of each section heading are known (a PDF may refer to an XObject defined later;
reportlab's ``doForm`` allows it). So the document is laid out once (no ``multiBuild``),
and nothing of a finished page is kept beyond what reportlab keeps anyway (unlike the
``NumberedCanvas`` recipe, which holds every page's state until the end).

Large registers cost little memory and time: see ``registers`` (one page-sized table
at a time). Numbers are printed as they are: counts as plain integers, shares with
``registers.percent``, money with ``registers.money``.

In this order: page geometry and paragraph styles, the document (its flowables, the
story of every section, :func:`render`), and the child process's entry point (:func:`main`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any, Final
from xml.sax.saxutils import escape

import msgspec
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Preformatted,
    Spacer,
    Table,
)

from governance.complaints.schemas import AgreementFigure, AgreementFigures
from governance.evidence import charts
from governance.evidence.contents import BundleContents, SignOff
from governance.evidence.registers import (
    BOLD,
    FONT,
    HEAD,
    MONO,
    NONE,
    RULE,
    Progress,
    Register,
    Rows,
    day,
    money,
    percent,
    registers,
    stamp,
)

__all__ = [
    "SECTION_TITLES",
    "RenderFailed",
    "RenderResult",
    "main",
    "money",
    "percent",
    "render",
    "render_in_subprocess",
]


class RenderResult(msgspec.Struct, frozen=True):
    pages: int
    sha256: str
    size: int


class RenderFailed(Exception):
    """The renderer could not produce the PDF; ``stderr`` holds the end of the child's error output."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


PORTRAIT: Final = A4
LANDSCAPE: Final = landscape(A4)
MARGIN: Final = 36.0
TOP: Final = 54.0  # room for the header
BOTTOM: Final = 46.0  # room for the footer

SECTION_TITLES: Final[dict[str, str]] = {
    "summary": "Executive summary",
    "vetting": "Vetting register",
    "complaints": "Complaints and refunds register",
    "disputes": "Disputes register",
    "privacy": "Privacy: consent changes and data requests",
    "policies": "Policies in force during the period",
    "audit": "Audit log checkpoint",
    "appendix": "Appendix: manifest of artifacts",
    "policy_texts": "Appendix: policy texts",
    "signoff": "Sign-off",
}
_ORIENTATION: Final = {
    "summary": "portrait",
    "vetting": "landscape",
    "complaints": "landscape",
    "disputes": "landscape",
    "privacy": "landscape",
    "audit": "portrait",
    "policies": "landscape",
    "appendix": "landscape",
    "policy_texts": "portrait",
    "signoff": "portrait",
}

_STYLES: Final = {
    "title": ParagraphStyle("title", fontName=BOLD, fontSize=22, leading=28, spaceAfter=18),
    "h1": ParagraphStyle("h1", fontName=BOLD, fontSize=15, leading=19, spaceAfter=10),
    "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=10.5, leading=14, spaceBefore=10, spaceAfter=4),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, alignment=TA_LEFT),
    "cover": ParagraphStyle("cover", fontName=FONT, fontSize=10.5, leading=16),
    "note": ParagraphStyle("note", fontName=FONT, fontSize=8, leading=10, textColor=colors.HexColor("#444444")),
    "mono": ParagraphStyle("mono", fontName=MONO, fontSize=7.5, leading=9.5),
    "step": ParagraphStyle("step", fontName=MONO, fontSize=7.5, leading=9.5, leftIndent=16, firstLineIndent=-16),
    "policy": ParagraphStyle("policy", fontName=MONO, fontSize=6.5, leading=8),
}
# Characters of a policy text's line in the portrait frame at 6.5 pt Courier (3.9 pt each).
POLICY_LINE: Final = 130


class _Heading(Paragraph):  # type: ignore[misc]
    """A section heading: the contents page names the page it lands on."""

    def __init__(self, key: str) -> None:
        super().__init__(escape(SECTION_TITLES[key]), _STYLES["h1"])
        self.key = key


class _ContentsLine(Flowable):  # type: ignore[misc]
    """One line of the contents page: a form XObject defined once the section's page is known."""

    def __init__(self, key: str, width: float) -> None:
        super().__init__()
        self.key = key
        self.width = width
        self.height = 18.0

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self.canv.doForm(f"toc_{self.key}")
        self.canv.linkRect("", self.key, (0, 0, self.width, self.height - 4), relative=1, thickness=0)


@dataclass
class _Layout:
    """What the layout learns: the page of each section heading."""

    section_pages: dict[str, int] = field(default_factory=dict)


class _BundleDocument(BaseDocTemplate):  # type: ignore[misc]
    def __init__(self, out: str, contents: BundleContents, progress: Progress, invariant: bool) -> None:
        cover = contents.cover
        self.contents = contents
        self.progress = progress
        self.layout = _Layout()
        self.header_text = f"Evidence bundle {cover.bundle_id}"
        self.title_text = cover.title
        super().__init__(
            out,
            pagesize=PORTRAIT,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=TOP,
            bottomMargin=BOTTOM,
            title=cover.title,
            author=cover.generator,
            subject=f"Evidence bundle {cover.bundle_id} for {day(cover.period_start)} to {day(cover.period_end)}",
            creator=cover.generator,
            producer=f"{cover.generator} (ReportLab)",
            invariant=1 if invariant else 0,
            pageCompression=1,
        )
        templates = []
        for name, size in (("portrait", PORTRAIT), ("landscape", LANDSCAPE)):
            frame = Frame(MARGIN, BOTTOM, size[0] - 2 * MARGIN, size[1] - TOP - BOTTOM, id=name)
            templates.append(PageTemplate(id=name, frames=[frame], onPage=self._decorate, pagesize=size))
        self.addPageTemplates(templates)
        self._doSave = 0  # the forms are defined after the layout, then the canvas is saved

    def _decorate(self, canv: Canvas, doc: BaseDocTemplate) -> None:
        width, height = canv._pagesize
        page = canv.getPageNumber()
        canv.saveState()
        canv.setFont(FONT, 7.5)
        canv.setFillColor(colors.HexColor("#333333"))
        canv.drawString(MARGIN, height - 30, self.header_text)
        canv.drawRightString(width - MARGIN, height - 30, _fit(self.title_text, FONT, 7.5, width / 2))
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.5)
        canv.line(MARGIN, height - 35, width - MARGIN, height - 35)
        canv.line(MARGIN, 34, width - MARGIN, 34)
        canv.translate(width / 2, 22)
        canv.doForm(f"page_{page}")
        canv.restoreState()

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            self.layout.section_pages[flowable.key] = self.page
            self.canv.bookmarkPage(flowable.key)
            self.canv.addOutlineEntry(SECTION_TITLES[flowable.key], flowable.key, level=0)
        rows = getattr(flowable, "_evidence_rows", None)
        self.progress.advance(rows if rows is not None else 1)

    def finish(self, contents_width: float) -> int:
        """Define the forms the pages refer to, then write the file; the number of pages."""
        canv = self.canv
        total = canv.getPageNumber() - 1
        for page in range(1, total + 1):
            canv.beginForm(f"page_{page}", lowerx=-100, lowery=-2, upperx=100, uppery=10)
            canv.setFont(FONT, 7.5)
            canv.setFillColor(colors.HexColor("#333333"))
            canv.drawCentredString(0, 0, f"Page {page} of {total}")
            canv.endForm()
        for key, page in self.layout.section_pages.items():
            canv.beginForm(f"toc_{key}", lowerx=0, lowery=-2, upperx=contents_width, uppery=14)
            canv.setFont(FONT, 11)
            title = SECTION_TITLES[key]
            canv.drawString(0, 4, title)
            number = str(page)
            dots_from = canv.stringWidth(title, FONT, 11) + 8
            dots_to = contents_width - canv.stringWidth(number, FONT, 11) - 8
            canv.setFillColor(colors.HexColor("#999999"))
            dot = canv.stringWidth(". ", FONT, 11)
            if dots_to > dots_from:
                canv.drawString(dots_from, 4, ". " * int((dots_to - dots_from) // dot))
            canv.setFillColor(colors.black)
            canv.drawRightString(contents_width, 4, number)
            canv.endForm()
        canv.save()
        return int(total)


def _fit(text: str, font: str, size: float, width: float) -> str:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(escape(text), _STYLES[style])


def _pairs(rows: Sequence[tuple[str, str]], widths: tuple[float, float] = (200, 100)) -> Table:
    """A small two-column table of label and figure (summary figures)."""
    data = [[label, value] for label, value in rows]
    return Table(
        data,
        colWidths=list(widths),
        rowHeights=[12] * len(data),
        style=[
            ("FONT", (0, 0), (-1, -1), FONT, 8.5),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ],
        hAlign="LEFT",
    )


def _counts(title: str, counts: dict[str, int]) -> list[Flowable]:
    if not counts:
        return [_p(f"{title}: none.")]
    return [KeepTogether([_p(title, "h2"), _pairs([(name, str(count)) for name, count in counts.items()])])]


def _cover(contents: BundleContents) -> list[Flowable]:
    cover = contents.cover
    mentors = ", ".join(cover.mentor_filter) if cover.mentor_filter else "all mentors"
    included = [SECTION_TITLES[s] for s in _sections(contents)]
    lines = [
        ("Period", f"{day(cover.period_start)} to {day(cover.period_end)}"),
        ("Bundle id", cover.bundle_id),
        ("Requested by", cover.requested_by),
        ("Requester's role(s)", ", ".join(cover.requested_by_roles) or NONE),
        ("Requested at", stamp(cover.requested_at)),
        ("Generated at", stamp(cover.generated_at)),
        ("Generator", cover.generator),
        ("Mentor filter", mentors),
        ("Sections", "; ".join(included)),
    ]
    story: list[Flowable] = [Spacer(1, 120), _p(cover.title, "title")]
    story.extend(Paragraph(f"<b>{escape(label)}:</b> {escape(value)}", _STYLES["cover"]) for label, value in lines)
    story.append(Spacer(1, 30))
    story.append(
        _p(
            "This bundle lists records by identifier, state, date and hash; it holds no names or "
            "e-mail addresses. The only free text is the reasons of the decisions it lists, as their "
            "deciders wrote them (read with the data subject's key; marked erased where that key was "
            "destroyed). The audit section, the appendices and the sign-off give what an accreditor "
            "needs to verify it offline.",
            "note",
        )
    )
    return story


def _sections(contents: BundleContents) -> list[str]:
    """The requested sections in the document's order; the policies, appendices and sign-off always."""
    wanted = set(contents.cover.sections)
    requested = [key for key in ("summary", "vetting", "complaints", "disputes", "privacy") if key in wanted]
    audit = ["audit"] if "audit" in wanted else []
    return [*requested, "policies", *audit, "appendix", "policy_texts", "signoff"]


def _agreement(figures: AgreementFigures) -> list[Flowable]:
    """Krippendorff's ordinal alpha with its interval, per template and platform-wide."""

    def line(figure: AgreementFigure) -> tuple[str, str]:
        label = "All templates" if figure.template is None else f"{figure.name} ({figure.template_version})"
        if figure.alpha is None:
            return label, f"not enough data ({figure.pairable_ratings} pairable ratings)"
        interval = NONE if figure.interval_low is None else f"[{figure.interval_low:.3f}, {figure.interval_high:.3f}]"
        return label, f"{figure.alpha:.3f} {interval}, {figure.pairable_ratings} ratings, {figure.mentors} mentors"

    return [
        _p("Mentor agreement (Krippendorff's alpha, ordinal)", "h2"),
        _p(
            f"Attestations with session dates from {figures.window_start} to {figures.window_end}; "
            f"no figure below {figures.minimum_ratings} pairable ratings; bootstrap of "
            f"{figures.resamples} resamples of candidates (seed {figures.seed}) gives the "
            f"{round(figures.confidence * 100)}% interval in brackets."
        ),
        _pairs([line(figures.platform), *(line(f) for f in figures.by_template)], (180, 300)),
    ]


def _summary(contents: BundleContents, width: float) -> list[Flowable]:
    story: list[Flowable] = []
    vetting, complaints, privacy = contents.vetting_summary, contents.complaints_summary, contents.privacy_summary
    story.append(_p("Mentor vetting", "h2"))
    if vetting is None:
        story.append(_p("Vetting figures are not part of this bundle."))
    else:
        story.append(
            _pairs(
                [
                    ("Active mentors (approved or lapsed)", str(vetting.active_mentors)),
                    ("Active, fully vetted and current", str(vetting.active_fully_vetted_and_current)),
                    ("Checks expiring within 30 days", str(vetting.checks_expiring_within_30_days)),
                    (
                        "Median days from onboarding to approval",
                        NONE
                        if vetting.median_days_onboarding_to_approval is None
                        else str(vetting.median_days_onboarding_to_approval),
                    ),
                    ("Requirements version", vetting.requirements_version),
                    ("As of", stamp(vetting.as_of)),
                ],
                (230, 120),
            )
        )
        story.append(_p(f"Share fully vetted and current: {percent(vetting.share_fully_vetted_and_current)}", "h2"))
        story.extend(
            _with_chart(
                _counts("Mentors by status", vetting.mentors_by_status),
                charts.vetting_status(vetting.mentors_by_status, width),
                "No mentors: no vetting chart.",
            )
        )
    story.append(_p("Complaints, refunds and disputes", "h2"))
    if complaints is None:
        story.append(_p("Complaint figures are not part of this bundle."))
    else:
        sla, refunds, disputes = complaints.sla, complaints.refunds, complaints.disputes
        story.append(_p(f"Complaints received: {complaints.complaints_received}"))
        story.extend(
            _with_chart(
                [
                    _p(
                        f"SLA attainment: {percent(sla.attainment)} "
                        f"({sla.met} of {sla.judged} judged resolved in time; {sla.breached} breached a target)"
                    )
                ],
                charts.sla_attainment(sla, width),
                "No complaint was due or resolved yet: no SLA figure.",
            )
        )
        story.extend(
            _with_chart(
                _counts("Complaints by category", complaints.by_category),
                charts.complaints_per_month(complaints.per_month, width),
                "No complaints were received in this period.",
            )
        )
        story.extend(_counts("Complaints by outcome", complaints.by_outcome))
        story.append(_p(f"Refunds requested: {refunds.requested}", "h2"))
        story.extend(_counts("Refunds by state", refunds.by_state))
        issued = [
            (currency, f"{money(minor, currency)} ({minor} minor units)")
            for currency, minor in sorted(refunds.issued_minor_by_currency.items())
        ]
        if issued:
            story.append(KeepTogether([_p("Refunds issued, by currency", "h2"), _pairs(issued, (80, 220))]))
        else:
            story.append(_p("No refunds were issued in this period."))
        story.append(_p(f"Disputes opened: {disputes.opened}; breached a deadline: {disputes.breached}", "h2"))
        story.extend(_counts("Disputes by outcome", disputes.by_outcome))
        story.extend(_counts("Disputes by highest tier reached", disputes.by_tier))
        story.extend(_agreement(complaints.agreement))
    story.append(_p("Data subject requests", "h2"))
    if privacy is None:
        story.append(_p("Privacy figures are not part of this bundle."))
    else:
        story.append(
            _p(
                f"Data requests answered on time: {privacy.data_requests_answered_on_time} of "
                f"{privacy.data_requests_closed} closed ({percent(privacy.share_answered_on_time)})"
            )
        )
        story.append(
            _pairs(
                [
                    ("Data requests received", str(privacy.data_requests_received)),
                    ("Data requests closed", str(privacy.data_requests_closed)),
                    ("Open and overdue", str(privacy.data_requests_open_overdue)),
                ],
                (230, 120),
            )
        )
    return story


def _with_chart(figures: list[Flowable], chart: Flowable | None, absent: str) -> list[Flowable]:
    """The figures a chart draws, kept on one page with it: a chart never stands alone on a
    page, away from the numbers it shows. Without a chart, a sentence says why."""
    if chart is None:
        return [*figures, _p(absent, "note")]
    parts: list[Flowable] = []
    for flowable in figures:
        # Unwrap: nested KeepTogethers would let the outer one split between them.
        parts.extend(flowable._content if isinstance(flowable, KeepTogether) else [flowable])
    return [KeepTogether([*parts, Spacer(1, 6), chart, Spacer(1, 10)])]


def _register(register: Register, progress: Progress) -> Flowable:
    if not register.rows:
        return _p(register.empty)
    return Rows(register, 0, progress)


def _privacy(contents: BundleContents, tables: dict[str, Register], progress: Progress) -> list[Flowable]:
    story: list[Flowable] = []
    privacy = contents.privacy_summary
    story.append(_p("Consent changes by purpose", "h2"))
    if privacy is None or not privacy.consent_changes_by_purpose:
        story.append(_p("No consent changes were recorded in this period."))
    else:
        data = [["Purpose", "Opt-in", "Opt-out"]]
        for purpose, changes in sorted(privacy.consent_changes_by_purpose.items()):
            data.append([purpose, str(changes.get("opt_in", 0)), str(changes.get("opt_out", 0))])
        story.append(_small_table(data, [200, 70, 70]))
        if privacy.consent_changes_by_method:
            story.extend(_counts("Consent changes by method", privacy.consent_changes_by_method))
    story.append(_p("Data subject requests", "h2"))
    story.append(_register(tables["data_requests"], progress))
    return story


def _small_table(data: list[list[str]], widths: list[float]) -> Table:
    return Table(
        data,
        colWidths=widths,
        rowHeights=[12] * len(data),
        repeatRows=1,
        style=[
            ("FONT", (0, 0), (-1, -1), FONT, 8),
            ("FONT", (0, 0), (-1, 0), BOLD, 8),
            ("BACKGROUND", (0, 0), (-1, 0), HEAD),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ],
        hAlign="LEFT",
    )


def _audit(contents: BundleContents) -> list[Flowable]:
    audit = contents.audit
    if audit is None:
        return [_p("No checkpoint of the audit log is part of this bundle.")]
    story: list[Flowable] = [
        _p("The signed checkpoint (C2SP signed note), verbatim:", "h2"),
        Preformatted(audit.checkpoint.rstrip("\n"), _STYLES["mono"]),
        Spacer(1, 6),
        _p("Origin", "h2"),
        Preformatted(audit.origin, _STYLES["mono"]),
        _p(f"Tree size: {audit.tree_size}", "h2"),
        _p("Root hash (base64)", "h2"),
        Preformatted(audit.root_hash, _STYLES["mono"]),
        _p("Verifier key", "h2"),
        Paragraph(escape(audit.verifier_key), _STYLES["mono"]),
        _p("How to verify", "h2"),
    ]
    if not audit.verify_steps:
        story.append(_p("No steps were given."))
    story.extend(_steps(audit.verify_steps))
    return [*story, *_seal(contents)]


def _steps(steps: Sequence[str]) -> list[Flowable]:
    story: list[Flowable] = []
    for number, step in enumerate(steps, start=1):
        story.append(Paragraph(f"{number}. {escape(step)}", _STYLES["step"]))
        story.append(Spacer(1, 3))
    return story


def _wrapped(text: str) -> Preformatted:
    """Monospace, long lines cut at the frame's width with nothing added (a proof's extra line
    is joined again by the verifier; base64 holds no breaks of its own)."""
    return Preformatted(text.rstrip("\n"), _STYLES["policy"], maxLineLength=POLICY_LINE, newLineChars="")


def _seal(contents: BundleContents) -> list[Flowable]:
    """The entry that sealed the bundle's contents before this PDF was rendered, and its proof."""
    sealed = contents.seal
    story: list[Flowable] = [_p("Seal: this bundle's contents in the audit log", "h2")]
    if sealed is None:
        return [*story, _p("This bundle was not sealed in the audit log.")]
    story += [
        _pairs(
            [
                ("Seal entry (sequence number)", str(sealed.entry_seq)),
                ("Contents SHA-256", sealed.contents_sha256),
                ("Proven in the checkpoint of size", str(sealed.checkpoint_size)),
                ("Cosigned by", ", ".join(sealed.witnessed_by) or NONE),
            ],
            (150, 330),
        ),
        _p("The sealed entry, exactly as hashed into the log:", "h2"),
        _wrapped(sealed.entry),
        # One page, so that it can be copied out whole.
        KeepTogether(
            [
                _p(
                    "Its inclusion proof (c2sp.org/tlog-proof@v1; the extra line carries the entry above, in "
                    "base64; after the blank line, the checkpoint to keep for next time):",
                    "h2",
                ),
                _wrapped(sealed.proof),
            ]
        ),
        _p("How to verify the seal", "h2"),
        *_steps(sealed.verify_steps),
    ]
    return story


def _policy_texts(contents: BundleContents) -> list[Flowable]:
    if not contents.policies:
        return [_p("No policy version was recorded for this period.")]
    story: list[Flowable] = []
    for policy in contents.policies:
        label = f", version {policy.label}" if policy.label else ""
        story.append(_p(f"{policy.name}{label}, in force from {stamp(policy.in_force_from)}", "h2"))
        story.append(Paragraph(f"SHA-256 {escape(policy.sha256)} ({policy.size} bytes)", _STYLES["mono"]))
        story.append(Spacer(1, 4))
        story.append(
            Preformatted(policy.text.rstrip("\n"), _STYLES["policy"], maxLineLength=POLICY_LINE, newLineChars="")
        )
    return story


def _sign_off(contents: BundleContents) -> list[Flowable]:
    """Who asked for the bundle, as what and when; below, the checkpoint that binds it."""
    cover, signed = contents.cover, contents.sign_off
    if signed is None:
        signed = SignOff(cover.requested_by, cover.requested_by_roles, cover.requested_at, None)
    entry = NONE if signed.request_entry is None else f"entry {signed.request_entry}"
    story: list[Flowable] = [
        _p("Requested by", "h2"),
        _pairs(
            [
                ("Officer", signed.requested_by),
                ("Role(s) when requesting", ", ".join(signed.roles) or NONE),
                ("Requested at", stamp(signed.requested_at)),
                ("Request in the audit log", entry),
                ("Generated at", stamp(cover.generated_at)),
            ],
            (150, 330),
        ),
        Spacer(1, 14),
        _p("Bound by checkpoint", "h2"),
    ]
    # Without an audit section, the seal and its proof stand at the end of the sign-off.
    seal = [] if "audit" in contents.cover.sections else _seal(contents)
    audit = contents.audit
    if audit is None:
        story.append(_p("No checkpoint of the audit log binds this bundle."))
        return [*story, *seal]
    signatures = [line for line in audit.checkpoint.splitlines() if line.startswith("\u2014 ")]
    story.append(
        _pairs(
            [("Origin", audit.origin), ("Tree size", str(audit.tree_size)), ("Root hash (base64)", audit.root_hash)],
            (150, 330),
        )
    )
    story.append(_p("Signature line(s)", "h2"))
    story.extend(Preformatted(line, _STYLES["mono"]) for line in signatures or [NONE])
    story.append(Spacer(1, 8))
    story.append(
        _p(
            "The checkpoint was signed as the bundle was assembled and covers every entry it reports, "
            "this request's entry included. The evidence.bundle.ready entry for this bundle records the "
            "SHA-256 of this PDF and of its manifest.",
            "note",
        )
    )
    return [*story, *seal]


def _story(contents: BundleContents, progress: Progress, contents_width: float) -> list[Flowable]:
    tables = registers(contents)
    story = _cover(contents)
    story.append(PageBreak())
    story.append(_p("Contents", "h1"))
    sections = _sections(contents)
    story.extend(_ContentsLine(key, contents_width) for key in sections)
    portrait_width = PORTRAIT[0] - 2 * MARGIN - 12
    for key in sections:
        story.append(PageBreak(nextTemplate=_ORIENTATION[key]))
        story.append(_Heading(key))
        if key == "summary":
            story.extend(_summary(contents, portrait_width))
        elif key == "vetting":
            story.append(
                _p(
                    "Every mentor in scope (shaded row: external id, jurisdiction, status and since when, "
                    "engagement, registration), then each of their checks with its documents' SHA-256."
                )
            )
            story.append(_register(tables["vetting"], progress))
            story.append(_p("Mentors registered but never approved", "h2"))
            story.append(
                _p(
                    "Registered by the end of the period and not approved by then: still onboarding, "
                    "or refused. Same columns as above."
                )
            )
            story.append(_register(tables["never_approved"], progress))
            story.append(_p("Reasons for vetting decisions and waivers", "h2"))
            story.append(_register(tables["vetting_reasons"], progress))
        elif key == "complaints":
            story.append(_p("Complaints", "h2"))
            story.append(
                _p("Resolve due: the resolve deadline last set, kept after the complaint was resolved.", "note")
            )
            story.append(_register(tables["complaints"], progress))
            story.append(_p("Refunds", "h2"))
            story.append(_register(tables["refunds"], progress))
            story.append(_p("Reasons for complaint resolutions and refund decisions", "h2"))
            story.append(_register(tables["complaint_reasons"], progress))
        elif key == "disputes":
            story.append(_register(tables["disputes"], progress))
            story.append(_p("Reasons for dispute decisions", "h2"))
            story.append(_register(tables["dispute_reasons"], progress))
        elif key == "policies":
            story.append(
                _p(
                    "Each version of the vetting requirements, SLA, privacy and retention policies the service "
                    "ran on during the period, by the SHA-256 of its exact bytes (the texts are in the appendix; "
                    "each version's policy.version_in_force entry in the audit log binds its hash)."
                )
            )
            story.append(_register(tables["policies"], progress))
        elif key == "policy_texts":
            story.extend(_policy_texts(contents))
        elif key == "signoff":
            story.extend(_sign_off(contents))
        elif key == "privacy":
            story.extend(_privacy(contents, tables, progress))
        elif key == "audit":
            story.extend(_audit(contents))
        else:
            story.append(_p("Every artifact this bundle vouches for, by SHA-256 (lowercase hex) and size in bytes."))
            story.append(_register(tables["artifacts"], progress))
    rows = sum(len(r.rows) for r in tables.values())
    progress.total = rows + len(story)
    return story


def render(
    contents: BundleContents,
    out: Path,
    *,
    progress: Callable[[float], None] | None = None,
    invariant: bool = False,
) -> RenderResult:
    """Lay out and write the bundle's PDF to ``out`` in this process.

    ``progress`` is called with the share of work done (0..1, at most once per percent,
    1.0 last). ``invariant`` makes the output byte-stable: reportlab's invariant mode, and
    the creation date is always ``cover.generated_at``. The file appears at ``out`` only
    once complete (written next to it, then renamed).
    """
    out = Path(out)
    tracker = Progress(progress)
    tracker.emit(0.0)
    partial = out.with_name(out.name + ".partial")
    document = _BundleDocument(str(partial), contents, tracker, invariant)
    contents_width = PORTRAIT[0] - 2 * MARGIN - 12
    story = _story(contents, tracker, contents_width)
    generated = contents.cover.generated_at
    if generated.tzinfo is not None:
        generated = generated.astimezone(UTC)
    stamp = generated.strftime("D:%Y%m%d%H%M%S+00'00'")
    # Compressed streams are written as binary rather than ASCII85 text (reportlab's default):
    # ASCII85 is pure Python here, costs about a tenth of the time, and makes the file a
    # quarter larger. reportlab reads the switch from its global config, so set it for
    # this document only (reportlab is not thread-safe anyway: one render at a time).
    a85 = rl_config.useA85
    rl_config.useA85 = 0
    try:
        document.build(story, canvasmaker=_canvas_with_date(stamp))
        pages = document.finish(contents_width)
        digest = hashlib.sha256()
        size = 0
        with partial.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        partial.replace(out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        rl_config.useA85 = a85
    tracker.emit(1.0)
    return RenderResult(pages=pages, sha256=digest.hexdigest(), size=size)


def _canvas_with_date(stamp: str) -> Callable[..., Canvas]:
    def make(*args: Any, **kwargs: Any) -> Canvas:
        canv = Canvas(*args, **kwargs)
        canv.setDateFormatter(lambda *_: stamp)
        return canv

    return make


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m governance.evidence.render IN OUT [--invariant]``: exit 0 with ``done ...`` or non-zero."""
    parser = argparse.ArgumentParser(prog="python -m governance.evidence.render", description=main.__doc__)
    parser.add_argument("contents", type=Path, help="BundleContents, msgpack-encoded")
    parser.add_argument("out", type=Path, help="where to write the PDF")
    parser.add_argument("--invariant", action="store_true", help="byte-stable output")
    args = parser.parse_args(argv)
    try:
        contents = msgspec.msgpack.decode(args.contents.read_bytes(), type=BundleContents)
    except (OSError, msgspec.DecodeError) as exc:
        print(f"render: cannot read the bundle contents from {args.contents}: {exc}", file=sys.stderr)
        return 2

    def report(value: float) -> None:
        sys.stdout.write(f"progress {value:.2f}\n")
        sys.stdout.flush()

    try:
        result = render(contents, args.out, progress=report, invariant=args.invariant)
    except Exception as exc:
        print(f"render: failed to render {args.out}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"done {result.pages} {result.sha256} {result.size}", flush=True)
    return 0


STDERR_TAIL: Final = 4000


async def render_in_subprocess(
    contents: BundleContents,
    out: Path,
    *,
    on_progress: Callable[[float], None] | None,
    invariant: bool = False,
) -> RenderResult:
    """Render in a child process (reportlab is neither thread-safe nor light on memory).

    The contents go through a temporary file next to ``out``; ``on_progress`` gets each
    progress figure the child prints. Cancelling the awaiting task kills the child.
    Raises ``RenderFailed`` (with the tail of the child's stderr) when the child fails.
    """
    out = Path(out)
    encoded = msgspec.msgpack.encode(contents)
    handle, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".contents", dir=out.parent)
    source = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            await asyncio.to_thread(file.write, encoded)
        del encoded
        command = [sys.executable, "-m", "governance.evidence.render", str(source), str(out)]
        if invariant:
            command.append("--invariant")
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            result, stderr, returncode = await _follow(process, on_progress)
        except BaseException:
            if process.returncode is None:
                process.kill()
                with contextlib.suppress(Exception):
                    await asyncio.shield(process.wait())
            _discard(out.with_name(out.name + ".partial"))
            raise
    finally:
        _discard(source)
    if returncode != 0 or result is None:
        _discard(out.with_name(out.name + ".partial"))
        detail = stderr.strip() or "no error output"
        raise RenderFailed(
            f"the evidence renderer exited with status {returncode}: {detail}", returncode=returncode, stderr=stderr
        )
    return result


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _follow(
    process: asyncio.subprocess.Process, on_progress: Callable[[float], None] | None
) -> tuple[RenderResult | None, str, int]:
    assert process.stdout is not None
    assert process.stderr is not None
    tail: deque[bytes] = deque()
    kept = 0

    async def drain_stderr(stream: asyncio.StreamReader) -> None:
        nonlocal kept
        while chunk := await stream.read(4096):
            tail.append(chunk)
            kept += len(chunk)
            while kept - len(tail[0]) >= STDERR_TAIL:
                kept -= len(tail.popleft())

    errors = asyncio.ensure_future(drain_stderr(process.stderr))
    result: RenderResult | None = None
    try:
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").split()
            if len(line) == 2 and line[0] == "progress":
                if on_progress is not None:
                    with contextlib.suppress(ValueError):
                        on_progress(float(line[1]))
            elif len(line) == 4 and line[0] == "done":
                result = RenderResult(pages=int(line[1]), sha256=line[2], size=int(line[3]))
        returncode = await process.wait()
        await errors
    finally:
        if not errors.done():
            errors.cancel()
    stderr = b"".join(tail).decode("utf-8", "replace")[-STDERR_TAIL:]
    return result, stderr, returncode


if __name__ == "__main__":
    sys.exit(main())
