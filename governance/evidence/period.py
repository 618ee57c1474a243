"""A bundle's period as instants: both days inclusive, in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    """``[period_start 00:00Z, day after period_end 00:00Z)``: the half-open range of instants."""
    return (
        datetime.combine(period_start, time(), tzinfo=UTC),
        datetime.combine(period_end + timedelta(days=1), time(), tzinfo=UTC),
    )
