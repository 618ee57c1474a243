"""SLA deadlines for complaints and dispute tiers (pure), and the breach scan.

Deadlines are recomputed from the policy whenever a complaint's clock state changes
(filed, paused, resumed, a milestone met, reopened), never incrementally, so the stored
``*_due_at`` always equal what :func:`complaint_dues` says for the row's history. The
scan only compares ``next_due_at`` with the time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog

from governance.complaints.business_hours import Pause, deadline
from governance.complaints.policy import SlaPolicy

log = structlog.get_logger("governance.complaints.sla")


@dataclass(frozen=True, slots=True)
class Dues:
    """The pending deadlines of a complaint (None: met, breached already, or clock paused)."""

    acknowledge: datetime | None = None
    first_response: datetime | None = None
    resolve: datetime | None = None

    def items(self) -> list[tuple[str, datetime | None]]:
        return [("acknowledge", self.acknowledge), ("first_response", self.first_response), ("resolve", self.resolve)]

    @property
    def next(self) -> datetime | None:
        pending = [due for _, due in self.items() if due is not None]
        return min(pending) if pending else None

    def overdue(self, now: datetime) -> list[str]:
        """The kinds whose deadline has passed at ``now``."""
        return [kind for kind, due in self.items() if due is not None and due <= now]


def complaint_dues(
    policy: SlaPolicy,
    *,
    category: str,
    severity: str,
    received_at: datetime,
    started_at: datetime,
    pauses: Sequence[Pause],
    paused: bool,
    met: Collection[str],
    breached: Collection[str],
) -> Dues:
    """The pending deadlines: from receipt (acknowledge, first response) and from ``started_at``
    (resolve: receipt, or the appeal that reopened it), skipping pauses; none while paused.

    The resolve deadline of a first complaint never lies beyond the final-response limit
    counted in calendar time from receipt (FCA DISP: eight weeks).
    """
    if paused:
        return Dues()
    targets = policy.targets_for(category, severity)
    clock = policy.clock(targets.clock)
    skip = set(met) | set(breached)

    def due(kind: str, start: datetime, budget: timedelta) -> datetime | None:
        return None if kind in skip else deadline(clock, start, budget, pauses)

    resolve = due("resolve", started_at, targets.resolve)
    if resolve is not None and started_at == received_at:
        resolve = min(resolve, received_at + policy.final_response_limit)
    return Dues(
        acknowledge=due("acknowledge", received_at, targets.acknowledge),
        first_response=due("first_response", received_at, targets.first_response),
        resolve=resolve,
    )


def tier_due(policy: SlaPolicy, tier: str, started_at: datetime) -> datetime | None:
    """When a dispute tier's decision is due."""
    spec = policy.tiers[tier]
    return deadline(policy.clock(spec.clock), started_at, spec.decide_within)


def encode_pauses(pauses: Sequence[Pause]) -> str:
    return msgspec.json.encode([[a, b] for a, b in pauses]).decode()


def decode_pauses(text: str) -> list[Pause]:
    raw: list[list[Any]] = msgspec.json.decode(text)
    return [(msgspec.convert(a, datetime), None if b is None else msgspec.convert(b, datetime)) for a, b in raw]
