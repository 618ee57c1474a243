"""The period summary of consent changes and data subject requests: counts only, no subject.

A consent change (a ``privacy_consent_record`` row: explicit choices, Global Privacy
Control opt-outs, lapses, erasure withdrawals) belongs to the period by
``recorded_at``; a data request by ``received_at``. Everything is judged at ``now``.

Data requests. A request is *closed* (answered) when it was completed or rejected: a
rejection with its reason is the controller's answer to the requester (GDPR Art. 12(4)).
A withdrawn request was never answered, so it is neither closed nor open. A closed
request was *answered on time* when it closed on or before its ``due_at``, which already
holds an extension (one month from receipt, up to two more when extended; see
:mod:`governance.privacy.requests`). A request still open (received, in identity
verification, in progress or extended) whose ``due_at`` has passed at ``now`` is
*open overdue*.

Caching. :class:`SummaryCache` keeps each period's summary (and the open requests by how
soon they fall due) with the ``as_of`` it was judged at, while the database has counted no
change to the consent records or data requests (:func:`governance.core.cache.count_changes`,
topic :data:`TOPIC`) and no open request's due date (or the day a week before it) has
passed since: until then the figures judged earlier are the figures judged now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final, get_args

import msgspec
from piccolo.query.functions.aggregate import Count

from governance.core import cache, periods
from governance.core.rows import Row, typed_all
from governance.privacy.schemas import TERMINAL, ConsentState, Method, PrivacySummary, RequestState, RequestType
from governance.privacy.tables import ConsentRecord, DataRequest

CONSENT_STATES: Final[tuple[str, ...]] = get_args(ConsentState)
METHODS: Final[tuple[str, ...]] = get_args(Method)
REQUEST_TYPES: Final[tuple[str, ...]] = get_args(RequestType)
ANSWERED: Final = frozenset({"completed", "rejected"})
# The cache's topic: the tables a summary counts (a migration puts the counting triggers on them).
TOPIC: Final = "privacy-summary"
SUMMARY_TABLES: Final = ("privacy_consent_record", "privacy_data_request")
DUE_SOON: Final = timedelta(days=7)


class ConsentChanges(Row):
    """How many consent records of one purpose, state and method a period holds."""

    purpose: str
    state: ConsentState
    method: Method
    count: int


class RequestStanding(Row):
    """What a data request's standing turns on: its type, state, due date and when it closed."""

    request_type: RequestType
    state: RequestState
    due_at: datetime
    closed_at: datetime | None


def tally_consent(groups: Iterable[ConsentChanges]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Consent changes by purpose (``{"opt_in": n, "opt_out": n}``, purposes that changed in
    the period, by name) and by method (every method, zeros included)."""
    by_purpose: dict[str, dict[str, int]] = {}
    by_method = dict.fromkeys(METHODS, 0)
    for group in groups:
        states = by_purpose.setdefault(group.purpose, dict.fromkeys(CONSENT_STATES, 0))
        states[group.state] = states.get(group.state, 0) + group.count
        by_method[group.method] = by_method.get(group.method, 0) + group.count
    return dict(sorted(by_purpose.items())), by_method


def answered_on_time(state: str, due_at: datetime, closed_at: datetime | None, now: datetime) -> bool | None:
    """One request's standing: True when answered by its due date, extensions included;
    False when answered late, or still open past it; None when withdrawn (never answered)
    or open and not yet due."""
    if state in ANSWERED:
        return closed_at is not None and closed_at <= due_at
    if state in TERMINAL:
        return None
    return False if due_at < now else None


def tally_requests(rows: Iterable[RequestStanding], now: datetime) -> tuple[int, dict[str, int], int, int, int]:
    """``(received, by_type, closed, answered_on_time, open_overdue)`` in one pass (see the module doc)."""
    received = closed = on_time = overdue = 0
    by_type = dict.fromkeys(REQUEST_TYPES, 0)
    for row in rows:
        received += 1
        by_type[row.request_type] = by_type.get(row.request_type, 0) + 1
        standing = answered_on_time(row.state, row.due_at, row.closed_at, now)
        if row.state in ANSWERED:
            closed += 1
            on_time += standing is True
        elif standing is False:
            overdue += 1
    return received, by_type, closed, on_time, overdue


def next_due(rows: Iterable[RequestStanding], now: datetime) -> datetime | None:
    """The earliest due date after ``now`` of a request still open: when time alone next
    changes the summary (a request becomes open overdue)."""
    return min((row.due_at for row in rows if row.state not in TERMINAL and row.due_at >= now), default=None)


async def period_summary(period_start: date, period_end: date, now: datetime) -> PrivacySummary:
    """Consent changes recorded and data requests received from ``period_start`` to
    ``period_end`` (inclusive UTC days), judged at ``now``. 400 naming ``period_end`` when
    the period ends before it starts or lasts more than three years."""
    figures, _ = await _period_summary(period_start, period_end, now)
    return figures


async def _period_summary(
    period_start: date, period_end: date, now: datetime
) -> tuple[PrivacySummary, datetime | None]:
    """The summary, and the next instant at which time alone changes it."""
    periods.check(period_start, period_end)
    since, until = periods.bounds(period_start, period_end)
    consent_groups = (
        await ConsentRecord.select(
            ConsentRecord.purpose, ConsentRecord.state, ConsentRecord.method, Count(alias="count")
        )
        .where((ConsentRecord.recorded_at >= since) & (ConsentRecord.recorded_at < until))
        .group_by(ConsentRecord.purpose, ConsentRecord.state, ConsentRecord.method)
    )
    by_purpose, by_method = tally_consent(typed_all(consent_groups, ConsentChanges))
    requests = typed_all(
        await DataRequest.select(
            DataRequest.request_type, DataRequest.state, DataRequest.due_at, DataRequest.closed_at
        ).where((DataRequest.received_at >= since) & (DataRequest.received_at < until)),
        RequestStanding,
    )
    received, by_type, closed, on_time, overdue = tally_requests(requests, now)
    figures = PrivacySummary(
        period_start=period_start,
        period_end=period_end,
        as_of=now,
        consent_changes_by_purpose=by_purpose,
        consent_changes_by_method=by_method,
        data_requests_received=received,
        data_requests_by_type=by_type,
        data_requests_closed=closed,
        data_requests_answered_on_time=on_time,
        share_answered_on_time=periods.share(on_time, closed),
        data_requests_open_overdue=overdue,
    )
    return figures, next_due(requests, now)


class RequestsDue(msgspec.Struct, frozen=True):
    """Open data requests (not completed, rejected or withdrawn) by how soon they fall due, at ``as_of``."""

    as_of: datetime
    open: int
    overdue: int
    due_within_7_days: int  # not yet overdue


async def requests_due(now: datetime) -> RequestsDue:
    """Whatever the period: open requests are due whenever they were received. Counts in SQL."""
    found, _ = await _requests_due(now)
    return found


async def _requests_due(now: datetime) -> tuple[RequestsDue, datetime | None]:
    """The counts, and the next instant at which time alone changes them: an open request's
    due date, or the day it comes within :data:`DUE_SOON` of it."""
    still_open = DataRequest.state.not_in(list(TERMINAL))
    found = RequestsDue(
        as_of=now,
        open=await DataRequest.count().where(still_open),
        overdue=await DataRequest.count().where(still_open & (DataRequest.due_at < now)),
        due_within_7_days=await DataRequest.count().where(
            still_open & (DataRequest.due_at >= now) & (DataRequest.due_at < now + DUE_SOON)
        ),
    )
    # The nearest due date not yet passed, and the nearest one not yet within a week.
    nearest = (
        await DataRequest.select(DataRequest.due_at)
        .where(still_open & (DataRequest.due_at >= now))
        .order_by(DataRequest.due_at)
        .first()
    )
    coming = (
        await DataRequest.select(DataRequest.due_at)
        .where(still_open & (DataRequest.due_at >= now + DUE_SOON))
        .order_by(DataRequest.due_at)
        .first()
    )
    instants = [row["due_at"] for row in (nearest,) if row] + [row["due_at"] - DUE_SOON for row in (coming,) if row]
    return found, min(instants, default=None)


def summary_cache() -> cache.TopicCache[Any]:
    """A process's kept summaries and requests due (see the module doc)."""
    return cache.TopicCache(TOPIC)


async def kept_period_summary(
    kept: cache.TopicCache[Any], period_start: date, period_end: date, now: datetime
) -> PrivacySummary:
    """:func:`period_summary`, or the same figures judged earlier (their ``as_of``) while
    nothing they count changed and no due date passed since."""
    periods.check(period_start, period_end)
    found: PrivacySummary = await kept.get_or_compute(
        f"{period_start}/{period_end}", now, lambda: _period_summary(period_start, period_end, now)
    )
    return found


async def kept_requests_due(kept: cache.TopicCache[Any], now: datetime) -> RequestsDue:
    """:func:`requests_due`, or the same counts judged earlier (their ``as_of``) while they still hold."""
    found: RequestsDue = await kept.get_or_compute("requests-due", now, lambda: _requests_due(now))
    return found
