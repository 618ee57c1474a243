"""The executive summary's charts, drawn with reportlab.graphics from the period summaries.

Each function returns a ``Drawing`` (a platypus flowable), or ``None`` when there is
nothing to draw (the caller prints a sentence instead: an empty chart says nothing).
"""

from __future__ import annotations

from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from governance.complaints.schemas import MonthOfComplaints, SlaAttainment

# Distinguishable in print and on screen (Okabe-Ito, then greys).
PALETTE = (
    colors.HexColor("#0072B2"),
    colors.HexColor("#E69F00"),
    colors.HexColor("#009E73"),
    colors.HexColor("#D55E00"),
    colors.HexColor("#CC79A7"),
    colors.HexColor("#56B4E9"),
    colors.HexColor("#F0E442"),
    colors.HexColor("#000000"),
    colors.HexColor("#999999"),
)
FONT = "Helvetica"
BOLD = "Helvetica-Bold"


def _colour(index: int) -> colors.Color:
    return PALETTE[index % len(PALETTE)]


def integer_step(largest: int, ticks: int = 5) -> int:
    """A tick step for counts: a whole 1, 2 or 5 times a power of ten, giving at most about
    ``ticks`` intervals up to ``largest``. reportlab's own step for small counts is
    fractional (0.5), which ``%d`` prints as repeated labels (0 0 1 1 2)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if largest <= factor * step * ticks:
                return factor * step
        step *= 10


def _count_axis(axis: Any, largest: int) -> None:
    """A value axis of whole counts from 0: integer steps, each label once."""
    step = integer_step(max(1, largest))
    axis.valueMin = 0
    axis.valueStep = step
    axis.valueMax = max(step, -(-largest // step) * step)
    axis.labelTextFormat = "%d"


def _title(drawing: Drawing, text: str) -> None:
    drawing.add(String(0, drawing.height - 12, text, fontName=BOLD, fontSize=9))


def complaints_per_month(months: list[MonthOfComplaints], width: float) -> Drawing | None:
    """Complaints received per month, stacked by category, with a legend of the categories."""
    categories = sorted({category for month in months for category in month.by_category})
    if not months or not any(sum(m.by_category.values()) for m in months):
        return None
    height = 210.0
    drawing = Drawing(width, height)
    _title(drawing, "Complaints received per month, by category")
    chart = VerticalBarChart()
    chart.x, chart.y = 30, 40
    chart.width, chart.height = width - 190, height - 70
    chart.data = [[month.by_category.get(category, 0) for month in months] for category in categories]
    chart.categoryAxis.categoryNames = [month.month for month in months]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 45 if len(months) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(months) > 8 else "n"
    _count_axis(chart.valueAxis, max(sum(m.by_category.values()) for m in months))
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6
    chart.barWidth = 6
    chart.groupSpacing = 4
    chart.bars.strokeWidth = 0
    for index in range(len(categories)):
        chart.bars[index].fillColor = _colour(index)
    drawing.add(chart)
    drawing.add(_legend([(_colour(i), name) for i, name in enumerate(categories)], width - 150, height - 30))
    return drawing


def sla_attainment(sla: SlaAttainment, width: float) -> Drawing | None:
    """Complaints judged against their SLA: resolved in time and breached, as labelled bars."""
    if sla.judged == 0:
        return None
    height = 110.0
    drawing = Drawing(width, height)
    _title(drawing, "SLA attainment")
    chart = HorizontalBarChart()
    chart.x, chart.y = 110, 10
    chart.width, chart.height = width - 170, height - 35
    chart.data = [[sla.judged, sla.met, sla.breached]]
    chart.categoryAxis.categoryNames = ["judged", "resolved in time", "breached a target"]
    chart.categoryAxis.reverseDirection = True
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    _count_axis(chart.valueAxis, sla.judged)
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6
    chart.bars.strokeWidth = 0
    chart.bars[0].fillColor = PALETTE[0]
    chart.bars[(0, 1)].fillColor = PALETTE[2]
    chart.bars[(0, 2)].fillColor = PALETTE[3]
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    return drawing


def vetting_status(mentors_by_status: dict[str, int], width: float) -> Drawing | None:
    """Mentors by vetting status, as a labelled pie with a legend."""
    shown = [(status, count) for status, count in sorted(mentors_by_status.items()) if count > 0]
    if not shown:
        return None
    height = 170.0
    drawing = Drawing(width, height)
    _title(drawing, "Mentors by vetting status")
    pie = Pie()
    pie.x, pie.y = 20, 10
    pie.width = pie.height = height - 40
    pie.data = [count for _, count in shown]
    pie.labels = [str(count) for _, count in shown]
    pie.simpleLabels = True
    pie.slices.strokeWidth = 0.5
    pie.slices.strokeColor = colors.white
    pie.slices.fontName = FONT
    pie.slices.fontSize = 7
    pie.sideLabels = len(shown) > 1
    for index in range(len(shown)):
        pie.slices[index].fillColor = _colour(index)
    drawing.add(pie)
    legend = [(_colour(i), f"{status} ({count})") for i, (status, count) in enumerate(shown)]
    drawing.add(_legend(legend, height + 100, height - 30))
    return drawing


def _legend(pairs: list[tuple[colors.Color, str]], x: float, y: float) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.fontName = FONT
    legend.fontSize = 7
    legend.columnMaximum = 10
    legend.deltay = 10
    legend.dx = legend.dy = 6
    legend.colorNamePairs = pairs
    return legend
