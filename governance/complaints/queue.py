"""The support queue across kinds: complaints and disputed attestations in one list by
deadline, soonest (so overdue) first, then complaints with no deadline pending.

Each kind is read in its own keyset order, one page's worth at most (the same queries as
``GET /api/v1/complaints?sort=due`` and :func:`~governance.complaints.disputes.queue`), and
the two are merged here; the next page resumes each kind after the last of its items shown,
so nothing is skipped or repeated however the kinds interleave.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from governance.complaints import disputes, service
from governance.complaints.schemas import ComplaintSummary, DisputeSummary


@dataclass(frozen=True, slots=True)
class Position:
    """Where each kind resumes: its own cursor, or ``done`` once it has nothing more."""

    complaints: str | None = None
    disputes: str | None = None
    complaints_done: bool = False
    disputes_done: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the queue: a complaint or a dispute."""

    complaint: ComplaintSummary | None = None
    dispute: DisputeSummary | None = None


@dataclass(frozen=True, slots=True)
class QueuePage:
    """The entries of one page, and where the next resumes (None at the end)."""

    entries: list[Entry]
    next: Position | None


def _order(entry: Entry) -> tuple[int, datetime, str, uuid.UUID]:
    if entry.complaint is not None:
        item = entry.complaint
        if item.next_due is None:  # nothing pending: after every dated case, oldest first
            return (1, item.received_at, "complaint", item.id)
        return (0, item.next_due, "complaint", item.id)
    assert entry.dispute is not None
    assert entry.dispute.decide_due is not None  # the dispute queue holds dated disputes only
    return (0, entry.dispute.decide_due, "dispute", entry.dispute.id)


async def page(position: Position, limit: int) -> QueuePage:
    """One page of complaints and open disputes by deadline (see the module docstring)."""
    complaints, complaints_next = [], None
    if not position.complaints_done:
        found = await service.search(sort="due", limit=limit, cursor=position.complaints)
        complaints, complaints_next = found.items, found.next_cursor
    open_disputes, disputes_next = [], None
    if not position.disputes_done:
        listed = await disputes.queue(limit=limit, cursor=position.disputes)
        open_disputes, disputes_next = listed.items, listed.next_cursor
    merged = sorted(
        [Entry(complaint=item) for item in complaints] + [Entry(dispute=item) for item in open_disputes],
        key=_order,
    )
    shown = merged[:limit]
    shown_complaints = [entry.complaint for entry in shown if entry.complaint is not None]
    shown_disputes = [entry.dispute for entry in shown if entry.dispute is not None]
    # A kind has more when some of what was read is not shown, or its own read says so.
    complaints_more = len(shown_complaints) < len(complaints) or complaints_next is not None
    disputes_more = len(shown_disputes) < len(open_disputes) or disputes_next is not None
    if not complaints_more and not disputes_more:
        return QueuePage(shown, None)
    return QueuePage(
        shown,
        Position(
            complaints=service.queue_position(shown_complaints[-1]) if shown_complaints else position.complaints,
            disputes=disputes.queue_position(shown_disputes[-1]) if shown_disputes else position.disputes,
            complaints_done=not complaints_more,
            disputes_done=not disputes_more,
        ),
    )
