"""The service's clock, injectable so that time-dependent rules can be tested.

Expiry, SLAs and retention all ask "what time is it?"; they ask the application's
clock (``Services.clock``; handlers ask for the ``now`` dependency) rather than the
system, so a test can move time forward and watch a check lapse or a deadline pass.
Services take ``now`` as a parameter; routes and scheduled jobs read it from the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current instant, timezone-aware, in UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _utc(start or datetime.now(UTC))

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; returns the new instant."""
        if delta < timedelta(0):
            raise ValueError("a clock only moves forward")
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _utc(instant)


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    return instant.astimezone(UTC)
