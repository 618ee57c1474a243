"""The privacy period summary: consent changes and data requests, counted through the API.

The scenario lives in May and June 2018 (the clock is set back), where no other test
writes, so the figures are exact; records a second before and just after the period
show that it is whole UTC days, both inclusive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.core import periods
from governance.core.clock import ManualClock
from governance.core.errors import Problem
from governance.core.rows import typed_all
from governance.privacy import summary

from .conftest import ANALYTICS, RECRUITERS, SHARE, Privacy, new_mentee

PERIOD = {"period_start": "2018-05-01", "period_end": "2018-06-30"}
METHODS = {"explicit", "gpc", "default", "expired", "erasure"}
TYPES = ("access", "portability", "erasure", "rectification", "restriction", "objection")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def _summary(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> httpx.Response:
    return await client.get("/api/v1/privacy/summary", params=params or PERIOD, headers=headers)


async def _moved(privacy: Privacy, request: dict[str, Any], to: str, **extra: Any) -> dict[str, Any]:
    response = await privacy.move(request["id"], to, **extra)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_period_summary_counts_consent_changes_and_requests_answered_in_time(
    privacy: Privacy, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    # A second before the period: counted nowhere.
    clock.set(at(2018, 4, 30, 23, 59, 59))
    before = new_mentee()
    await privacy.choose(before, **{SHARE: "opt_in"})
    early = await privacy.file(before, "access")

    # 2 May 2018: requests due on 2 June (one calendar month).
    clock.set(at(2018, 5, 2, 10))
    first, second = new_mentee(), new_mentee()
    await privacy.choose(first, **{SHARE: "opt_in", ANALYTICS: "opt_out"})
    await privacy.choose(second, **{SHARE: "opt_in"})
    gpc = await privacy.put(second, gpc=True)  # Global Privacy Control: opts out of the sharing it allowed
    assert gpc.status_code == 200, gpc.text
    requester = new_mentee()
    answered = await privacy.file(requester, "objection")
    rejected = await privacy.file(requester, "rectification")
    extended = await privacy.file(requester, "restriction")
    late = await privacy.file(requester, "objection")
    withdrawn = await privacy.file(requester, "erasure")
    overdue = await privacy.file(requester, "portability")
    assert datetime.fromisoformat(overdue["due_at"]) == at(2018, 6, 2, 10)
    await _moved(privacy, withdrawn, "withdrawn", headers=privacy.mentee(requester))

    clock.set(at(2018, 5, 10, 10))
    await privacy.complete(answered["id"])
    await _moved(privacy, rejected, "rejected", reason_code="manifestly_unfounded", reason="asked twice a day")
    moved = await _moved(privacy, extended, "extended", extension="P1M", reason="records held by three systems")
    assert datetime.fromisoformat(moved["due_at"]) == at(2018, 7, 2, 10)

    # Answered after the first month: late for the request without an extension, on time
    # for the one extended.
    clock.set(at(2018, 6, 20, 10))
    await privacy.complete(late["id"])
    await _moved(privacy, extended, "completed")

    clock.set(at(2018, 6, 25, 10))
    pending = await privacy.file(requester, "access")  # due 25 July: open, not overdue

    # The last second of the period, and the first one after it.
    clock.set(at(2018, 6, 30, 23, 59, 59))
    last = new_mentee()
    await privacy.choose(last, **{ANALYTICS: "opt_in"})
    clock.set(at(2018, 7, 1))
    after = new_mentee()
    await privacy.choose(after, **{RECRUITERS: "opt_in"})
    await privacy.complete((await privacy.file(after, "objection"))["id"])
    await privacy.complete(early["id"])  # received before the period: its lateness is not counted

    clock.set(at(2018, 7, 15, 12))
    response = await _summary(client, privacy.officer())
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["period_start"] == "2018-05-01" and figures["period_end"] == "2018-06-30"
    assert datetime.fromisoformat(figures["as_of"]) == at(2018, 7, 15, 12)
    assert figures["consent_changes_by_purpose"] == {
        ANALYTICS: {"opt_in": 1, "opt_out": 1},
        SHARE: {"opt_in": 2, "opt_out": 1},
    }
    assert figures["consent_changes_by_method"] == {
        "explicit": 4,
        "gpc": 1,
        "default": 0,
        "expired": 0,
        "erasure": 0,
    }
    assert figures["data_requests_received"] == 7
    assert figures["data_requests_by_type"] == {
        "access": 1,
        "portability": 1,
        "erasure": 1,
        "rectification": 1,
        "restriction": 1,
        "objection": 2,
    }
    # Answered: completed or rejected (the withdrawn one was never answered).
    assert figures["data_requests_closed"] == 4
    assert figures["data_requests_answered_on_time"] == 3
    assert figures["share_answered_on_time"] == 0.75
    assert figures["data_requests_open_overdue"] == 1

    # Weeks later the pending access request is overdue too; nothing else moves.
    clock.set(at(2018, 8, 1))
    later = (await _summary(client, privacy.auth("auditor", sub="accreditor-1"))).json()
    assert later["data_requests_open_overdue"] == 2
    assert later["data_requests_closed"] == 4 and later["share_answered_on_time"] == 0.75
    assert later["consent_changes_by_purpose"] == figures["consent_changes_by_purpose"]

    # One day: the last one of the period.
    one_day = (await _summary(client, privacy.officer(), period_start="2018-06-30", period_end="2018-06-30")).json()
    assert one_day["consent_changes_by_purpose"] == {ANALYTICS: {"opt_in": 1, "opt_out": 0}}
    assert one_day["data_requests_received"] == 0 and one_day["share_answered_on_time"] is None

    # No subject appears in the summary, only counts.
    text = response.text
    for mentee in (before, first, second, requester, last, after):
        assert mentee not in text
    for request in (overdue, pending):
        await _moved(privacy, request, "withdrawn", headers=privacy.mentee(requester))  # tidy: nothing left open


async def test_an_empty_period_has_every_method_and_type_with_zeros(
    privacy: Privacy, client: httpx.AsyncClient
) -> None:
    response = await _summary(client, privacy.officer(), period_start="2010-01-01", period_end="2010-12-31")
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["consent_changes_by_purpose"] == {}
    assert figures["consent_changes_by_method"] == dict.fromkeys(
        ("explicit", "gpc", "default", "expired", "erasure"), 0
    )
    assert figures["data_requests_by_type"] == dict.fromkeys(TYPES, 0)
    assert figures["data_requests_received"] == figures["data_requests_closed"] == 0
    assert figures["share_answered_on_time"] is None


@pytest.mark.parametrize(
    ("role", "status"),
    [("compliance_officer", 200), ("auditor", 200), ("support_agent", 403), ("mentee", 403), ("platform", 403)],
)
async def test_who_may_read_the_summary(privacy: Privacy, client: httpx.AsyncClient, role: str, status: int) -> None:
    response = await _summary(client, privacy.auth(role, sub=f"{role}-1"))
    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period_start": "2018-06-30", "period_end": "2018-06-29"}, "period_end"),
        ({"period_start": "2016-02-29", "period_end": "2019-03-01"}, "period_end"),
        ({"period_start": "2018-05-01"}, "period_end"),
        ({"period_end": "2018-05-01"}, "period_start"),
        ({"period_start": "2018-05-01", "period_end": "30/06/2018"}, "period_end"),
    ],
)
async def test_a_bad_period_answers_400_naming_the_field(
    privacy: Privacy, client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await _summary(client, privacy.officer(), **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert repr(field) in problem["detail"]
    if "errors" in problem:  # absent only for a missing parameter, which Litestar names in the detail
        assert [error["field"] for error in problem["errors"]] == [field]


# --- the pure parts --------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2020, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@st.composite
def request_rows(draw: st.DrawFn) -> dict[str, Any]:
    state = draw(
        st.sampled_from(
            ["received", "identity_verification", "in_progress", "extended", "completed", "rejected", "withdrawn"]
        )
    )
    closed = state in ("completed", "rejected", "withdrawn")
    return {
        "request_type": draw(st.sampled_from(TYPES)),
        "state": state,
        "due_at": draw(instants),
        "closed_at": draw(instants) if closed else None,
    }


@given(st.lists(request_rows(), max_size=50), instants)
def test_the_request_tally_adds_up(rows: list[dict[str, Any]], now: datetime) -> None:
    received, by_type, closed, on_time, overdue = summary.tally_requests(typed_all(rows, summary.RequestStanding), now)
    assert received == len(rows) == sum(by_type.values())
    withdrawn = sum(row["state"] == "withdrawn" for row in rows)
    assert on_time <= closed <= received - withdrawn
    assert closed + overdue <= received - withdrawn
    assert on_time == sum(
        row["state"] in ("completed", "rejected") and row["closed_at"] <= row["due_at"] for row in rows
    )


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "purpose": st.sampled_from([SHARE, RECRUITERS, ANALYTICS]),
                "state": st.sampled_from(["opt_in", "opt_out"]),
                "method": st.sampled_from(sorted(METHODS)),
                "count": st.integers(1, 1000),
            }
        ),
        max_size=30,
    )
)
def test_the_consent_tally_adds_up(groups: list[dict[str, Any]]) -> None:
    by_purpose, by_method = summary.tally_consent(typed_all(groups, summary.ConsentChanges))
    total = sum(group["count"] for group in groups)
    assert sum(by_method.values()) == total == sum(sum(states.values()) for states in by_purpose.values())
    assert set(by_method) == METHODS
    assert all(set(states) == {"opt_in", "opt_out"} for states in by_purpose.values())


@given(st.dates(date(1990, 1, 1), date(2090, 12, 31)), st.integers(0, 2000))
def test_a_period_is_whole_days_and_at_most_three_years(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    since, until = periods.bounds(start, end)
    assert until - since == timedelta(days=days + 1)
    assert since.tzinfo is UTC and since.time() == until.time() == datetime.min.time()
    months = periods.months(start, end)
    assert months[0] == f"{start:%Y-%m}" and months[-1] == f"{end:%Y-%m}"
    assert len(months) == (end.year - start.year) * 12 + end.month - start.month + 1
    assert len(set(months)) == len(months) and months == sorted(months)
    longest = periods.longest_end(start)
    assert 365 * 3 <= (longest - start).days + 1 <= 366 * 3
    if end > longest:
        with pytest.raises(Problem):
            periods.check(start, end)
    else:
        periods.check(start, end)
