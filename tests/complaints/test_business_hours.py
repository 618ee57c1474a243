"""The SLA clock: properties over time zones, daylight-saving changes, holidays and pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.complaints.business_hours import Calendar, _walked, deadline, elapsed, working_intervals

# Hypothesis's default count per property (six properties share the strategies below, so each
# zone, daylight-saving change and pause shape comes up many times over in every run).
EXAMPLES = 100
ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham"]
LO = datetime(2026, 1, 1, tzinfo=UTC)
HI = datetime(2027, 12, 31, tzinfo=UTC)

instants = st.datetimes(min_value=LO.replace(tzinfo=None), max_value=HI.replace(tzinfo=None)).map(
    lambda d: d.replace(tzinfo=UTC)
)
budgets = st.integers(min_value=0, max_value=200 * 60).map(lambda m: timedelta(minutes=m))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    start = draw(st.integers(0, 23 * 60))
    end = draw(st.integers(start + 1, 24 * 60))
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=40))
    return Calendar(
        time_zone=ZoneInfo(draw(st.sampled_from(ZONES))),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        start_minute=start,
        end_minute=end,
        holidays=holidays,
        business=draw(st.booleans()),
    )


@st.composite
def pauses(draw: st.DrawFn) -> list[tuple[datetime, datetime | None]]:
    found = []
    for _ in range(draw(st.integers(0, 4))):
        a = draw(instants)
        found.append((a, a + timedelta(minutes=draw(st.integers(1, 20 * 24 * 60)))))
    return found


def _local(cal: Calendar, instant: datetime) -> datetime:
    return instant.astimezone(cal.time_zone)


def _inside_working_time(cal: Calendar, instant: datetime) -> bool:
    """The instant lies in (or at the end of) some working interval."""
    return any(
        a <= instant <= b for a, b in working_intervals(cal, instant - timedelta(days=2), instant + timedelta(days=1))
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars(), instants, budgets, pauses())
def test_the_deadline_is_exactly_the_budget_away(cal: Calendar, start: datetime, budget: timedelta, ps: list) -> None:
    due = deadline(cal, start, budget, ps)
    assert due is not None
    assert due >= start
    assert elapsed(cal, start, due, ps) == budget
    if budget > timedelta(0):
        # The earliest such instant: a moment earlier, the budget is not spent yet.
        assert elapsed(cal, start, due - timedelta(microseconds=1), ps) < budget
        assert _inside_working_time(cal, due)


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars(), instants, instants, instants, pauses())
def test_elapsed_adds_up_and_never_exceeds_wall_time(
    cal: Calendar, a: datetime, b: datetime, c: datetime, ps: list
) -> None:
    a, b, c = sorted((a, b, c))
    assert elapsed(cal, a, c, ps) == elapsed(cal, a, b, ps) + elapsed(cal, b, c, ps)
    assert timedelta(0) <= elapsed(cal, a, c, ps) <= elapsed(cal, a, c) <= c - a


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars(), instants, instants, instants, st.integers(1, 30 * 24 * 60))
def test_a_pause_removes_exactly_the_counted_time_inside_it(
    cal: Calendar, a: datetime, c: datetime, p: datetime, minutes: int
) -> None:
    a, c = sorted((a, c))
    q = p + timedelta(minutes=minutes)
    inside = elapsed(cal, max(a, p), min(c, q)) if max(a, p) < min(c, q) else timedelta(0)
    assert elapsed(cal, a, c, [(p, q)]) == elapsed(cal, a, c) - inside


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars(), instants, budgets, instants)
def test_an_open_pause_stops_the_clock_until_further_notice(
    cal: Calendar, start: datetime, budget: timedelta, paused_at: datetime
) -> None:
    due = deadline(cal, start, budget, [(paused_at, None)])
    unpaused = deadline(cal, start, budget)
    assert unpaused is not None
    if budget > timedelta(0) and paused_at <= start:
        assert due is None
    if due is not None:
        assert due == unpaused  # reached before the pause began


@settings(max_examples=EXAMPLES, deadline=None)
@given(calendars(), instants, budgets, st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_a_holiday_never_brings_a_deadline_forward_and_counts_nothing(
    cal: Calendar, start: datetime, budget: timedelta, holiday: date
) -> None:
    with_holiday = Calendar(
        cal.time_zone, cal.working_days, cal.start_minute, cal.end_minute, cal.holidays | {holiday}, cal.business
    )
    before, after = deadline(cal, start, budget), deadline(with_holiday, start, budget)
    assert before is not None and after is not None
    if cal.business:
        assert after >= before
        day_start = datetime.combine(holiday, datetime.min.time(), tzinfo=cal.time_zone).astimezone(UTC)
        day_end = datetime.combine(holiday + timedelta(days=1), datetime.min.time(), tzinfo=cal.time_zone).astimezone(
            UTC
        )
        assert elapsed(with_holiday, day_start, day_end) == timedelta(0)
        if budget > timedelta(0):
            assert (
                _local(with_holiday, after).date() != holiday
                or _local(with_holiday, after).time() == datetime.min.time()
            )


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(ZONES), st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_a_working_day_counts_its_wall_clock_hours_across_daylight_saving_changes(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    nine_to_five = Calendar(tz, frozenset(range(7)), 9 * 60, 17 * 60)
    whole_day = Calendar(tz, frozenset(range(7)), 0, 24 * 60)
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    # Eight hours of real time from 09:00 to 17:00 local (no zone here changes its clocks in that window)...
    assert elapsed(nine_to_five, midnight, next_midnight) == timedelta(hours=8)
    # ...while a 00:00-24:00 day counts the 23, 24 or 25 hours it really has.
    assert elapsed(whole_day, midnight, next_midnight) == next_midnight - midnight


def test_daylight_saving_days_in_london() -> None:
    tz = ZoneInfo("Europe/London")
    whole_day = Calendar(tz, frozenset(range(7)), 0, 24 * 60)
    spring = datetime(2026, 3, 29, tzinfo=tz)
    autumn = datetime(2026, 10, 25, tzinfo=tz)
    assert elapsed(whole_day, spring.astimezone(UTC), datetime(2026, 3, 30, tzinfo=tz).astimezone(UTC)) == timedelta(
        hours=23
    )
    assert elapsed(whole_day, autumn.astimezone(UTC), datetime(2026, 10, 26, tzinfo=tz).astimezone(UTC)) == timedelta(
        hours=25
    )


def test_a_friday_afternoon_complaint_is_due_on_monday_and_skips_a_holiday() -> None:
    tz = ZoneInfo("Europe/London")
    cal = Calendar(tz, frozenset(range(5)), 9 * 60, 17 * 60, frozenset({date(2026, 12, 28)}))
    friday_4pm = datetime(2026, 12, 25, 16, 0, tzinfo=tz).astimezone(UTC)  # a Friday, but also Christmas
    due = deadline(cal, friday_4pm, timedelta(hours=4))
    # Christmas Friday counts only if it is a working day: it is (not in holidays here), so one hour
    # is spent on Friday, Monday the 28th is a holiday, and three hours run on Tuesday.
    assert due == datetime(2026, 12, 29, 12, 0, tzinfo=tz).astimezone(UTC)


def test_calendar_time_counts_everything_but_pauses() -> None:
    cal = Calendar(business=False)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    pause = (start + timedelta(hours=1), start + timedelta(hours=3))
    assert deadline(cal, start, timedelta(hours=4), [pause]) == start + timedelta(hours=6)


@pytest.mark.parametrize(("start", "end"), [(600, 600), (700, 600), (0, 24 * 60 + 1)])
def test_working_hours_must_be_a_non_empty_part_of_one_day(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="working hours"):
        Calendar(start_minute=start, end_minute=end)


def test_a_calendar_needs_working_days() -> None:
    with pytest.raises(ValueError, match="working days"):
        Calendar(working_days=frozenset())


@settings(max_examples=EXAMPLES)
@given(calendars(), instants, instants)
def test_elapsed_over_months_equals_the_sum_of_its_working_intervals(cal: Calendar, a: datetime, b: datetime) -> None:
    # Spans are counted from per-year sums (the support queue asks for every row); the count
    # must be what walking every working interval gives, daylight-saving days and holidays included.
    start, end = min(a, b), max(a, b)
    walked = sum((hi - lo for lo, hi in working_intervals(cal, start, end)), timedelta(0))
    assert elapsed(cal, start, end) == walked


@st.composite
def any_calendars(draw: st.DrawFn, around: date) -> Calendar:
    """Business calendars in any zone the system knows, holidays near ``around``."""
    start = draw(st.integers(0, 23 * 60 + 59))
    end = draw(st.integers(start + 1, 24 * 60))
    near = st.dates(around - timedelta(days=40), around + timedelta(days=400))
    return Calendar(
        time_zone=draw(st.timezones()),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        start_minute=start,
        end_minute=end,
        holidays=draw(st.frozensets(near, max_size=30)),
    )


@settings(max_examples=2 * EXAMPLES, deadline=None)
@given(st.data(), st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1)), st.integers(0, 400 * 24 * 60 * 60))
def test_elapsed_from_the_year_sums_equals_the_walk_in_any_zone(
    data: st.DataObject, at: datetime, seconds: int
) -> None:
    # The queue counts each row's time from per-year sums and the days around each end; the
    # walk over every working interval is the reference, in every zone's history (clocks
    # moved at midnight, whole days skipped), with holidays, 24-hour days and odd minutes.
    start = at.replace(tzinfo=UTC)
    end = start + timedelta(seconds=seconds, microseconds=data.draw(st.integers(0, 999_999)))
    cal = data.draw(any_calendars(start.date()))
    assert elapsed(cal, start, end) == _walked(cal, start, end)
    assert elapsed(cal, end, start) == timedelta(0)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Pacific/Apia", date(2011, 12, 30)),  # a whole day skipped
        ("America/Santiago", date(2022, 9, 11)),  # midnight never came
        ("America/Havana", date(2026, 11, 1)),  # the hour after midnight twice
        ("Australia/Lord_Howe", date(2026, 4, 5)),  # half an hour back
    ],
)
def test_elapsed_equals_the_walk_around_odd_clock_changes(zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    middle = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    around = [middle + timedelta(minutes=47 * n) for n in range(-60, 61)]
    for start_minute, end_minute in ((0, 24 * 60), (9 * 60, 17 * 60), (30, 90), (23 * 60, 24 * 60)):
        cal = Calendar(tz, frozenset(range(7)), start_minute, end_minute, frozenset({day + timedelta(days=2)}))
        for a in around[::3]:
            for b in around:
                assert elapsed(cal, a, b) == _walked(cal, a, b), (a, b)
