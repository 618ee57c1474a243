"""Reporting periods: whole UTC days from ``start`` to ``end``, both inclusive.

A period covers the instants ``[start 00:00Z, end + 1 day 00:00Z)``. The period
summaries (complaints, privacy) check their period here, so a route and anyone calling
a summary service directly get the same 400 naming the parameter at fault.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from governance.core.errors import invalid_parameter

LONGEST_YEARS: Final = 3


def longest_end(start: date) -> date:
    """The last day a period starting on ``start`` may end on: three calendar years, inclusive
    (2024-01-01 may end on 2026-12-31; a period from 29 February ends on 28 February)."""
    year = start.year + LONGEST_YEARS
    try:
        same_day = start.replace(year=year)
    except ValueError:  # 29 February in a year without one
        same_day = date(year, 3, 1)
    return same_day - timedelta(days=1)


def check(start: date, end: date, source: str = "query") -> None:
    """Refuse a period that ends before it starts or is longer than three years (400,
    naming ``period_end`` in ``source``: the query, or the body of a bundle request)."""
    if end < start:
        raise invalid_parameter("period_end", f"the period ends ({end}) before it starts ({start})", source)
    if end > longest_end(start):
        raise invalid_parameter(
            "period_end",
            f"a period lasts at most {LONGEST_YEARS} years: from {start} it ends by {longest_end(start)}",
            source,
        )


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The period's instants as ``[from, until)`` in UTC."""
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def month_of(instant: datetime) -> str:
    """The UTC month of an instant, as ``"2026-03"``."""
    utc = instant.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}"


def months(start: date, end: date) -> list[str]:
    """Every month the period touches, in order (``["2026-01", "2026-02"]``)."""
    found = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def share(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to four places; None when there is no whole."""
    return round(part / whole, 4) if whole else None
