"""Periodic work inside the service (checkpoints, expiry, SLA scans).

Each job runs every ``interval`` until its stop event is set. Stopping waits for a round
in progress to finish instead of cancelling it: a round cancelled inside a transaction
could leave its database connection busy while the pool closes at shutdown. A failed
round is logged and the next one runs (the database may be briefly away).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

log = structlog.get_logger("governance.schedule")


async def every(
    interval: timedelta,
    work: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    *,
    name: str,
    at_start: bool = False,
) -> None:
    """Run ``work`` every ``interval`` (and once at once when ``at_start``) until ``stop`` is set."""
    if at_start:
        await _round(work, name)
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval.total_seconds())
            return
        except TimeoutError:
            pass
        await _round(work, name)


async def _round(work: Callable[[], Awaitable[object]], name: str) -> None:
    try:
        await work()
    except Exception:
        log.exception(f"{name}_failed")
