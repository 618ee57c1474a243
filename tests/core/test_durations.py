"""ISO 8601 durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.core.durations import Duration, DurationError, parse_duration, parse_seconds_or_duration

from ..conftest import AuthHeaders


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P30D", Duration(exact=timedelta(days=30))),
        ("PT10S", Duration(exact=timedelta(seconds=10))),
        ("P1W", Duration(exact=timedelta(weeks=1))),
        ("P1Y6M", Duration(years=1, months=6)),
        ("P1DT2H3M4.5S", Duration(exact=timedelta(days=1, hours=2, minutes=3, seconds=4.5))),
        ("pt1h", Duration(exact=timedelta(hours=1))),
    ],
)
def test_parses_what_the_api_accepts(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "30D", "P-1D", "P1.5D", "P1DT", "PT1H2", "1 day", "P1D1Y"])
def test_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_calendar_durations_have_no_fixed_length_but_add_to_instants() -> None:
    with pytest.raises(DurationError):
        parse_duration("P1M").to_timedelta()
    jan_31 = datetime(2027, 1, 31, 12, tzinfo=UTC)
    assert parse_duration("P1M").add_to(jan_31) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert parse_duration("P1Y1D").add_to(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2029, 3, 1, tzinfo=UTC)


def test_seconds_or_duration() -> None:
    assert parse_seconds_or_duration("10") == timedelta(seconds=10)
    assert parse_seconds_or_duration("PT10S") == timedelta(seconds=10)
    with pytest.raises(DurationError):
        parse_seconds_or_duration("-5")


@given(
    st.integers(0, 20),
    st.integers(0, 30),
    st.integers(0, 400),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999_999),
)
def test_canonical_text_round_trips(
    years: int, months: int, days: int, hours: int, minutes: int, seconds: int, micros: int
) -> None:
    duration = Duration(
        years=years,
        months=months,
        exact=timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds, microseconds=micros),
    )
    assert parse_duration(duration.isoformat()) == duration


@pytest.mark.parametrize("text", ["PT99999999999999S", "P999999999999W", "P90286Y8094800M", "P9999Y"])
def test_spans_past_the_calendar_are_refused_not_crashed(text: str) -> None:
    start = datetime(2026, 11, 30, tzinfo=UTC)
    with pytest.raises(DurationError):
        parse_duration(text).add_to(start)
    with pytest.raises(DurationError):
        parse_duration(text).subtract_from(start)


async def test_an_expiry_horizon_past_the_calendar_answers_400(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.get(
        "/api/v1/vetting/expiring?within=P90286Y8094800M", headers=auth("compliance_officer", sub="officer-1")
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "within"
