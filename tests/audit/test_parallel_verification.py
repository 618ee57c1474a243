"""Verification split over several processes reaches the verdict of a single pass: the same
problems, in the same order, the same first bad entry and checkpoint, the same root."""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from governance.audit import entry_ranges, merkle, service, tree, verification
from governance.audit.entry_ranges import RangeCheck
from governance.audit.leaf import canonical_json, leaf_input, stored_leaf_input
from governance.audit.schemas import Verification
from governance.core.identity import Identity
from governance.settings import Settings

from .tampering import put_back, row, sql, triggers_disabled

OFFICER = Identity(sub="officer-9", roles=("compliance_officer",))
BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _rows(n: int) -> list[tuple[Any, ...]]:
    """Stored rows (in verification's column order) of a healthy log of ``n`` entries."""
    rows = []
    for seq in range(n):
        fields = {
            "seq": seq,
            "time": BASE + timedelta(seconds=seq),
            "actor_sub": f"user-{seq % 7}",
            "actor_roles": canonical_json(["auditor"]),
            "action": "test.range",
            "resource_type": "thing",
            "resource_id": None if seq % 3 else f"t-{seq}",
            "request_id": None,
            "outcome": "success",
            "details": canonical_json({"n": seq}),
        }
        leaf = merkle.leaf_hash(leaf_input(**fields))
        rows.append(
            (
                seq,
                fields["time"],
                fields["actor_sub"],
                fields["actor_roles"],
                fields["action"],
                fields["resource_type"],
                fields["resource_id"],
                fields["request_id"],
                fields["outcome"],
                fields["details"],
                leaf,
            )
        )
    return rows


@pytest.mark.parametrize("size", [1, 2, 7, 64, 100, 257])
def test_ranges_checked_apart_join_into_the_tree_of_the_whole_log(size: int) -> None:
    rows = _rows(size)
    hashes = [r[-1] for r in rows]
    rng = random.Random(size)
    for _ in range(5):
        cuts = sorted({0, size, *(rng.randrange(size + 1) for _ in range(rng.randrange(4)))})
        whole = merkle.TreeBuilder()
        for start, stop in itertools.pairwise(cuts):
            check = RangeCheck(start, stop, range(size + 1))
            assert not check.feed(rows[start:])  # done: it stops at its end, rows beyond unread
            done = check.result()
            assert (done.start, done.end, done.problems) == (start, stop, [])
            assert len(done.cover) == len(tree.cover(start, stop))
            cover: list[bytes] = []
            for at, kept, tail in done.due:  # the root at every size the range reaches
                cover = cover[:kept] + tail
                assert len(cover) == len(tree.cover(start, at))
                here = whole.copy()
                entry_ranges.extend_with_cover(here, at, cover)
                assert here.root() == merkle.root(hashes[:at])
            entry_ranges.extend_with_cover(whole, stop, done.cover)
        assert whole.size == size
        assert whole.root() == merkle.root(hashes)


def test_a_range_reports_its_problems_in_order_and_stops_at_a_missing_entry() -> None:
    rows = _rows(12)
    rows[4] = (*rows[4][:8], "denied", *rows[4][9:])
    rows[6] = (*rows[6][:9], '{"n": 6}', rows[6][10])
    del rows[9]
    check = RangeCheck(2, 12, [5, 9, 12])
    assert not check.feed(rows[2:])
    done = check.result()
    assert done.end == 9
    assert [size for size, _, _ in done.due] == [5, 9]
    assert done.problems == [
        (4, "entry 4 does not match its leaf hash (edited)"),
        (6, "entry 6 does not match its leaf hash (edited)"),
        (9, "entry 9 is missing (next stored entry is 10)"),
    ]


def test_split_covers_the_log_in_contiguous_ranges() -> None:
    assert verification.split(0, 4) == [(0, 0)]
    assert verification.split(3, 8) == [(0, 1), (1, 2), (2, 3)]
    assert verification.split(10, 3) == [(0, 3), (3, 6), (6, 10)]
    assert verification.worker_count(10) == 1


# --- against the database: each rewrite, verified by 1, 2, 3 and 5 processes -------------


async def _log_with_checkpoints(settings: Settings) -> tuple[service.LogKey, int]:
    """Some 30 more entries, with a checkpoint signed after each few."""
    log_key = service.load_log_key(settings)
    for batch in (4, 7, 9, 10):
        for n in range(batch):
            entry = await service.record_event(
                actor=OFFICER, action="test.parallel", resource_type="thing", resource_id=None, details={"n": n}
            )
            await service.sequenced(entry)
        await service.sign_checkpoint(log_key)
    return log_key, await service.tree_size()


async def _edit(seq: int) -> None:
    await sql("UPDATE audit_entry SET outcome = 'failure' WHERE seq = {}", seq)


async def _edit_with_leaf(seq: int) -> None:
    forged = dict(await row(seq), details='{"n":99}')
    await sql(
        "UPDATE audit_entry SET details = {}, leaf_hash = {} WHERE seq = {}",
        forged["details"],
        merkle.leaf_hash(stored_leaf_input(forged)),
        seq,
    )


async def _non_canonical(seq: int) -> None:
    original = await row(seq)
    spaced = original["details"].replace(":", ": ")
    forged = dict(original, details=spaced)
    await sql(
        "UPDATE audit_entry SET details = {}, leaf_hash = {} WHERE seq = {}",
        spaced,
        merkle.leaf_hash(stored_leaf_input(forged)),
        seq,
    )


async def _delete(seq: int) -> None:
    await sql("DELETE FROM audit_entry WHERE seq = {}", seq)


Rewrite = Callable[[int], Awaitable[None]]


def _scenarios(head: int) -> dict[str, list[tuple[Rewrite, int]]]:
    """Rewrites placed at and around the ranges' boundaries for 2 and 3 processes."""
    half, third = head // 2, head // 3
    return {
        "untouched": [],
        "edits on both sides of a boundary": [(_edit, half - 1), (_edit, half), (_edit, head - 2)],
        "leaf hashes rewritten too": [(_edit_with_leaf, third), (_edit_with_leaf, head - 3)],
        "non-canonical details and an edit": [(_non_canonical, 2), (_edit, half + 1)],
        "first entry of a range deleted": [(_delete, half)],
        "last entry of a range deleted": [(_delete, third - 1), (_edit, 1)],
        "newest entries deleted": [(_delete, head - 1), (_delete, head - 2)],
    }


@pytest.mark.parametrize(
    "scenario",
    [
        "untouched",
        "edits on both sides of a boundary",
        "leaf hashes rewritten too",
        "non-canonical details and an edit",
        "first entry of a range deleted",
        "last entry of a range deleted",
        "newest entries deleted",
    ],
)
async def test_several_processes_reach_the_verdict_of_one(database: Settings, scenario: str) -> None:
    log_key, head = await _log_with_checkpoints(database)
    rewrites = _scenarios(head)[scenario]
    originals = [await row(seq) for _, seq in rewrites]
    latest = await service.latest_checkpoint(log_key)
    assert latest is not None
    saved = log_key.open_checkpoint(latest.note)  # checked too: kept outside, its root must still hold
    try:
        async with triggers_disabled():
            for rewrite, seq in rewrites:
                await rewrite(seq)
        results: dict[int, Verification] = {}
        for processes in (1, 2, 3, 5):
            results[processes] = await verification.verify(log_key.keys, saved, processes=processes)
    finally:
        for original in originals:
            await put_back(original)
    single = results[1]
    assert single.ok == (not rewrites)
    if rewrites:
        assert single.problems
    for processes, result in results.items():
        assert result == single, f"{processes} processes"
    assert (await verification.verify(log_key.keys, processes=3)).ok
