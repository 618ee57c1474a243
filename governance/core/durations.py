"""ISO 8601 durations (``P30D``, ``PT10S``, ``P1Y2M``) as used throughout the API and settings.

Years and months have no fixed length, so a :class:`Duration` keeps them apart from
the exact part and only turns into a ``timedelta`` when it has none, or when added to
a concrete instant (``add_to``), which is what SLA and retention rules need.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_PATTERN = re.compile(
    r"P(?!$)"
    r"(?:(?P<years>\d+)Y)?"
    r"(?:(?P<months>\d+)M)?"
    r"(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)"
    r"(?:(?P<hours>\d+)H)?"
    r"(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d{1,6})?)S)?"
    r")?",
)


class DurationError(ValueError):
    """A text that is not an ISO 8601 duration this service understands."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A non-negative ISO 8601 duration: calendar part (years, months) and exact part."""

    years: int = 0
    months: int = 0
    exact: timedelta = timedelta(0)

    @property
    def is_exact(self) -> bool:
        return self.years == 0 and self.months == 0

    def to_timedelta(self) -> timedelta:
        """The duration as a ``timedelta``; refused when it has years or months."""
        if not self.is_exact:
            raise DurationError("a duration with years or months has no fixed length")
        return self.exact

    def add_to(self, instant: datetime) -> datetime:
        """``instant`` plus this duration; month ends clamp (Jan 31 + P1M = Feb 28/29)."""
        try:
            return _shift_months(instant, self.months + 12 * self.years) + self.exact
        except (OverflowError, ValueError):
            raise DurationError(f"{self.isoformat()} from {instant.date()} is past the calendar's end") from None

    def subtract_from(self, instant: datetime) -> datetime:
        """``instant`` minus this duration (the start of a window ending at ``instant``)."""
        try:
            return _shift_months(instant - self.exact, -(self.months + 12 * self.years))
        except (OverflowError, ValueError):
            raise DurationError(f"{self.isoformat()} before {instant.date()} is before the calendar's start") from None

    def isoformat(self) -> str:
        """Canonical text form (``P1Y2M3DT4H5M6S``); ``PT0S`` for zero."""
        seconds_total = self.exact.total_seconds()
        days, rest = divmod(self.exact, timedelta(days=1))
        hours, rest = divmod(rest, timedelta(hours=1))
        minutes, rest = divmod(rest, timedelta(minutes=1))
        seconds = rest.total_seconds()
        date_part = "".join(
            f"{value}{unit}" for value, unit in ((self.years, "Y"), (self.months, "M"), (days, "D")) if value
        )
        sec_text = f"{seconds:.6f}".rstrip("0").rstrip(".") if seconds else ""
        time_part = "".join(
            f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (sec_text, "S")) if value
        )
        if not date_part and not time_part:
            return "PT0S" if seconds_total == 0 else "P0D"
        return "P" + date_part + ("T" + time_part if time_part else "")

    def __str__(self) -> str:
        return self.isoformat()


def _shift_months(instant: datetime, months: int) -> datetime:
    total_months = instant.month - 1 + months
    year, month = instant.year + total_months // 12, total_months % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def parse_duration(text: str) -> Duration:
    """Parse an ISO 8601 duration such as ``P30D``, ``PT10S`` or ``P1Y6M``.

    Negative durations and fractions other than on seconds are refused: every place
    this service takes a duration (SLAs, retention, token lifetimes) means a span forward.
    """
    match = _PATTERN.fullmatch(text.strip().upper()) if text else None
    if match is None or not any(match.groupdict().values()):
        raise DurationError(f"{text!r} is not an ISO 8601 duration (e.g. P30D, PT10S, P1Y6M)")
    part = {key: value or "0" for key, value in match.groupdict().items()}
    try:
        exact = timedelta(
            weeks=int(part["weeks"]),
            days=int(part["days"]),
            hours=int(part["hours"]),
            minutes=int(part["minutes"]),
            seconds=float(part["seconds"]),
        )
    except (OverflowError, ValueError):
        raise DurationError(f"{text!r} is longer than any calendar can hold") from None
    return Duration(years=int(part["years"]), months=int(part["months"]), exact=exact)


def parse_seconds_or_duration(text: str) -> timedelta:
    """A plain number of seconds (``10``) or an exact ISO 8601 duration (``PT10S``)."""
    stripped = text.strip()
    try:
        value = float(stripped)
    except ValueError:
        return parse_duration(stripped).to_timedelta()
    if value < 0:
        raise DurationError(f"{text!r} is negative")
    return timedelta(seconds=value)
