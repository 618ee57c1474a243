"""Session ratings of a mentor: recorded one per session, published as a Bayesian
average computed the same way for everyone.

A raw mean punishes or flatters a mentor with three sessions; the Bayesian average
starts every mentor at a documented prior, as if they had ``prior_weight`` ratings of
``prior_mean``, and lets real ratings pull it away. Only ratings of sessions within the
window count, and below the minimum count nothing is published at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from governance.audit import service as audit
from governance.core import db
from governance.core.errors import Problem
from governance.core.identity import Identity
from governance.vetting.checks import bad_instant
from governance.vetting.registry import mentor_row, touch
from governance.vetting.requirements import RatingMethod
from governance.vetting.schemas import RatingRecorded, RatingReport
from governance.vetting.tables import Rating


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


async def record_rating(mentor_id: uuid.UUID, report: RatingReport, actor: Identity, now: datetime) -> RatingRecorded:
    """Record one session rating (one per session)."""
    if report.session_at.tzinfo is None:
        raise bad_instant("session_at")
    if report.session_at > now:
        raise Problem(422, "session-in-future", "A session cannot be rated before it took place")
    rating_id = uuid.uuid4()
    try:
        await _insert_rating(rating_id, mentor_id, report, actor, now)
    except Exception as exc:
        if db.is_unique_violation(exc):  # the same session, reported twice at once
            raise Problem(409, "already-rated", f"Session {report.session_id!r} was rated already") from None
        raise
    return RatingRecorded(
        id=rating_id,
        mentor_id=mentor_id,
        session_id=report.session_id,
        score=report.score,
        session_at=report.session_at,
        recorded_at=now,
    )


async def _insert_rating(
    rating_id: uuid.UUID, mentor_id: uuid.UUID, report: RatingReport, actor: Identity, now: datetime
) -> None:
    async with db.transaction():
        await mentor_row(mentor_id)
        if await Rating.exists().where(Rating.session_id == report.session_id):
            raise Problem(409, "already-rated", f"Session {report.session_id!r} was rated already")
        recorded = await audit.record_change(
            actor=actor,
            action="vetting.rating.recorded",
            resource_type="rating",
            resource_id=str(rating_id),
            details={"mentor_id": str(mentor_id), "session_id": report.session_id, "score": report.score},
        )
        await Rating.insert(
            Rating(
                id=rating_id,
                mentor=mentor_id,
                session_id=report.session_id,
                mentee_id=report.mentee_id,
                score=report.score,
                session_at=report.session_at,
                recorded_at=now,
                recorded_entry_id=recorded.entry_id,
            )
        )
        await touch(mentor_id)
