"""The data-request register an evidence bundle prints: type, state, due and completion
dates, and whether the answer came in time; never who asked or what they wrote."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec

from governance.core.periods import bounds
from governance.core.rows import typed_all
from governance.privacy.summary import RequestStanding, answered_on_time
from governance.privacy.tables import DataRequest


class DataRequestLine(msgspec.Struct, frozen=True):
    request_id: str
    request_type: str
    state: str
    received_at: datetime
    due_at: datetime
    closed_at: datetime | None
    on_time: bool | None  # None while open and not yet due


class _Received(RequestStanding):
    id: uuid.UUID
    received_at: datetime


async def data_requests(period_start: date, period_end: date, now: datetime) -> list[DataRequestLine]:
    """Data subject requests received in the period, in order of receipt, judged at ``now``."""
    start, end = bounds(period_start, period_end)
    rows = (
        await DataRequest.select(
            DataRequest.id,
            DataRequest.request_type,
            DataRequest.state,
            DataRequest.received_at,
            DataRequest.due_at,
            DataRequest.closed_at,
        )
        .where((DataRequest.received_at >= start) & (DataRequest.received_at < end))
        .order_by(DataRequest.received_at)
        .order_by(DataRequest.id)
    )
    return [
        DataRequestLine(
            request_id=str(row.id),
            request_type=row.request_type,
            state=row.state,
            received_at=row.received_at,
            due_at=row.due_at,
            closed_at=row.closed_at,
            on_time=answered_on_time(row.state, row.due_at, row.closed_at, now),
        )
        for row in typed_all(rows, _Received)
    ]
