"""The injectable clock."""

from datetime import UTC, datetime, timedelta

import pytest

from governance.core.clock import ManualClock, SystemClock


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    assert clock.advance(timedelta(hours=2)) == datetime(2026, 2, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))


def test_clocks_answer_in_utc() -> None:
    assert SystemClock().now().tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))
