"""The published rating: a Bayesian average with a documented prior, minimum count and window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from hypothesis import given
from hypothesis import strategies as st

from governance.core.durations import parse_duration
from governance.vetting.ratings import published_rating
from governance.vetting.requirements import RatingMethod

from .conftest import Vetting

METHOD = RatingMethod(version="t", prior_mean=4.0, prior_weight=10, minimum_count=5, window=parse_duration("P365D"))
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_the_prior_pulls_a_short_record_towards_the_mean() -> None:
    rated = [(NOW - timedelta(days=1), 5)] * 5
    result = published_rating(METHOD, rated, NOW)
    assert result.count == 5
    assert result.mean == 5.0
    assert result.rating == round((4.0 * 10 + 25) / 15, 2)


def test_below_the_minimum_count_nothing_is_published() -> None:
    result = published_rating(METHOD, [(NOW - timedelta(days=1), 1)] * 4, NOW)
    assert result.rating is None
    assert result.count == 4


def test_only_sessions_inside_the_window_count() -> None:
    old = [(NOW - timedelta(days=400), 1)] * 10
    recent = [(NOW - timedelta(days=3), 5)] * 5
    result = published_rating(METHOD, old + recent, NOW)
    assert result.count == 5
    assert result.window_start == NOW - timedelta(days=365)


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=5, max_size=300))
def test_the_rating_lies_between_the_prior_and_the_scores(scores: list[int]) -> None:
    rated = [(NOW - timedelta(hours=i + 1), score) for i, score in enumerate(scores)]
    result = published_rating(METHOD, rated, NOW)
    assert result.rating is not None
    low, high = min(METHOD.prior_mean, min(scores)), max(METHOD.prior_mean, max(scores))
    assert low - 0.005 <= result.rating <= high + 0.005
    mean = sum(scores) / len(scores)
    # Always between the plain mean and the prior mean.
    assert min(mean, METHOD.prior_mean) - 0.005 <= result.rating <= max(mean, METHOD.prior_mean) + 0.005


async def test_ratings_through_the_api_show_in_the_dossier(vetting: Vetting, client: httpx.AsyncClient) -> None:
    mentor = await vetting.register(f"ext-{uuid.uuid4().hex[:10]}")
    platform = vetting.auth("platform", sub="platform-1")
    for index, score in enumerate([5, 4, 5, 5, 3]):
        response = await client.post(
            f"/api/v1/mentors/{mentor['id']}/ratings",
            json={
                "session_id": f"{mentor['id']}-s{index}",
                "mentee_id": f"mentee-{index}",
                "score": score,
                "session_at": "2026-01-05T10:00:00Z"
                if index == 0
                else (datetime.now(UTC) - timedelta(days=2)).isoformat(),
            },
            headers=platform,
        )
        assert response.status_code == 201, response.text
    twice = await client.post(
        f"/api/v1/mentors/{mentor['id']}/ratings",
        json={"session_id": f"{mentor['id']}-s1", "mentee_id": "m", "score": 1, "session_at": "2026-01-05T10:00:00Z"},
        headers=platform,
    )
    assert twice.status_code == 409
    out_of_range = await client.post(
        f"/api/v1/mentors/{mentor['id']}/ratings",
        json={"session_id": "x", "mentee_id": "m", "score": 6, "session_at": "2026-01-05T10:00:00Z"},
        headers=platform,
    )
    assert out_of_range.status_code == 400
    assert out_of_range.json()["errors"][0]["field"] == "score"
    rating = (await vetting.dossier(mentor["id"]))["rating"]
    in_window = (
        [5, 4, 5, 5, 3]
        if datetime(2026, 1, 5, 10, tzinfo=UTC) > datetime.now(UTC) - timedelta(days=365)
        else [4, 5, 5, 3]
    )
    assert rating["count"] == len(in_window)
    assert rating["method"].startswith("A mentor's published rating is a Bayesian average")
    assert rating["rating"] == round((4.0 * 10 + sum(in_window)) / (10 + len(in_window)), 2)


async def test_the_method_is_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/vetting/ratings/method")
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == "bayesian_average"
    assert body["minimum_count"] == 5
    assert "Bayesian average" in body["explanation"]
