"""The bundle worker: claims queued bundles and produces them, one at a time.

It runs inside the service (``GOVERNANCE_EVIDENCE_POLL_INTERVAL`` > 0) and as its own
process (``governance worker``); any number of either share the queue through the
database. Rendering happens in a child process, so a worker's memory stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid

import structlog

from governance.core.clock import Clock
from governance.evidence import jobs
from governance.evidence.service import Evidence

log = structlog.get_logger("governance.evidence.worker")


def worker_name() -> str:
    """Unique per worker: which host and process, and a nonce for several in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def work_once(evidence: Evidence, worker: str, clock: Clock) -> bool:
    """Claim one bundle and produce it; False when there was nothing to do."""
    row = await jobs.claim(worker, clock.now(), evidence.lease)
    if row is None:
        return False
    log.info("evidence_bundle_claimed", bundle_id=str(row.id), attempt=row.attempts, worker=worker)
    await jobs.produce(evidence, row, worker, clock)
    return True


async def run(evidence: Evidence, clock: Clock, stop: asyncio.Event, poll_seconds: float) -> None:
    """Work until ``stop`` is set: drain the queue, then wait for a request or the next poll.

    A bundle being produced when ``stop`` is set is finished first (a graceful shutdown
    leaves nothing for the lease to recover). Errors of one round are logged, not fatal.
    """
    worker = worker_name()
    log.info("evidence_worker_started", worker=worker)
    while not stop.is_set():
        try:
            while not stop.is_set() and await work_once(evidence, worker, clock):
                pass
        except Exception:
            log.exception("evidence_worker_round_failed", worker=worker)
        evidence.wakeup.clear()
        stopping = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(evidence.wakeup.wait())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.wait({stopping, woken}, return_when=asyncio.FIRST_COMPLETED), poll_seconds)
        stopping.cancel()
        woken.cancel()
    log.info("evidence_worker_stopped", worker=worker)
