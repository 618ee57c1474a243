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
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

Pause = tuple[datetime, datetime | None]
MINUTES_PER_DAY = 24 * 60
_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Calendar:
    """When the SLA clock runs. ``start_minute``/``end_minute`` are local minutes of the day (0-1440)."""

    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    working_days: frozenset[int] = frozenset(range(5))  # 0 = Monday
    start_minute: int = 9 * 60
    end_minute: int = 17 * 60
    holidays: frozenset[date] = frozenset()
    business: bool = True  # False: calendar time, every instant counts
    # Kept: the counted time is cached per calendar, and the queue looks it up twice a row.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = (self.time_zone, self.working_days, self.start_minute, self.end_minute, self.holidays, self.business)
        object.__setattr__(self, "_hash", hash(fields))
        if self.business:
            if not self.working_days or not self.working_days <= set(range(7)):
                raise ValueError("working days must be a non-empty set of weekdays 0 (Monday) to 6")
            if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
                raise ValueError("working hours must start before they end, within one day")

    def __hash__(self) -> int:
        return self._hash

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
    if pauses:
        return _walked(calendar, start, end, pauses)
    if not calendar.business:
        return end - start
    if start.year == MINYEAR or end.year == MAXYEAR:  # the day either side would be no date
        return _walked(calendar, start, end)
    # Counted from the start of a year to each end, so that the queue (every row, every
    # request) pays a few lookups rather than a walk over each day between: the year's
    # sums are kept per calendar, and so is each end (the same deadlines come back with
    # every request, and ``now`` with every row of one).
    start_year, before_start = _counted_to(calendar, start)
    end_year, before_end = _counted_to(calendar, end)
    while end_year > start_year:
        end_year -= 1
        before_end += _year(calendar, end_year)[-1]
    while start_year > end_year:  # only where a zone moved its clock back across a new year
        start_year -= 1
        before_start += _year(calendar, start_year)[-1]
    return before_end - before_start


def _walked(calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    """Counted time between ``start`` and ``end``, summed over each running interval."""
    if end <= start:
        return _ZERO
    return sum((b - a for a, b in _running(calendar, start, end, pauses)), _ZERO)


def _hours_of(calendar: Calendar, day: date) -> tuple[datetime, datetime] | None:
    """The UTC interval a local day works, as :func:`working_intervals` has it (none on a day
    off, or when the hours fall into a daylight-saving gap)."""
    if not calendar.is_working_day(day):
        return None
    start = _local(day, calendar.start_minute, calendar.time_zone)
    end = _local(day, calendar.end_minute, calendar.time_zone)
    return (start, end) if start < end else None


@lru_cache(maxsize=64)
def _year(calendar: Calendar, year: int) -> tuple[timedelta, ...]:
    """Working time before each day of a local year: item ``n`` sums its first ``n`` days
    (the last item is the whole year's)."""
    day, sums = date(year, 1, 1), [_ZERO]
    while day.year == year:
        hours = _hours_of(calendar, day)
        sums.append(sums[-1] + (hours[1] - hours[0] if hours else _ZERO))
        day += _ONE_DAY
    return tuple(sums)


@lru_cache(maxsize=8192)
def _counted_to(calendar: Calendar, instant: datetime) -> tuple[int, timedelta]:
    """The working time from local 1 January of a year up to ``instant``, with that year.

    The whole days up to the eve of ``instant``'s local day come from :func:`_year`; the eve,
    the day and the morrow are cut at ``instant`` each, since a daylight-saving change may
    move one day's hours past a neighbour's midnight. Days further off lie wholly before or
    after it, so differences of these equal the walk over the intervals between."""
    day = instant.astimezone(calendar.time_zone).date()
    eve = day - _ONE_DAY
    counted = _year(calendar, eve.year)[eve.toordinal() - date(eve.year, 1, 1).toordinal()]
    for near in (eve, day, day + _ONE_DAY):
        hours = _hours_of(calendar, near)
        if hours is not None and hours[0] < instant:
            counted += min(hours[1], instant) - hours[0]
    return eve.year, counted


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
