"""Retention: what is due for deletion per category, what a legal hold keeps, and the sweep.

A record is due when its category's period (or the shorter one its mentee chose, where
the category allows that) has run from the record's start. A subject with a legal hold
(any module's open case about them) keeps everything until the hold ends. The sweep
disposes of due records in batches, each batch in one transaction with its audit entry
(ids and counts), and audits every run, dry runs included, with counts per category.

It also finishes erasures: a key an erasure kept because its case was under a legal hold
is destroyed once that hold has ended, each in one transaction with its audit entry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

import structlog

from governance.audit import service as audit
from governance.core import db
from governance.core.crypto import HeldKey
from governance.core.durations import Duration, parse_duration
from governance.core.identity import SYSTEM, Identity
from governance.core.rows import Row, typed_all
from governance.core.subjects import Hold, RetentionRecord, SubjectProvider
from governance.privacy.schemas import RetentionLine, RetentionReport, SweepResult
from governance.privacy.service import Privacy
from governance.privacy.tables import RetentionChoice

log = structlog.get_logger("governance.privacy")

SCAN_LIMIT: Final = 100_000


class _Chosen(Row):
    subject: str
    period: str  # ISO 8601 duration


async def _choices(category: str) -> dict[str, Duration]:
    rows = (
        await RetentionChoice.select(RetentionChoice.subject, RetentionChoice.period)
        .where(RetentionChoice.category == category)
        .order_by(*audit.in_log("recorded_entry_id", "recorded_seq"))
    )
    return {row.subject: parse_duration(row.period) for row in typed_all(rows, _Chosen)}  # the latest wins


def _line(record: RetentionRecord, due_at: datetime, holds: list[Hold]) -> RetentionLine:
    return RetentionLine(
        category=record.category,
        module=record.module,
        record_type=record.record_type,
        record_id=record.record_id,
        mentee_id=record.subject,
        due_at=due_at,
        held_by=[
            {"module": h.module, "record_type": h.record_type, "record_id": h.record_id, "reason": h.reason}
            for h in holds
        ],
    )


async def scan(
    privacy: Privacy, now: datetime
) -> tuple[list[tuple[SubjectProvider, RetentionRecord, RetentionLine]], list[RetentionLine]]:
    """Due records (with their provider) and held ones, over every category and module."""
    due: list[tuple[SubjectProvider, RetentionRecord, RetentionLine]] = []
    held: list[RetentionLine] = []
    holds: dict[str, list[Hold]] = {}
    for category in privacy.retention.values():
        choices = await _choices(category.name) if category.mentee_may_shorten else {}
        # The earliest start any record of this category could be due from.
        cutoff = max(period.subtract_from(now) for period in (category.period, *choices.values()))
        for provider in privacy.subjects.for_category(category.name):
            for record in await provider.retention_records(category.name, cutoff, SCAN_LIMIT):
                due_at = choices.get(record.subject, category.period).add_to(record.since)
                if due_at > now:
                    continue
                if record.subject not in holds:
                    holds[record.subject] = await privacy.subjects.holds(record.subject)
                line = _line(record, due_at, holds[record.subject])
                if line.held_by:
                    held.append(line)
                else:
                    due.append((provider, record, line))
    return due, held


def _counts(lines: list[RetentionLine]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.category] = counts.get(line.category, 0) + 1
    return counts


async def report(privacy: Privacy, now: datetime) -> RetentionReport:
    """What a sweep would delete now, and what legal holds keep and why."""
    due, held = await scan(privacy, now)
    due_lines = [line for _, _, line in due]
    return RetentionReport(
        generated_at=now,
        due=due_lines,
        held=held,
        counts={"due": _counts(due_lines), "held": _counts(held)},
    )


async def _hold_ended(privacy: Privacy, held: HeldKey, holds: dict[str, set[str]]) -> bool:
    if held.subject not in holds:
        holds[held.subject] = {h.scope for h in await privacy.subjects.holds(held.subject)}
    return held.ref.scope not in holds[held.subject]


async def ended_holds(privacy: Privacy) -> list[HeldKey]:
    """Keys an erasure kept for a case under a legal hold, whose hold has ended since."""
    holds: dict[str, set[str]] = {}
    return [held for held in await privacy.keyring.held_keys() if await _hold_ended(privacy, held, holds)]


async def release_ended_holds(privacy: Privacy, now: datetime, actor: Identity = SYSTEM) -> int:
    """Destroy the keys of erased subjects' cases whose hold has ended; each with its audit
    entry, on the case, in one transaction. Returns how many keys were destroyed."""
    released = 0
    for held in await ended_holds(privacy):
        record_type, _, record_id = held.ref.scope.partition(":")
        async with db.transaction():
            # Held again? A hold the scan did not see must still keep the key.
            if not await _hold_ended(privacy, held, {}):
                continue
            if not await privacy.keyring.release(held, now):
                continue
            await audit.record_change(
                actor=actor,
                action="privacy.erasure.hold_ended",
                resource_type=record_type,
                resource_id=record_id,
                details={
                    "mentee_id": held.subject,
                    "key": {"scope": held.ref.scope, "generation": held.ref.generation},
                    "held_since": held.held_since.isoformat(),
                    "how": "crypto-shredded: the case's key kept by the erasure was destroyed",
                },
            )
        released += 1
    return released


async def sweep(privacy: Privacy, now: datetime, *, dry_run: bool, actor: Identity = SYSTEM) -> SweepResult:
    """Delete or anonymise every due record not under a legal hold, in audited batches, and
    destroy the keys erasures kept for holds that have ended."""
    due, held = await scan(privacy, now)
    run_id = uuid.uuid4()
    deleted: dict[str, int] = {}
    if dry_run:
        keys_destroyed = len(await ended_holds(privacy))
    else:
        keys_destroyed = await release_ended_holds(privacy, now, actor)
    if not dry_run:
        groups: dict[tuple[str, str], list[tuple[SubjectProvider, RetentionRecord]]] = {}
        for provider, record, _ in due:
            groups.setdefault((provider.module, record.category), []).append((provider, record))
        for (module, category), items in groups.items():
            for start in range(0, len(items), privacy.sweep_batch):
                batch = items[start : start + privacy.sweep_batch]
                provider = batch[0][0]
                async with db.transaction():
                    # Held again? A case opened since the scan must still stop the deletion.
                    held_now = {
                        subject
                        for subject in {record.subject for _, record in batch}
                        if await privacy.subjects.holds(subject)
                    }
                    records = [record for _, record in batch if record.subject not in held_now]
                    if not records:
                        continue
                    count = await provider.dispose(records, now)
                    await audit.record_change(
                        actor=actor,
                        action="privacy.retention.disposed",
                        resource_type="retention_run",
                        resource_id=str(run_id),
                        details={
                            "module": module,
                            "category": category,
                            "count": count,
                            "record_ids": [r.record_id for r in records],
                        },
                    )
                deleted[category] = deleted.get(category, 0) + count
    due_lines = [line for _, _, line in due]
    held_counts = _counts(held)
    await audit.record_event(
        actor=actor,
        action="privacy.retention.swept",
        resource_type="retention_run",
        resource_id=str(run_id),
        details={
            "dry_run": dry_run,
            "due": _counts(due_lines),
            "deleted": deleted,
            "held": held_counts,
            "held_keys_destroyed": keys_destroyed,
        },
    )
    if deleted or keys_destroyed:
        log.info("retention_sweep", deleted=deleted, held=held_counts, held_keys_destroyed=keys_destroyed)
    return SweepResult(
        dry_run=dry_run,
        deleted=deleted,
        held=held_counts,
        due=due_lines,
        held_records=held,
        held_keys_destroyed=keys_destroyed,
    )
