"""The command line: `governance evidence export` and `governance worker` (killed mid-render)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from governance import bootstrap
from governance.cli import main
from governance.core import db
from governance.core.clock import SystemClock
from governance.core.identity import Identity
from governance.evidence import service
from governance.evidence.schemas import BundleRequest
from governance.evidence.tables import EvidenceBundle
from governance.evidence.worker import work_once
from governance.settings import Settings

from .conftest import sha256


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def with_database(settings: Settings, work: Any) -> Any:
    async def inside() -> Any:
        await db.start(settings)
        try:
            return await work()
        finally:
            await db.stop()

    return asyncio.run(inside())


def test_export_writes_the_pdf_and_manifest_of_an_audited_bundle(settings: Settings, tmp_path: Path) -> None:
    today = datetime.now(UTC).date()
    out = tmp_path / "bundles" / "h1.pdf"
    result = run(
        "evidence", "export", "--from", today.replace(day=1).isoformat(), "--to", today.isoformat(),
        "--out", str(out), "--section", "summary", "--section", "audit", "--as", "officer-cli",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "bundles" / "h1.manifest.json").read_bytes())
    assert manifest["pdf"]["sha256"] == sha256(out.read_bytes()) and manifest["sections"] == ["summary", "audit"]
    assert f"bundle {manifest['bundle_id']}" in result.stderr  # the progress bar's label
    assert f"{manifest['pdf']['pages']} pages, sha256 {manifest['pdf']['sha256']}" in result.stderr

    async def recorded() -> Any:
        return await EvidenceBundle.select().where(EvidenceBundle.id == manifest["bundle_id"]).first()

    row = with_database(settings, recorded)
    assert row["state"] == "ready" and row["requested_by"] == "officer-cli"
    assert row["manifest_sha256"] == sha256((tmp_path / "bundles" / "h1.manifest.json").read_bytes())


def test_export_refuses_a_period_that_ends_before_it_starts(settings: Settings, tmp_path: Path) -> None:
    result = run("evidence", "export", "--from", "2026-03-01", "--to", "2026-02-01", "--out", str(tmp_path / "x.pdf"))
    assert result.exit_code == 1
    assert "period_end: the period ends (2026-02-01) before it starts (2026-03-01)" in result.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_a_worker_process_killed_while_rendering_is_taken_over(settings: Settings) -> None:
    """A real `governance worker`, SIGKILLed once it renders; another worker finishes the bundle."""
    today = datetime.now(UTC).date()
    request = BundleRequest(period_start=today.replace(day=1), period_end=today, title="killed mid-render")

    async def ask() -> Any:
        # Only this bundle in the queue: earlier tests may have left theirs.
        await EvidenceBundle.update({EvidenceBundle.state: "failed"}).where(EvidenceBundle.state == "queued")
        officer = Identity(sub="officer-k", roles=("compliance_officer",))
        return await service.request(request, officer, datetime.now(UTC))

    bundle = with_database(settings, ask)
    env = {**os.environ, "GOVERNANCE_EVIDENCE_LEASE": "0.3"}  # no other worker runs meanwhile
    worker = subprocess.Popen(
        [sys.executable, "-m", "governance.cli", "worker", "--poll", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        state = with_database(settings, lambda: wait_while(bundle.id, {"queued"}))
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert state == "rendering", "killed while rendering"

    async def recover() -> Any:
        await asyncio.sleep(0.4)  # the dead worker's lease runs out
        assert await work_once(bootstrap.build(settings).evidence, "survivor", SystemClock())
        return await service.get(bundle.id)

    done = with_database(settings, recover)
    assert done.state == "ready" and done.attempts == 2


async def wait_while(bundle_id: Any, states: set[str], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while True:
        row = await EvidenceBundle.select(EvidenceBundle.state).where(EvidenceBundle.id == bundle_id).first()
        if row["state"] not in states or time.monotonic() > deadline:
            return str(row["state"])
        await asyncio.sleep(0.01)
