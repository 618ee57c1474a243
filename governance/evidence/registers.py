"""The registers of an evidence bundle as page-sized tables, and the formats of its figures.

Each register is one ``Rows`` flowable over the records, which, page by page, builds a
``Table`` of exactly the rows that fit: fixed row heights and column widths, cell styles
shared by every cell (only line, background and span commands per table), plain strings
(no Paragraph per cell), and rows formatted only when their page is laid out. So
reportlab never splits a table (splitting re-wraps the rest, again and again) and only
one page's table exists at a time, whatever the size of the register.

In this order: the formats of figures (shares, money, times), the geometry and cell
styles every register table shares, the registers themselves and the ``Rows`` flowable
that lays them out, and the render's :class:`Progress`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from reportlab.lib import colors
from reportlab.lib.utils import simpleSplit
from reportlab.platypus import Flowable, PageBreak, Table
from reportlab.platypus.tables import CellStyle

from governance.evidence.contents import (
    Artifact,
    BundleContents,
    CheckLine,
    ComplaintLine,
    DataRequestLine,
    DisputeLine,
    DocumentLine,
    MentorLine,
    PolicyVersion,
    ReasonLine,
    RefundLine,
)

NONE: Final = "—"
# ISO 4217 minor-unit exponents that are not 2.
_EXPONENTS: Final = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
    "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def percent(share: float | None) -> str:
    """A share (0..1) as a percentage with two decimals, rounded as Python's format rounds.

    ``0.6667`` -> ``"66.67%"``, ``1.0`` -> ``"100.00%"``; ``None`` (nothing to judge) -> ``"n/a"``.
    The one format of shares in the bundle, so a reader (or a test) finds the same text everywhere.
    """
    return "n/a" if share is None else f"{share * 100:.2f}%"


def money(minor: int, currency: str) -> str:
    """Minor units as major units (ISO 4217 exponent): ``money(123456, "EUR")`` -> ``"EUR 1234.56"``."""
    exponent = _EXPONENTS.get(currency, 2)
    if exponent == 0:
        return f"{currency} {minor}"
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**exponent)
    return f"{currency} {sign}{whole}.{fraction:0{exponent}d}"


def when(value: datetime | None) -> str:
    """A register's time: UTC, to the minute."""
    if value is None:
        return NONE
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M")


def stamp(value: datetime) -> str:
    """A cover's time: UTC ISO 8601 to the second."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def day(value: date) -> str:
    return value.isoformat()


def _yes_no(value: bool | None) -> str:
    return NONE if value is None else ("yes" if value else "no")


def _text(value: str | None) -> str:
    return NONE if value is None else value


ROW: Final = 10.5  # register row height
FONT, BOLD, MONO = "Helvetica", "Helvetica-Bold", "Courier"
RULE: Final = colors.HexColor("#c8c8c8")
SHADE: Final = colors.HexColor("#e8eef5")
HEAD: Final = colors.HexColor("#d5dde8")


def _cell(font: str, size: float = 7.0) -> CellStyle:
    style = CellStyle(f"{font}-{size}")
    style.fontname, style.fontsize, style.leading = font, size, size + 1
    style.leftPadding = style.rightPadding = 3
    style.topPadding, style.bottomPadding = 1, 2.5
    return style


# Shared by every cell of every register table. Tables get only line, background and
# span commands, which do not touch cell styles, so sharing them is safe.
BODY_CELL, BOLD_CELL, MONO_CELL, HEAD_CELL = _cell(FONT), _cell(BOLD), _cell(MONO, 6.5), _cell(BOLD, 6.5)


@dataclass(frozen=True, slots=True)
class Register:
    """One register as a table: header, column widths, a font per column, and its rows.

    ``rows`` are lazy: ``cells(row)`` formats one when its page is laid out. ``group(row)``
    is True for rows that start a group (a mentor): a page never ends just after one.
    """

    name: str
    header: Sequence[str]
    widths: Sequence[float]
    fonts: Sequence[CellStyle]
    rows: Sequence[Any]
    cells: Callable[[Any], list[str]]
    group: Callable[[Any], bool] | None = None
    empty: str = "Nothing to list."

    def formatted(self) -> Iterable[list[str]]:
        """Every row as strings (for a baseline that renders the same rows)."""
        return (self.cells(row) for row in self.rows)


def _complaint(c: ComplaintLine) -> list[str]:
    return [
        c.complaint_id,
        c.category,
        c.severity,
        c.state,
        _text(c.outcome),
        when(c.received_at),
        when(c.acknowledged_at),
        when(c.resolve_due_at),
        when(c.resolved_at),
        _yes_no(c.breached),
    ]


def _refund(r: RefundLine) -> list[str]:
    return [
        r.refund_id,
        _text(r.complaint_id),
        r.state,
        money(r.amount_minor, r.currency),
        when(r.created_at),
        when(r.updated_at),
    ]


def _dispute(d: DisputeLine) -> list[str]:
    return [
        d.dispute_id,
        d.attestation_id,
        d.tier,
        d.state,
        _text(d.outcome),
        when(d.opened_at),
        when(d.decide_due_at),
        when(d.closed_at),
        _yes_no(d.breached),
    ]


def _data_request(r: DataRequestLine) -> list[str]:
    return [
        r.request_id,
        r.request_type,
        r.state,
        when(r.received_at),
        when(r.due_at),
        when(r.closed_at),
        _yes_no(r.on_time),
    ]


def _artifact(row: tuple[int, Artifact]) -> list[str]:
    number, a = row
    return [str(number), a.name, a.kind, a.sha256, NONE if a.size is None else str(a.size)]


# A vetting row: the mentor, one of their checks (with its first document), or a further document.
_VettingRow = tuple[MentorLine, CheckLine | None, DocumentLine | None, bool]


def _vetting_rows(mentors: Sequence[MentorLine]) -> list[_VettingRow]:
    rows: list[_VettingRow] = []
    for mentor in mentors:
        rows.append((mentor, None, None, False))
        for check in mentor.checks:
            documents: list[DocumentLine | None] = [*check.documents] or [None]
            for index, document in enumerate(documents):
                rows.append((mentor, check, document, index == 0))
    return rows


def _vetting(row: _VettingRow) -> list[str]:
    mentor, check, document, first = row
    if check is None:
        return [
            mentor.external_id,
            mentor.jurisdiction,
            mentor.status,
            when(mentor.status_since),
            mentor.engagement_type,
            f"registered {when(mentor.registered_at)}, first approved {when(mentor.first_approved_at)}",
            "",
        ]
    digest, size = (document.sha256, str(document.size)) if document is not None else ("no documents", "")
    if not first:
        return ["", "", "", "", "", digest, size]
    return [
        "   " + check.check_type,
        check.state,
        when(check.valid_from),
        when(check.expires_at),
        _text(check.reviewed_by),
        digest,
        size,
    ]


# A reasons row: one line of one decision; the first line of each starts its group.
_ReasonRow = tuple[bool, list[str]]
_REASON_WIDTHS: Final = (150.0, 130.0, 120.0, 66.0, 304.0)
_REASON_FONTS: Final = ((MONO, 6.5), (FONT, 7.0), (FONT, 7.0), (FONT, 7.0), (FONT, 7.0))


def _reason_rows(reasons: Sequence[ReasonLine]) -> list[_ReasonRow]:
    """Each decision as many fixed-height rows as its longest cell needs, wrapped to the column.

    Wrapped here, once, so that the register keeps its fixed row height (see ``Rows``)."""
    rows: list[_ReasonRow] = []
    for line in reasons:
        cells = [line.record_id, line.decision, line.decided_by, when(line.decided_at), line.reasons or NONE]
        wrapped = [
            simpleSplit(cell, font, size, width - 6) or [""]
            for cell, width, (font, size) in zip(cells, _REASON_WIDTHS, _REASON_FONTS, strict=True)
        ]
        for index in range(max(len(column) for column in wrapped)):
            rows.append((index == 0, [column[index] if index < len(column) else "" for column in wrapped]))
    return rows


def _reason_register(name: str, reasons: Sequence[ReasonLine], empty: str) -> Register:
    m, b = MONO_CELL, BODY_CELL
    return Register(
        name,
        ["Record", "Decision", "Decided by", "At", "Reasons, as the decider wrote them"],
        list(_REASON_WIDTHS),
        [m, b, b, b, b],
        _reason_rows(reasons),
        lambda row: row[1],
        group=lambda row: row[0],
        empty=empty,
    )


def _policy(p: PolicyVersion) -> list[str]:
    return [
        p.name,
        _text(p.label),
        when(p.in_force_from),
        "still in force" if p.in_force_until is None else when(p.in_force_until),
        p.sha256,
        str(p.size),
    ]


def registers(contents: BundleContents) -> dict[str, Register]:
    """The document's registers (vetting, complaints, refunds, disputes, data requests, the
    reasons of decisions, policy versions, artifacts)."""
    b, m = BODY_CELL, MONO_CELL
    vetting_header = [
        "External id / check type",
        "Jurisdiction / state",
        "Status / valid from",
        "Status since / expires",
        "Engagement / reviewed by",
        "Document SHA-256",
        "Bytes",
    ]
    vetting_widths = [128, 62, 70, 70, 92, 290, 58]
    return {
        "vetting": Register(
            "vetting",
            vetting_header,
            vetting_widths,
            [b, b, b, b, b, m, b],
            _vetting_rows(contents.mentors),
            _vetting,
            group=lambda row: row[1] is None,
            empty="No mentors are in scope of this bundle.",
        ),
        "never_approved": Register(
            "never_approved",
            vetting_header,
            vetting_widths,
            [b, b, b, b, b, m, b],
            _vetting_rows(contents.mentors_never_approved),
            _vetting,
            group=lambda row: row[1] is None,
            empty="Every mentor registered by the end of the period had been approved.",
        ),
        "vetting_reasons": _reason_register(
            "vetting_reasons", contents.vetting_reasons, "No vetting decision or waiver about these mentors."
        ),
        "complaint_reasons": _reason_register(
            "complaint_reasons", contents.complaint_reasons, "No complaint or refund listed here was decided."
        ),
        "dispute_reasons": _reason_register(
            "dispute_reasons", contents.dispute_reasons, "No dispute listed here was decided."
        ),
        "policies": Register(
            "policies",
            ["Policy file", "Version", "In force from", "In force until", "SHA-256 of the exact bytes", "Bytes"],
            [120, 70, 70, 70, 380, 60],
            [b, b, b, b, m, b],
            contents.policies,
            _policy,
            empty="No policy version was recorded for this period.",
        ),
        "complaints": Register(
            "complaints",
            [
                "Complaint",
                "Category",
                "Severity",
                "State",
                "Outcome",
                "Received",
                "Acknowledged",
                "Resolve due",
                "Resolved",
                "Breached",
            ],
            [150, 72, 40, 78, 70, 66, 66, 66, 66, 40],
            [m, b, b, b, b, b, b, b, b, b],
            contents.complaints,
            _complaint,
            empty="No complaints were received in this period.",
        ),
        "refunds": Register(
            "refunds",
            ["Refund", "Complaint", "State", "Amount", "Created", "Updated"],
            [150, 150, 70, 100, 66, 66],
            [m, m, b, b, b, b],
            contents.refunds,
            _refund,
            empty="No refunds were requested in this period.",
        ),
        "disputes": Register(
            "disputes",
            ["Dispute", "Attestation", "Tier", "State", "Outcome", "Opened", "Decision due", "Closed", "Breached"],
            [150, 150, 30, 66, 60, 66, 66, 66, 40],
            [m, m, b, b, b, b, b, b, b],
            contents.disputes,
            _dispute,
            empty="No disputes were opened in this period.",
        ),
        "data_requests": Register(
            "data_requests",
            ["Request", "Type", "State", "Received", "Due", "Closed", "On time"],
            [150, 72, 90, 66, 66, 66, 40],
            [m, b, b, b, b, b, b],
            contents.data_requests,
            _data_request,
            empty="No data requests were received in this period.",
        ),
        "artifacts": Register(
            "artifacts",
            ["#", "Name", "Kind", "SHA-256", "Bytes"],
            [30, 250, 80, 290, 60],
            [b, b, b, m, b],
            list(enumerate(contents.artifacts, start=1)),
            _artifact,
            empty="No artifacts are listed.",
        ),
    }


class Rows(Flowable):  # type: ignore[misc]
    """A register from row ``start`` on: splits itself into a table of the rows that fit, page by page."""

    def __init__(self, register: Register, start: int, progress: Progress) -> None:
        super().__init__()
        self.register = register
        self.start = start
        self.progress = progress
        self.width = float(sum(register.widths))

    def _rows(self) -> int:
        return len(self.register.rows) - self.start

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, ROW * (1 + self._rows())

    def split(self, aw: float, ah: float) -> list[Flowable]:
        fit = int(ah // ROW) - 1  # the header row repeats on every page
        if fit < 2:
            return []  # not worth a header here: next page
        end = self.start + fit
        group = self.register.group
        if group is not None:
            # Do not leave a group's heading row (or a few rows of it) alone at the bottom.
            rows = self.register.rows
            for back in range(end, max(self.start + 1, end - 12), -1):
                if group(rows[back]):
                    end = back
                    break
        # The rest starts on the next page, even when a group moved back and left room here.
        return [self.table(self.start, end), PageBreak(), Rows(self.register, end, self.progress)]

    def table(self, start: int, end: int) -> Table:
        register = self.register
        rows = register.rows[start:end]
        data: list[list[str]] = [list(register.header)]
        data.extend(register.cells(row) for row in rows)
        commands: list[tuple[Any, ...]] = [
            ("BACKGROUND", (0, 0), (-1, 0), HEAD),
            ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ]
        head = [HEAD_CELL] * len(register.header)
        body = list(register.fonts)
        styles = [head]
        group = register.group
        if group is not None:
            grouped = [BOLD_CELL] + [BODY_CELL] * (len(body) - 1)
            for index, row in enumerate(rows, start=1):
                if group(row):
                    commands.append(("BACKGROUND", (0, index), (-1, index), SHADE))
                    styles.append(grouped)
                else:
                    styles.append(body)
        else:
            styles.extend([body] * len(rows))
        table = Table(
            data,
            colWidths=register.widths,
            rowHeights=[ROW] * len(data),
            style=commands,
            cellStyles=styles,
            hAlign="LEFT",
            normalizedData=1,
        )
        table._evidence_rows = len(rows)
        return table

    def draw(self) -> None:
        table = self.table(self.start, len(self.register.rows))
        table.wrapOn(self.canv, self.width, ROW * (1 + self._rows()))
        table.drawOn(self.canv, 0, 0)
        self.progress.advance(self._rows())


@dataclass
class Progress:
    """Reports the share of work done (rows drawn and other flowables), at most once per percent."""

    report: Callable[[float], None] | None
    total: int = 1
    done: int = 0
    last: float = -1.0

    def advance(self, units: int) -> None:
        self.done += units
        self.emit(min(0.97, 0.97 * self.done / max(1, self.total)))

    def emit(self, value: float) -> None:
        if self.report is not None and (value - self.last >= 0.01 or value >= 1.0):
            self.last = value
            self.report(round(value, 4))
