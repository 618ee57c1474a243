"""Mentor agreement: Krippendorff's ordinal alpha against the published worked example, its
bootstrap interval, and each mentor's leniency, through the API and the summary."""

from __future__ import annotations

import hashlib
import math
import uuid
from typing import Any

import httpx
import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.complaints import agreement

from .conftest import Api, new_id
from .test_disputes import _attest

# Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section E: four
# observers, twelve units, missing values. Published: nominal 0.743, ordinal 0.815,
# interval 0.849, ratio 0.797.
N = None
PUBLISHED = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def _units(matrix: list[list[int | None]]) -> list[dict[str, int]]:
    return [
        {f"observer-{i}": row[u] for i, row in enumerate(matrix) if row[u] is not None} for u in range(len(matrix[0]))
    ]


def test_the_published_example_ordinal() -> None:
    figure = agreement.ordinal_alpha(_units(PUBLISHED), range(1, 6), minimum=1)
    assert figure.alpha == pytest.approx(0.815, abs=0.001)
    # The unit with one value (the 12th) is not pairable: 40 pairable values in 11 units.
    assert (figure.units, figure.ratings, figure.raters) == (11, 40, 4)
    assert figure.low is not None and figure.high is not None
    assert figure.low < figure.alpha < figure.high <= 1


def test_the_published_example_interval_and_our_coincidence_formula() -> None:
    data = [[np.nan if v is None else v for v in row] for row in PUBLISHED]
    assert krippendorff.alpha(reliability_data=data, level_of_measurement="interval") == pytest.approx(0.849, abs=0.001)
    counts = agreement.value_counts(_units(PUBLISHED), range(1, 6))
    # The bootstrap recomputes alpha from summed coincidences: the same figure as the package.
    ours = agreement.alpha_from_coincidences(agreement.coincidences(counts).sum(axis=0)[None, :], 5)[0]
    assert ours == pytest.approx(0.815, abs=0.001)


def test_the_interval_is_seeded_and_not_enough_data_gives_no_number() -> None:
    units = _units(PUBLISHED)
    assert agreement.ordinal_alpha(units, range(1, 6), minimum=1) == agreement.ordinal_alpha(
        units, range(1, 6), minimum=1
    )
    other_seed = agreement.ordinal_alpha(units, range(1, 6), minimum=1, seed=agreement.SEED + 1)
    assert other_seed.low != agreement.ordinal_alpha(units, range(1, 6), minimum=1).low
    scarce = agreement.ordinal_alpha(units, range(1, 6))  # 40 values, fewer than... no: 40 >= 20
    assert scarce.alpha is not None
    too_few = agreement.ordinal_alpha(units[:5], range(1, 6))  # 19 pairable values
    assert (too_few.ratings, too_few.alpha, too_few.low, too_few.high) == (19, None, None, None)


scores = st.integers(min_value=0, max_value=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(scores, st.integers(min_value=2, max_value=6)), min_size=2, max_size=30))
def test_perfect_agreement_gives_one(units: list[tuple[int, int]]) -> None:
    if len({score for score, _ in units}) < 2:
        units = [*units, ((units[0][0] + 1) % 5, 2)]  # alpha needs two values to be defined
    data = [{f"mentor-{r}": score for r in range(raters)} for score, raters in units]
    figure = agreement.ordinal_alpha(data, range(5), minimum=1, resamples=50)
    assert figure.alpha == pytest.approx(1.0)
    assert figure.low == pytest.approx(1.0) and figure.high == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from("abcdef"), scores, min_size=1, max_size=6), min_size=1, max_size=25))
def test_our_formula_is_the_package_s(units: list[dict[str, int]]) -> None:
    counts = agreement.value_counts(units, range(5))
    if counts.sum() < 2 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return
    ours = agreement.alpha_from_coincidences(agreement.coincidences(counts).sum(axis=0)[None, :], 5)[0]
    theirs = krippendorff.alpha(value_counts=counts, level_of_measurement="ordinal", value_domain=list(range(5)))
    assert math.isclose(ours, theirs, abs_tol=1e-9)


async def test_leniency_needs_five_comparisons(api: Api) -> None:
    lenient, other = new_id(), new_id()
    for n in range(5):
        candidate = "cand-" + new_id()
        await _attest(api, other, candidate, score=2)
        if n < 4:
            await _attest(api, lenient, candidate, score=3)
    four: dict[str, Any] = (await api.call("GET", f"/mentors/{lenient}/attestation-quality", "mentor", lenient)).json()
    assert (four["comparisons"], four["leniency"]) == (4, None)
    candidate = "cand-" + new_id()
    await _attest(api, other, candidate, score=4)
    await _attest(api, lenient, candidate, score=3)  # one step severe this time
    five = (await api.call("GET", f"/mentors/{lenient}/attestation-quality", "mentor", lenient)).json()
    assert (five["comparisons"], five["leniency"]) == (5, pytest.approx((4 * 1 - 1) / 5))
    severe = (await api.call("GET", f"/mentors/{other}/attestation-quality", "mentor", other)).json()
    assert (severe["comparisons"], severe["leniency"]) == (5, pytest.approx(-(4 * 1 - 1) / 5))


async def test_the_summary_gives_alpha_per_template_and_platform_wide(api: Api) -> None:
    # Session dates in a period of their own, so other tests' attestations do not count.
    mentors = [new_id() for _ in range(3)]
    for n in range(8):
        candidate = "cand-" + new_id()
        for m, mentor in enumerate(mentors):
            score = n % 5 if m < 2 else (n + 1) % 5
            body = {
                "session_date": "2019-03-10",
                "token_sha256": hashlib.sha256(f"{candidate}{m}".encode()).hexdigest(),
            }
            await _attest(api, mentor, candidate, score=score, **body)
    response = await api.call(
        "GET", "/complaints/summary?period_start=2019-03-01&period_end=2019-03-31", "compliance_officer", "o"
    )
    assert response.status_code == 200, response.text
    figures = response.json()["agreement"]
    assert (figures["window_start"], figures["minimum_ratings"], figures["seed"]) == ("2019-03-01", 20, agreement.SEED)
    platform = figures["platform"]
    assert (platform["units"], platform["pairable_ratings"], platform["mentors"]) == (8, 24, 3)
    assert platform["interval_low"] <= platform["alpha"] <= platform["interval_high"]
    design = next(t for t in figures["by_template"] if t["template"] == "system-design")
    assert design["alpha"] == platform["alpha"] and design["name"]
    again = (
        await api.call(
            "GET", "/complaints/summary?period_start=2019-03-01&period_end=2019-03-31", "compliance_officer", "o"
        )
    ).json()
    assert again["agreement"] == figures, "the same data gives the same interval"
    empty = (
        await api.call(
            "GET", "/complaints/summary?period_start=2018-03-01&period_end=2018-03-31", "compliance_officer", "o"
        )
    ).json()
    assert (empty["agreement"]["platform"]["alpha"], empty["agreement"]["platform"]["pairable_ratings"]) == (None, 0)


async def _summary(api: Api, month: str) -> httpx.Response:
    query = f"period_start={month}-01&period_end={month}-31"
    return await api.call("GET", f"/complaints/summary?{query}", "compliance_officer", "officer-1")


async def test_a_score_recorded_off_the_scale_before_templates_were_enforced_takes_no_part(api: Api) -> None:
    from datetime import UTC, date, datetime

    from governance.complaints.tables import Attestation

    candidate, now = "cand-" + new_id(), datetime.now(UTC)
    for mentor, score in (("legacy-a", 9), ("legacy-b", 2), ("legacy-c", 2)):
        await Attestation.insert(
            Attestation(
                id=uuid.uuid4(), mentor_id=mentor + new_id(), candidate_id=candidate, competency="system-design",
                score=score, rubric_version="2026.1", session_date=date(2016, 3, 2), token_sha256="0" * 64,
                status="valid", status_since=now, version=1, recorded_by="platform", recorded_at=now,
            )
        )  # fmt: skip
    response = await _summary(api, "2016-03")
    assert response.status_code == 200, response.text
    design = next(t for t in response.json()["agreement"]["by_template"] if t["template"] == "system-design")
    assert (design["units"], design["pairable_ratings"], design["alpha"]) == (1, 2, None)
    assert response.json()["agreement"]["platform"]["pairable_ratings"] == 3
