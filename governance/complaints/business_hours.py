"""The SLA clock: how much counted time lies between two instants, and when a budget runs out.

Pure functions over aware UTC instants; nothing here reads the time or the database.

A :class:`Calendar` says when the clock runs: either always (calendar time), or during
local working hours on working days in one time zone, except holidays. Working hours are
wall-clock times, so across a daylight-saving change a 09:00-17:00 day still counts eight
hours of real time, and a 00:00-24:00 day counts the 23 or 25 hours the day really has.
*Pauses* are UTC intervals during which the clock stops (a complaint awaiting the
complainant); an open pause (end ``None``) stops it until further notice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

Pause = tuple[datetime, datetime | None]
MINUTES_PER_DAY = 24 * 60
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class Calendar:
    """When the SLA clock runs. ``start_minute``/``end_minute`` are local minutes of the day (0-1440)."""

    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    working_days: frozenset[int] = frozenset(range(5))  # 0 = Monday
    start_minute: int = 9 * 60
    end_minute: int = 17 * 60
    holidays: frozenset[date] = frozenset()
    business: bool = True  # False: calendar time, every instant counts

    def __post_init__(self) -> None:
        if self.business:
            if not self.working_days or not self.working_days <= set(range(7)):
                raise ValueError("working days must be a non-empty set of weekdays 0 (Monday) to 6")
            if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
                raise ValueError("working hours must start before they end, within one day")

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.working_days and day not in self.holidays

    def as_calendar_time(self) -> Calendar:
        """The same calendar, counting every instant."""
        return Calendar(self.time_zone, self.working_days, self.start_minute, self.end_minute, self.holidays, False)


@lru_cache(maxsize=8192)
def _local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """``day`` at ``minute`` local time, as a UTC instant (minute 1440 is the next midnight).
    Kept: the queue asks the same few days for every row, and the time zone lookup costs more."""
    if minute == MINUTES_PER_DAY:
        return _local(day + timedelta(days=1), 0, tz)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).astimezone(UTC)


def working_intervals(calendar: Calendar, lo: datetime, hi: datetime | None) -> Iterator[tuple[datetime, datetime]]:
    """The UTC intervals of working time within ``[lo, hi)`` in order (``hi=None``: without end)."""
    if not calendar.business:
        yield (lo, hi if hi is not None else datetime.max.replace(tzinfo=UTC))
        return
    # Start a day early: a local day may begin before lo's UTC date.
    day = lo.astimezone(calendar.time_zone).date() - timedelta(days=1)
    while True:
        start = _local(day, calendar.start_minute, calendar.time_zone)
        if hi is not None and start >= hi:
            return
        if calendar.is_working_day(day):
            end = _local(day, calendar.end_minute, calendar.time_zone)
            a, b = max(start, lo), end if hi is None else min(end, hi)
            if a < b:  # empty when the hours fall into a daylight-saving gap
                yield a, b
        day += timedelta(days=1)


def _merged(pauses: Iterable[Pause]) -> list[Pause]:
    """Pauses sorted and merged; an open pause swallows everything after it."""
    merged: list[Pause] = []
    for start, end in sorted(pauses, key=lambda p: p[0]):
        if end is not None and end <= start:
            continue
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if start <= last_end:
                merged[-1] = (last_start, None if end is None else max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def _running(
    calendar: Calendar, lo: datetime, hi: datetime | None, pauses: Sequence[Pause]
) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals within ``[lo, hi)`` with the pauses cut out."""
    merged = _merged(pauses)
    for a, b in working_intervals(calendar, lo, hi):
        cursor = a
        for p_start, p_end in merged:
            if p_end is not None and p_end <= cursor:
                continue
            if p_start >= b:
                break
            if p_start > cursor:
                yield cursor, p_start
            if p_end is None:
                return
            cursor = max(cursor, p_end)
            if cursor >= b:
                break
        if cursor < b:
            yield cursor, b


def elapsed(calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    """Counted time between ``start`` and ``end`` (zero when ``end <= start``)."""
    if end <= start:
        return _ZERO
    if calendar.business and not pauses:
        # Whole local days in the middle are summed from per-month totals, so that a case
        # a year overdue costs a few dozen additions, not a walk over every day (the queue
        # shows this for every row). The edge days are walked as before.
        first = start.astimezone(calendar.time_zone).date() + timedelta(days=1)
        last = end.astimezone(calendar.time_zone).date()
        if last - first > _WALKED:
            inner_start, inner_end = _local(first, 0, calendar.time_zone), _local(last, 0, calendar.time_zone)
            return (
                _walked(calendar, start, inner_start) + _days(calendar, first, last) + _walked(calendar, inner_end, end)
            )
    return _walked(calendar, start, end, pauses)


# Below this many whole days the walk is as quick as the sums.
_WALKED = timedelta(days=62)


def _walked(calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    if end <= start:
        return _ZERO
    return sum((b - a for a, b in _running(calendar, start, end, pauses)), _ZERO)


def _day_length(calendar: Calendar, day: date) -> timedelta:
    """The working time of one whole local day (none on a day off or in a daylight-saving gap)."""
    if not calendar.is_working_day(day):
        return _ZERO
    start = _local(day, calendar.start_minute, calendar.time_zone)
    end = _local(day, calendar.end_minute, calendar.time_zone)
    return end - start if start < end else _ZERO


@lru_cache(maxsize=4096)
def _month(calendar: Calendar, year: int, month: int) -> tuple[timedelta, ...]:
    """Working time before each day of a month: item ``n`` sums its days ``1..n`` (item 0 is zero)."""
    day = date(year, month, 1)
    sums = [_ZERO]
    while day.month == month:
        sums.append(sums[-1] + _day_length(calendar, day))
        day += timedelta(days=1)
    return tuple(sums)


def _days(calendar: Calendar, first: date, last: date) -> timedelta:
    """The working time of the whole local days ``first`` up to, not including, ``last``."""
    if (first.year, first.month) == (last.year, last.month):
        month = _month(calendar, first.year, first.month)
        return month[last.day - 1] - month[first.day - 1]
    head = _month(calendar, first.year, first.month)
    total = head[-1] - head[first.day - 1]
    year, month_of_year = first.year, first.month
    while True:
        year, month_of_year = (year + 1, 1) if month_of_year == 12 else (year, month_of_year + 1)
        sums = _month(calendar, year, month_of_year)
        if (year, month_of_year) == (last.year, last.month):
            return total + sums[last.day - 1]
        total += sums[-1]


def deadline(calendar: Calendar, start: datetime, budget: timedelta, pauses: Sequence[Pause] = ()) -> datetime | None:
    """The instant when ``budget`` of counted time has passed since ``start``.

    ``None`` while an open pause stops the clock before the budget is spent. The result is
    the earliest such instant, so it always lies inside working time (or at its end).
    """
    if budget < _ZERO:
        raise ValueError("an SLA budget cannot be negative")
    if budget == _ZERO:
        return start
    left = budget
    for a, b in _running(calendar, start, None, pauses):
        if b - a >= left:
            return a + left
        left -= b - a
    return None
