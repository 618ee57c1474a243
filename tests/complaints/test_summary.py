"""The complaints period summary: the figures a compliance officer checks, built through the API.

The scenario lives in 2019 (the clock is set back), where no other test writes, so the
figures are exact; records just outside the period (a second before, the first second
after) show that the period is whole UTC days, both inclusive.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.bootstrap import Services
from governance.complaints import summary
from governance.complaints.scan import run_scan
from governance.complaints.schemas import CATEGORIES, COMPLAINT_STATES, DISPUTE_STATES
from governance.complaints.tables import Complaint
from governance.core import periods
from governance.core.clock import ManualClock
from governance.core.rows import typed, typed_all
from governance.settings import Settings

from .conftest import Api, new_id

PERIOD = {"period_start": "2019-02-01", "period_end": "2019-03-31"}
REASONS = "Reviewed the session recording and the mentor's notes"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def _summary(api: Api, role: str = "compliance_officer", **params: str) -> httpx.Response:
    query = "&".join(f"{key}={value}" for key, value in (params or PERIOD).items())
    return await api.call("GET", f"/complaints/summary?{query}", role, f"{role}-1")


async def _moved(api: Api, complaint: dict[str, Any], *steps: str, **resolution: str) -> None:
    for step in steps:
        role = "mentee" if step == "withdrawn" else "support_agent"
        sub = complaint["complainant_id"] if role == "mentee" else "agent-1"
        if step == "resolved" and complaint["state"] == "escalated":
            role, sub = "compliance_officer", "officer-1"
        body = {"outcome": resolution["outcome"], "reasons": REASONS} if step == "resolved" else {}
        response = await api.move(complaint, step, role=role, sub=sub, **body)
        assert response.status_code == 200, response.text
        complaint.update(response.json())


async def _paid(api: Api, session: str, amount: int, currency: str) -> None:
    body = {"mentee_id": "mentee-sum-refunds", "amount_minor": amount, "currency": currency}
    response = await api.call("PUT", f"/sessions/{session}/payment", "platform", "platform-1", body)
    assert response.status_code == 200, response.text


async def _refund(api: Api, session: str, amount: int, currency: str, *steps: str) -> None:
    """A refund for ``session``, then each step: ``approved`` (support), ``denied``
    (support), ``issued`` or ``failed`` (the platform)."""
    body = {"session_id": session, "amount_minor": amount, "currency": currency, "reason": "upheld complaint"}
    created = await api.call("POST", "/refunds", "support_agent", "agent-1", body, {"Idempotency-Key": new_id()})
    assert created.status_code == 201, created.text
    refund = created.json()
    for step in steps:
        role, sub = ("platform", "platform-1") if step in ("issued", "failed") else ("support_agent", "agent-2")
        extra = {
            "issued": {"payment_reference": "pay-" + new_id()},
            "approved": {"reasons": "the complaint was upheld"},
            "denied": {"reason": "no"},
            "failed": {"reason": "x"},
        }
        current = await api.call("GET", f"/refunds/{refund['id']}", role, sub)
        moved = await api.call(
            "POST",
            f"/refunds/{refund['id']}/transitions",
            role,
            sub,
            {"to": step, **extra.get(step, {})},
            {"If-Match": current.headers["etag"]},
        )
        assert moved.status_code == 200, moved.text
        refund = moved.json()
    assert refund["state"] == (steps[-1] if steps else "requested")


async def _dispute(api: Api, *steps: tuple[str, str, str, dict[str, Any]]) -> dict[str, Any]:
    """A dispute the candidate opens about a new attestation, then each ``(to, role, sub, body)``
    step (``"candidate"`` as sub stands for the candidate)."""
    mentor, candidate = "mentor-" + new_id(), "cand-" + new_id()
    attestation = {
        "mentor_id": mentor,
        "candidate_id": candidate,
        "competency": "system-design",
        "score": 3,
        "rubric_version": "2026.1",
        "session_date": "2019-01-15",
        "token_sha256": hashlib.sha256(candidate.encode()).hexdigest(),
    }
    recorded = await api.call("POST", "/attestations", "platform", "platform-1", attestation)
    assert recorded.status_code == 201, recorded.text
    opened = await api.call(
        "POST", f"/attestations/{recorded.json()['id']}/disputes", "mentee", candidate, {"reason": "Score is wrong"}
    )
    assert opened.status_code == 201, opened.text
    dispute = dict(opened.json())
    for to, role, sub, body in steps:
        sub = candidate if sub == "candidate" else sub
        current = await api.call("GET", f"/disputes/{dispute['id']}", role, sub)
        moved = await api.call(
            "POST",
            f"/disputes/{dispute['id']}/transitions",
            role,
            sub,
            {"to": to, **({"reasons": "the tier's reasons"} if to in ("decided", "revoked") else {}), **body},
            {"If-Match": current.headers["etag"]},
        )
        assert moved.status_code == 200, moved.text
        dispute = moved.json()
    return dispute


async def test_the_period_summary_counts_what_an_accreditor_checks(
    services: Services, api: Api, client: httpx.AsyncClient, clock: ManualClock
) -> None:
    complaints = services.complaints

    # A second before the period: counted nowhere.
    clock.set(at(2019, 1, 31, 23, 59, 59))
    await api.file(sub="mentee-sum-x1", category="billing")
    await _paid(api, "s-sum-before", 5_000, "EUR")
    await _refund(api, "s-sum-before", 1_000, "EUR", "approved", "issued")
    await _dispute(api)

    # Monday 4 February 2019, 10:00 UTC.
    clock.set(at(2019, 2, 4, 10))
    upheld = await api.file(sub="mentee-sum-a", category="session_quality")
    await _moved(api, upheld, "acknowledged", "investigating", "resolved", outcome="upheld")
    closed = await api.file(sub="mentee-sum-b", category="billing")
    await _moved(api, closed, "acknowledged", "investigating", "resolved", "closed", outcome="not_upheld")
    withdrawn = await api.file(sub="mentee-sum-c", category="mentor_conduct")
    await _moved(api, withdrawn, "withdrawn")
    late = await api.file(sub="mentee-sum-d", category="billing")  # never touched: due within a week
    safeguarding = await api.file(sub="mentee-sum-e", category="safeguarding")
    assert safeguarding["state"] == "escalated"
    await _moved(api, safeguarding, "resolved", outcome="partially_upheld")

    await _paid(api, "s-sum-1", 50_000, "EUR")
    await _paid(api, "s-sum-2", 3_000, "GBP")
    await _paid(api, "s-sum-3", 1_000, "EUR")
    await _refund(api, "s-sum-1", 5_000, "EUR", "approved", "issued")
    await _refund(api, "s-sum-2", 700, "GBP", "approved", "issued")
    await _refund(api, "s-sum-1", 300, "EUR", "approved", "issued")
    await _refund(api, "s-sum-3", 200, "EUR", "denied")
    await _refund(api, "s-sum-3", 100, "EUR")
    await _refund(api, "s-sum-1", 400, "EUR", "approved", "failed")

    decided = await _dispute(api, ("decided", "support_agent", "agent-1", {"outcome": "upheld"}))
    assert decided["tier"] == "L1"
    amended = await _dispute(
        api,
        ("l2_review", "support_agent", "agent-1", {}),
        ("decided", "compliance_officer", "officer-1", {"outcome": "amended", "new_score": 2}),
    )
    assert amended["state"] == "decided" and amended["tier"] == "L2"
    revoked = await _dispute(
        api,
        ("decided", "support_agent", "agent-1", {"outcome": "upheld"}),
        ("l2_review", "mentee", "candidate", {}),
        ("decided", "compliance_officer", "officer-1", {"outcome": "upheld"}),
        ("l3_review", "mentee", "candidate", {}),
        ("revoked", "compliance_officer", "officer-2", {}),
        ("revoked", "compliance_officer", "officer-3", {}),
    )
    assert revoked["state"] == "revoked" and revoked["tier"] == "L3"
    await _dispute(api, ("withdrawn", "mentee", "candidate", {}))

    # Friday 29 March 2019.
    clock.set(at(2019, 3, 29, 10))
    acknowledged = await api.file(sub="mentee-sum-g", category="other")
    await _moved(api, acknowledged, "acknowledged")
    await _dispute(api)  # stays at L1: due within a week
    appealed = await _dispute(
        api,
        ("decided", "support_agent", "agent-1", {"outcome": "upheld"}),
        ("l2_review", "mentee", "candidate", {}),
    )
    assert appealed["state"] == "l2_review" and appealed["outcome"] == "upheld", "the L1 outcome stays on the row"

    # The last second of the period, and the first one after it.
    clock.set(at(2019, 3, 31, 23, 59, 59))
    await api.file(sub="mentee-sum-h", category="privacy")
    clock.set(at(2019, 4, 1))
    await api.file(sub="mentee-sum-x2", category="session_quality")
    await _paid(api, "s-sum-after", 5_000, "EUR")
    await _refund(api, "s-sum-after", 2_000, "EUR", "approved", "issued")
    await _dispute(api)

    # A week on: the untouched billing complaint is past its resolve deadline, but no scan
    # has run yet; it is judged and breached all the same.
    clock.set(at(2019, 4, 8, 12))
    response = await _summary(api)
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["period_start"] == "2019-02-01" and figures["period_end"] == "2019-03-31"
    assert datetime.fromisoformat(figures["as_of"]) == at(2019, 4, 8, 12)
    assert figures["complaints_received"] == 7
    assert figures["by_category"] == {
        "session_quality": 1,
        "mentor_conduct": 1,
        "safeguarding": 1,
        "billing": 2,
        "attestation": 0,
        "privacy": 1,
        "other": 1,
    }
    assert figures["by_outcome"] == {
        "upheld": 1,
        "partially_upheld": 1,
        "not_upheld": 1,
        "withdrawn": 1,
        "open": 3,
    }
    zeros = dict.fromkeys(CATEGORIES, 0)
    assert figures["per_month"] == [
        {
            "month": "2019-02",
            "by_category": {**zeros, "session_quality": 1, "mentor_conduct": 1, "safeguarding": 1, "billing": 2},
        },
        {"month": "2019-03", "by_category": {**zeros, "other": 1, "privacy": 1}},
    ]
    # Judged: the three resolved (one closed) and the overdue one; the withdrawn one and the
    # two whose resolve deadline is still ahead are not.
    assert figures["sla"] == {"judged": 4, "met": 3, "breached": 1, "attainment": 0.75}
    assert figures["refunds"] == {
        "requested": 6,
        "by_state": {"requested": 1, "approved": 0, "denied": 1, "issued": 3, "failed": 1},
        "issued_minor_by_currency": {"EUR": 5_300, "GBP": 700},
    }
    assert figures["disputes"] == {
        "opened": 6,
        "by_outcome": {"upheld": 1, "amended": 1, "revoked": 1, "withdrawn": 1, "open": 2},
        "by_tier": {"L1": 3, "L2": 2, "L3": 1},
        "breached": 1,  # the L1 review left since 29 March
    }

    # The scan flags what it finds overdue; the figures do not move.
    await run_scan(complaints, clock.now())
    after_scan = (await _summary(api)).json()
    assert after_scan["sla"] == figures["sla"]
    assert after_scan["disputes"] == figures["disputes"]
    assert after_scan["by_outcome"] == figures["by_outcome"], "escalated by the scan is still open"
    flagged = (await api.call("GET", f"/complaints/{late['id']}", "support_agent", "agent-1")).json()
    assert flagged["sla"]["breached"] is True and "resolve" in flagged["sla"]["breaches"]

    # End of May: the March complaints' resolve deadlines have passed too (both were flagged
    # for earlier targets, so both count as breached); the appealed dispute's L2 is overdue.
    clock.set(at(2019, 5, 31, 12))
    later = (await _summary(api)).json()
    assert later["sla"] == {"judged": 6, "met": 3, "breached": 3, "attainment": 0.5}
    assert later["disputes"]["breached"] == 2
    assert later["complaints_received"] == 7 and later["refunds"] == figures["refunds"]
    await run_scan(complaints, clock.now())  # leaves nothing of 2019 pending for later tests
    assert (await _summary(api)).json()["sla"] == later["sla"]

    # One day: only what arrived on that day.
    one_day = (await _summary(api, period_start="2019-03-31", period_end="2019-03-31")).json()
    assert one_day["complaints_received"] == 1 and one_day["by_category"]["privacy"] == 1
    assert [m["month"] for m in one_day["per_month"]] == ["2019-03"]
    assert one_day["refunds"]["requested"] == 0 and one_day["refunds"]["issued_minor_by_currency"] == {}
    assert one_day["disputes"]["opened"] == 0
    assert one_day["sla"] == {"judged": 1, "met": 0, "breached": 1, "attainment": 0.0}


async def test_an_empty_period_has_every_key_with_zeros(api: Api) -> None:
    response = await _summary(api, "auditor", period_start="2011-01-15", period_end="2011-03-02")
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["complaints_received"] == 0
    assert figures["by_category"] == dict.fromkeys(CATEGORIES, 0)
    assert [m["month"] for m in figures["per_month"]] == ["2011-01", "2011-02", "2011-03"]
    assert figures["sla"] == {"judged": 0, "met": 0, "breached": 0, "attainment": None}
    assert figures["refunds"]["by_state"] == {"requested": 0, "approved": 0, "denied": 0, "issued": 0, "failed": 0}
    assert figures["disputes"]["by_tier"] == {"L1": 0, "L2": 0, "L3": 0}


@pytest.mark.parametrize(
    ("role", "status"),
    [("compliance_officer", 200), ("auditor", 200), ("support_agent", 403), ("mentee", 403), ("platform", 403)],
)
async def test_who_may_read_the_summary(api: Api, role: str, status: int) -> None:
    response = await _summary(api, role)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_summary_route_is_not_taken_for_a_complaint_id(api: Api) -> None:
    """``/complaints/summary`` is its own route: a support agent (who may read complaints)
    is refused it, and complaint ids still reach their complaint."""
    filed = await api.file(sub="mentee-sum-route")
    assert (
        await api.call("GET", "/complaints/summary?period_start=2019-01-01&period_end=2019-01-31", "support_agent", "a")
    ).status_code == 403
    assert (await api.call("GET", f"/complaints/{filed['id']}", "support_agent", "a")).json()["id"] == filed["id"]
    assert (await api.call("GET", "/complaints/not-a-uuid", "compliance_officer", "o")).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period_start": "2019-03-01", "period_end": "2019-02-28"}, "period_end"),
        ({"period_start": "2019-01-01", "period_end": "2022-01-01"}, "period_end"),
        ({"period_start": "2019-01-01"}, "period_end"),
        ({"period_end": "2019-01-01"}, "period_start"),
        ({"period_start": "2019-13-01", "period_end": "2019-12-31"}, "period_start"),
    ],
)
async def test_a_bad_period_answers_400_naming_the_field(api: Api, params: dict[str, str], field: str) -> None:
    response = await _summary(api, **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert repr(field) in problem["detail"]
    if "errors" in problem:  # absent only for a missing parameter, which Litestar names in the detail
        assert [error["field"] for error in problem["errors"]] == [field]


async def test_three_whole_years_are_the_longest_period(api: Api) -> None:
    longest = await _summary(api, period_start="2019-01-01", period_end="2021-12-31")
    assert longest.status_code == 200
    assert len(longest.json()["per_month"]) == 36


# --- the pure counting -----------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2021, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@st.composite
def complaint_rows(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "category": draw(st.sampled_from(CATEGORIES)),
        "state": draw(st.sampled_from(COMPLAINT_STATES)),
        "outcome": draw(st.sampled_from([None, "upheld", "partially_upheld", "not_upheld"])),
        "received_at": draw(instants),
        "breached": draw(st.booleans()),
        "breaches": draw(st.sampled_from(["[]", '["acknowledge"]', '["resolve"]', '["acknowledge","resolve"]'])),
        "resolve_due_at": draw(st.none() | instants),
        "next_due_at": draw(st.none() | instants),
    }


def standing(row: dict[str, Any], now: datetime) -> str | None:
    """:func:`summary.sla_standing` of a row written as a dict."""
    return summary.sla_standing(typed(row, summary.Standing), now)


def reference_groups(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """What the summary's GROUP BY must answer for ``rows``, computed row by row in Python."""
    counted = Counter(
        (
            row["category"],
            row["state"],
            row["outcome"],
            periods.month_of(row["received_at"]),
            standing(row, now) or "unjudged",
        )
        for row in rows
    )
    keys = ("category", "state", "outcome", "month", "standing")
    return [{**dict(zip(keys, key, strict=True)), "count": count} for key, count in counted.items()]


@given(st.lists(complaint_rows(), max_size=60), instants)
def test_the_complaint_tally_adds_up(rows: list[dict[str, Any]], now: datetime) -> None:
    months = periods.months(date(2018, 1, 1), date(2021, 12, 31))
    groups = typed_all(reference_groups(rows, now), summary.ComplaintGroup)
    received, by_category, by_outcome, per_month, sla = summary.tally_complaints(groups, months)
    assert received == sum(by_category.values()) == sum(by_outcome.values()) == len(rows)
    assert list(by_category) == list(CATEGORIES)
    assert [m.month for m in per_month] == months
    for category in CATEGORIES:
        assert sum(m.by_category[category] for m in per_month) == by_category[category]
    assert sla.met + sla.breached == sla.judged <= len(rows)
    assert sla.attainment is None if sla.judged == 0 else 0 <= sla.attainment <= 1
    assert by_outcome["withdrawn"] == sum(row["state"] == "withdrawn" for row in rows)
    # A paused complaint (no pending deadline) that never breached its resolve target is not judged.
    paused = [r for r in rows if r["state"] == "awaiting_complainant" and r["resolve_due_at"] is None]
    assert all(standing({**r, "breaches": "[]"}, now) is None for r in paused)


async def test_the_database_groups_complaints_as_the_rule_in_python_says(database: Settings) -> None:
    """Every combination of state, breach flag, breaches and deadlines (before, at, after
    ``now``, or none), written straight to the table in 2012, where nothing else is: the
    summary's one GROUP BY answers what :func:`summary.sla_standing` says row by row."""
    now = at(2012, 6, 15, 12)
    choices = {
        "state": COMPLAINT_STATES,
        "breached": (False, True),
        "breaches": ("[]", '["acknowledge"]', '["resolve"]', '["acknowledge", "first_response", "resolve"]'),
        "resolve_due_at": (None, now - timedelta(days=1), now, now + timedelta(microseconds=500)),
        "next_due_at": (None, now - timedelta(seconds=1), now, now + timedelta(days=1)),
    }
    rows: list[dict[str, Any]] = []
    for number, combination in enumerate(itertools.product(*choices.values())):
        received = at(2012, 1 + number % 6, 1) + timedelta(days=number % 27, microseconds=number)
        rows.append(
            {
                **dict(zip(choices, combination, strict=True)),
                "category": CATEGORIES[number % len(CATEGORIES)],
                "outcome": (None, "upheld", "partially_upheld", "not_upheld")[number % 4],
                "received_at": received,
            }
        )
    records = [
        Complaint(
            id=uuid.uuid4(),
            version=1,
            severity="low",
            complainant_id="grid",
            filed_by="grid",
            filed_by_role="platform",
            description="-",
            sla_started_at=row["received_at"],
            updated_at=row["received_at"],
            sla_clock="business",
            # As the workflow keeps it: a case waiting on its complainant has its clock paused
            # (other tests' SLA scans move these rows too).
            sla_paused_at=row["received_at"] if row["state"] == "awaiting_complainant" else None,
            **row,
        )
        for row in rows
    ]
    for start in range(0, len(records), 500):  # PostgreSQL binds at most 32767 values per query
        await Complaint.insert(*records[start : start + 500])
    since, until = periods.bounds(date(2012, 1, 1), date(2012, 6, 30))
    found = [msgspec.structs.asdict(group) for group in await summary.complaint_groups(since, until, now)]

    def key(group: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(group[name]) for name in ("category", "state", "outcome", "month", "standing", "count"))

    assert sorted(map(key, found)) == sorted(map(key, reference_groups(rows, now)))
    whole = await summary.period_summary(date(2012, 1, 1), date(2012, 6, 30), now)
    assert whole.complaints_received == len(rows)
    assert whole.sla.judged == sum(standing(row, now) is not None for row in rows)


@given(st.sampled_from(COMPLAINT_STATES), st.sampled_from([None, "upheld", "partially_upheld", "not_upheld"]))
def test_a_complaint_has_exactly_one_outcome_bucket(state: str, outcome: str | None) -> None:
    bucket = summary.complaint_outcome(state, outcome)
    assert bucket in summary.COMPLAINT_OUTCOMES
    if state == "withdrawn":
        assert bucket == "withdrawn"
    elif outcome is None:
        assert bucket == "open"


def test_an_overdue_open_complaint_is_breached_before_the_scan_flags_it() -> None:
    now = at(2019, 4, 8)
    row = {
        "state": "investigating",
        "breached": False,
        "breaches": "[]",
        "resolve_due_at": now - timedelta(hours=1),
        "next_due_at": now - timedelta(hours=1),
    }
    assert standing(row, now) == "breached"
    assert standing({**row, "resolve_due_at": now + timedelta(seconds=1)}, now) is None
    assert standing({**row, "state": "resolved", "resolve_due_at": None, "next_due_at": None}, now) == "met"
    assert standing({**row, "state": "withdrawn", "breached": True, "breaches": '["resolve"]'}, now) == "breached"


@st.composite
def dispute_rows(draw: st.DrawFn) -> dict[str, Any]:
    state = draw(st.sampled_from(DISPUTE_STATES))
    # A decision always has its outcome; an open review may keep an earlier tier's.
    outcomes = {"decided": ["upheld", "amended"], "revoked": ["revoked"]}.get(state, [None, "upheld", "amended"])
    return {
        "state": state,
        "outcome": draw(st.sampled_from(outcomes)),
        "tier": draw(st.sampled_from(summary.TIERS)),
        "breached": draw(st.booleans()),
        "decide_due_at": draw(st.none() | instants),
    }


@given(st.lists(dispute_rows(), max_size=40), instants)
def test_the_dispute_tally_adds_up(rows: list[dict[str, Any]], now: datetime) -> None:
    figures = summary.tally_disputes(typed_all(rows, summary.DisputeTally), now)
    assert figures.opened == len(rows) == sum(figures.by_outcome.values()) == sum(figures.by_tier.values())
    assert set(figures.by_outcome) == set(summary.DISPUTE_OUTCOMES)
    assert figures.by_outcome["open"] == sum(r["state"] in ("l1_review", "l2_review", "l3_review") for r in rows)
    assert figures.breached >= sum(bool(r["breached"]) for r in rows)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "state": st.sampled_from(["requested", "approved", "denied", "issued", "failed"]),
                "currency": st.sampled_from(["EUR", "GBP", "USD"]),
                "count": st.integers(1, 50),
                "amount": st.integers(1, 10**9),
            }
        ),
        max_size=20,
    )
)
def test_the_refund_tally_adds_up(groups: list[dict[str, Any]]) -> None:
    figures = summary.tally_refunds(typed_all(groups, summary.RefundGroup))
    assert figures.requested == sum(g["count"] for g in groups)
    assert sum(figures.issued_minor_by_currency.values()) == sum(g["amount"] for g in groups if g["state"] == "issued")
    assert list(figures.by_state) == ["requested", "approved", "denied", "issued", "failed"]
