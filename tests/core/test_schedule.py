"""Periodic jobs stop between rounds, and survive a failed round."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from governance.core.schedule import every


async def test_a_job_runs_until_stopped_and_a_failed_round_does_not_end_it() -> None:
    rounds: list[int] = []
    stop = asyncio.Event()

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("the database is briefly away")
        if len(rounds) == 4:
            stop.set()

    await asyncio.wait_for(every(timedelta(milliseconds=1), work, stop, name="test", at_start=True), timeout=10)
    assert rounds == [0, 1, 2, 3]


async def test_stopping_waits_for_the_round_in_progress() -> None:
    stop = asyncio.Event()
    finished: list[bool] = []

    async def slow() -> None:
        stop.set()  # shutdown begins while this round is still working
        await asyncio.sleep(0.05)
        finished.append(True)

    await asyncio.wait_for(every(timedelta(milliseconds=1), slow, stop, name="test", at_start=True), timeout=10)
    assert finished == [True]
