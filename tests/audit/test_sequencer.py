"""The sequencer (issue 15, item 6): queued entries, numbered densely once, across crashes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from governance.audit import sequencer, service
from governance.core import db
from governance.core.identity import Identity
from governance.settings import Settings

from ..conftest import PG_URL
from .tampering import sql

OFFICER = Identity(sub="officer-sequencer", roles=("compliance_officer",))


async def test_a_change_commits_its_entry_unnumbered_and_the_sequencer_numbers_it(database: Settings) -> None:
    await service.number_queued()  # what earlier tests left queued
    before = await service.tree_size()
    async with db.transaction():
        queued = await service.record_change(actor=OFFICER, action="test.queued", resource_type="thing")
    assert await service.tree_size() == before, "committing the change took no sequence number"
    assert await sequencer.sequence_of(queued.entry_id) is None
    seq = await service.sequenced(queued)
    assert seq == before
    assert await sequencer.queue_depth() == 0
    entry = await service.get_entry(seq)
    assert entry is not None and entry.action == "test.queued"


async def test_history_sees_queued_entries_inside_a_transaction(database: Settings) -> None:
    async with db.transaction():
        await service.record_change(actor=OFFICER, action="test.pending", resource_type="thing", resource_id="h-1")
        seen = await service.history("thing", "h-1")
    assert [(entry.action, entry.seq) for entry in seen] == [("test.pending", -1)]
    [numbered] = await service.history("thing", "h-1")
    assert numbered.seq >= 0


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_queue SET action = 'rewritten'", "DELETE FROM audit_queue"],
)
async def test_a_queued_entry_cannot_be_changed_or_dropped(database: Settings, statement: str) -> None:
    async with db.transaction():
        await service.record_change(actor=OFFICER, action="test.guarded", resource_type="thing")
    with pytest.raises(Exception, match="append-only"):
        async with db.transaction():
            await sql(statement)
    assert await sequencer.queue_depth() >= 1
    await sequencer.catch_up()


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from governance.audit import service
    from governance.core import db
    from governance.core.identity import Identity
    from governance.settings import Settings

    async def main():
        await db.start(Settings.from_env())
        n = 0
        while True:
            async with db.transaction():
                queued = await service.record_change(
                    actor=Identity(sub="writer", roles=("compliance_officer",)),
                    action="test.crash", resource_type="thing", resource_id=sys.argv[1] + "-" + str(n),
                )
            print(queued.entry_id, flush=True)
            n += 1

    asyncio.run(main())
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "governance.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    # One client for every try: httpx.get builds a client (and its TLS context) per call,
    # some 20 ms of CPU each, which the polling spent while the server started.
    with httpx.Client(timeout=1) as client:
        while True:
            try:
                client.get(f"http://127.0.0.1:{env['GOVERNANCE_PORT']}/health")
                return server
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.02)


async def _log_state(env: dict[str, str], data_dir: Path) -> tuple[dict[int, int], list[int], int]:
    """(queue id -> seq of the numbered entries, every seq in order, rows left queued), read directly."""
    queries = (
        "SELECT queue_id, seq FROM audit_entry WHERE queue_id IS NOT NULL",
        "SELECT seq FROM audit_entry ORDER BY seq",
        "SELECT count(*) FROM audit_queue",
    )
    if "GOVERNANCE_DATABASE_URL" in env:
        conn = await asyncpg.connect(env["GOVERNANCE_DATABASE_URL"])
        try:
            numbered, seqs, queued = [await conn.fetch(query) for query in queries]
        finally:
            await conn.close()
    else:
        lite = sqlite3.connect(data_dir / "governance.sqlite3")
        try:
            numbered, seqs, queued = [lite.execute(query).fetchall() for query in queries]
        finally:
            lite.close()
    return {row[0]: row[1] for row in numbered}, [row[0] for row in seqs], queued[0][0]


async def _fresh_database(url: str, *, create: bool = True) -> None:
    admin, name = url.rsplit("/", 1)
    conn = await asyncpg.connect(f"{admin}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def test_kill_9_at_random_points_loses_and_duplicates_nothing(tmp_path: Path, settings: Settings) -> None:
    """The serving instance (its sequencer) is killed four times while three processes commit
    changes; after a restart and a checkpoint, every committed entry is numbered once, densely."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update(
        {
            "GOVERNANCE_DATA_DIR": str(tmp_path / "var"),
            "GOVERNANCE_PORT": str(_free_port()),
            "GOVERNANCE_SEQUENCER_INTERVAL": "0.01",
            "GOVERNANCE_CHECKPOINT_INTERVAL": "0.3",
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        }
    )
    if settings.is_postgres:  # a database of its own, as tests/browser's served process has
        env["GOVERNANCE_DATABASE_URL"] = PG_URL + "_server"
        asyncio.run(_fresh_database(env["GOVERNANCE_DATABASE_URL"]))
    server = _serve(env)  # migrates the fresh database
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w)], env=env, stdout=subprocess.PIPE, text=True)
        for w in range(3)
    ]
    rng = random.Random(9)
    try:
        for _ in range(4):
            time.sleep(rng.uniform(0.2, 1.0))
            server.send_signal(signal.SIGKILL)
            server.wait()
            server = _serve(env)
        time.sleep(0.5)
    finally:
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        server.send_signal(signal.SIGKILL)
        server.wait()
    issued = [int(line) for writer in writers for line in (writer.communicate()[0] or "").split()]
    assert len(issued) > 20, "the writers committed entries while the server was killed"
    checkpoint = subprocess.run(
        [sys.executable, "-m", "governance.cli", "audit", "checkpoint"], env=env, capture_output=True, text=True
    )
    assert checkpoint.returncode == 0, checkpoint.stderr
    verify = subprocess.run(
        [sys.executable, "-m", "governance.cli", "audit", "verify"], env=env, capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    numbered, seqs, queued = asyncio.run(_log_state(env, tmp_path / "var"))
    if settings.is_postgres:
        asyncio.run(_fresh_database(env["GOVERNANCE_DATABASE_URL"], create=False))
    assert queued == 0
    assert seqs == list(range(len(seqs))), "dense, no gaps"
    missing = [entry_id for entry_id in issued if entry_id not in numbered]
    assert not missing, f"committed entries lost: {missing[:10]}"
    assert len(set(numbered.values())) == len(numbered), "no entry numbered twice"


async def test_the_integration_lag_and_the_queue_depth_are_in_the_metrics(client: httpx.AsyncClient) -> None:
    async with db.transaction():
        await service.record_change(actor=OFFICER, action="test.measured", resource_type="thing")
    await service.number_queued()
    await sequencer.queue_depth()
    text = (await client.get("/metrics")).text
    assert "governance_audit_integration_lag_seconds_bucket" in text
    assert "governance_audit_queue_depth 0.0" in text
