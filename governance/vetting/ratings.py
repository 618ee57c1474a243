"""The published rating of a mentor: a Bayesian average, computed the same way for everyone.

A raw mean punishes or flatters a mentor with three sessions; the Bayesian average
starts every mentor at a documented prior, as if they had ``prior_weight`` ratings of
``prior_mean``, and lets real ratings pull it away. Only ratings of sessions within the
window count, and below the minimum count nothing is published at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from governance.vetting.requirements import RatingMethod


@dataclass(frozen=True, slots=True)
class PublishedRating:
    rating: float | None  # None below the minimum count
    count: int  # ratings inside the window
    mean: float | None  # their plain mean, for transparency
    window_start: datetime
    method_version: str


def published_rating(method: RatingMethod, rated: Sequence[tuple[datetime, int]], now: datetime) -> PublishedRating:
    """The rating over ``(session time, score)`` pairs with sessions in ``[now - window, now]``."""
    start = method.window.subtract_from(now)
    scores = [score for at, score in rated if start <= at <= now]
    count = len(scores)
    mean = sum(scores) / count if count else None
    rating = None
    if count >= method.minimum_count:
        prior = method.prior_mean * method.prior_weight
        rating = round((prior + sum(scores)) / (method.prior_weight + count), 2)
    return PublishedRating(
        rating=rating,
        count=count,
        mean=round(mean, 2) if mean is not None else None,
        window_start=start,
        method_version=method.version,
    )


def explain(method: RatingMethod) -> str:
    """The method in words, as published at ``GET /api/v1/vetting/ratings/method``."""
    return (
        f"A mentor's published rating is a Bayesian average: (C x m + sum of scores) / (C + n), "
        f"where m = {method.prior_mean} is the prior mean, C = {method.prior_weight} is how many ratings the "
        f"prior is worth, and n is the number of ratings of sessions held in the last {method.window}. "
        f"Ratings are whole numbers from 1 to 5, one per session. With fewer than {method.minimum_count} "
        f"ratings in the window no rating is published. The result is rounded to two decimals."
    )
