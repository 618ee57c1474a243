"""Two `governance witness serve` processes cosign the service's checkpoints (issue 15, item 3).

One is killed: the log keeps recording, the checkpoint job keeps trying, /ready and the
metrics say so, and the witness catches up when it is back. Then the database is restored
from a stale backup and written on: both witnesses refuse the forked checkpoints, and
the log no longer verifies against the checkpoint a witness holds. A history rewritten
and signed afresh fails against the cosignatures stored with it.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from governance.app import application
from governance.audit import cosignature, merkle, note, service, witnesses
from governance.audit.leaf import stored_leaf_input
from governance.bootstrap import Services
from governance.core.identity import Identity
from governance.settings import Settings

from ..browser.server import GOVERNANCE, free_port
from ..conftest import AuthHeaders
from .tampering import everything_unlocked, restored_afterwards, row, sql

OFFICER = Identity(sub="officer-witness", roles=("compliance_officer",))
START_TIMEOUT = 30.0


class WitnessProcess:
    """A `governance witness serve` subprocess with its own key and state file."""

    def __init__(self, directory: Path, name: str, log_key: service.LogKey) -> None:
        self.key_file = directory / f"{name.replace('/', '_')}.pem"
        self.name, self.log_key, self.port = name, log_key, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        vkey = subprocess.run(
            [*GOVERNANCE, "witness", "vkey", "--key", str(self.key_file), "--name", name],
            capture_output=True,
            check=True,
            timeout=60,
        )
        self.vkey = vkey.stdout.decode().strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_until_serving()

    def launch(self) -> None:
        """Start the process without waiting for it: several witnesses start side by side."""
        self.process = subprocess.Popen(
            [
                *GOVERNANCE,
                *("witness", "serve", "--port", str(self.port), "--key", str(self.key_file), "--name", self.name),
                *("--log", f"{self.log_key.origin}={self.log_key.verifier_key}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_until_serving(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        # One client for every try: httpx.get builds one (and its TLS context) per call.
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"the witness exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                    )
                try:
                    if client.get(self.url + "/").status_code == 200:
                        return
                except httpx.HTTPError:
                    time.sleep(0.05)
        raise RuntimeError("the witness did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def latest(self) -> str:
        """The checkpoint this witness last cosigned, its cosignature attached, as its command prints it."""
        printed = subprocess.run(
            [*GOVERNANCE, "witness", "latest", "--key", str(self.key_file), "--origin", self.log_key.origin],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return printed.stdout.decode()


@pytest.fixture
def two_witnesses(tmp_path: Path, settings: Settings) -> Iterator[tuple[WitnessProcess, WitnessProcess]]:
    log_key = service.load_log_key(settings)
    pair = (
        WitnessProcess(tmp_path, "accreditor.test/w1", log_key),
        WitnessProcess(tmp_path, "ombudsman.test/w2", log_key),
    )
    try:
        for witness in pair:
            witness.launch()
        for witness in pair:
            witness.wait_until_serving()
        yield pair
    finally:
        for witness in pair:
            witness.kill()


async def _record(count: int, action: str = "test.witnessed") -> None:
    for i in range(count):
        await service.record_event(actor=OFFICER, action=action, resource_type="thing", details={"i": i})


async def _post(witness: WitnessProcess, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(witness.url + "/add-checkpoint", content=body)


async def _cli(*args: str) -> tuple[int, str]:
    """A `governance` command against the suite's deployment, as an operator runs it."""
    process = await asyncio.create_subprocess_exec(
        *GOVERNANCE, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), out.decode()


def _metric(name: str, witness: WitnessProcess) -> float | None:
    return REGISTRY.get_sample_value(name, {"witness": witness.vkey})


async def test_two_witnesses_cosign_survive_an_outage_and_refuse_a_restored_backup(
    database: Settings, services: Services, two_witnesses: tuple[WitnessProcess, WitnessProcess], tmp_path: Path
) -> None:
    first, second = two_witnesses
    log_key = service.load_log_key(database)
    pool = witnesses.parse([f"{w.url}={w.vkey}" for w in two_witnesses], quorum=2)
    keys = pool.keys
    served = dataclasses.replace(services, witnesses=pool)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application(served)), base_url="http://t")

    await _record(3)
    backup = await witnesses.sign_and_submit(log_key, pool)
    assert await witnesses.witnessed(backup, pool)
    await _record(3)
    checkpoint = await witnesses.sign_and_submit(log_key, pool)
    assert await witnesses.witnessed(checkpoint, pool)
    # Served with both cosignatures attached; a reader checks the ones it trusts.
    published = (await client.get("/tlog/checkpoint")).text
    assert published == (await client.get("/api/v1/audit/checkpoint")).text
    text = note.open_note(published, log_key.signer.verifier)
    for key, line in zip(keys, published.splitlines()[-2:], strict=True):
        assert key.open(text, line + "\n")
    assert (await service.verify(log_key, keys)).ok

    # One witness goes away: writes go on, the job keeps trying, /ready says so.
    second.kill()
    await _record(2)
    during = await witnesses.sign_and_submit(log_key, pool)
    assert not await witnesses.witnessed(during, pool)
    assert await witnesses.witnessed(during, dataclasses.replace(pool, quorum=1))
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["witnesses"][second.name].startswith("unreachable since")
    assert ready.json()["witnesses"][first.name] == f"cosigned size {during.tree_size}"
    assert _metric("governance_witness_up", second) == 0
    exposed = (await client.get("/metrics")).text
    assert f'governance_witness_up{{witness="{second.vkey}"}} 0.0' in exposed
    assert (
        REGISTRY.get_sample_value("governance_witness_failures_total", {"witness": second.vkey, "reason": "network"})
        == 1
    )
    status = pool.statuses[1]
    assert status.failures == 1 and status.next_attempt > time.monotonic()
    assert await witnesses.submit(log_key, pool) == 0, "backing off: not asked again at once"

    # Back, it catches up. Meanwhile another instance had it cosign a checkpoint and crashed
    # before storing that: the witness answers 409 with its size, and the job goes on from there.
    second.start()
    body = f"old {checkpoint.tree_size}\n"
    proof = await witnesses._request_body(checkpoint.tree_size, during)
    assert proof.startswith(body.encode())
    assert (await _post(second, proof)).status_code == 200
    await _record(1)
    status.next_attempt = 0.0
    caught_up = await witnesses.sign_and_submit(log_key, pool)
    assert await witnesses.witnessed(caught_up, pool)
    assert (await client.get("/ready")).json()["witnesses"][second.name] == f"cosigned size {caught_up.tree_size}"
    assert (await service.verify(log_key, keys)).ok

    # Yesterday's backup restored, and the service writes on: a fork of the history both
    # witnesses cosigned. They refuse it, and the log fails against what they hold.
    held = first.latest()
    held_text = note.open_note(held, log_key.signer.verifier)
    assert note.parse_checkpoint(held_text).size == caught_up.tree_size
    assert keys[0].open(held_text, held.splitlines(keepends=True)[-1])  # the witness's own cosignature
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_cosignature WHERE tree_size > {}", backup.tree_size)
            await sql("DELETE FROM audit_checkpoint WHERE tree_size > {}", backup.tree_size)
            await sql("DELETE FROM audit_entry WHERE seq >= {}", backup.tree_size)
            await sql("DELETE FROM audit_tree_node")
            await sql("UPDATE audit_head SET next_seq = {} WHERE name = 'audit'", backup.tree_size)
        await _record(caught_up.tree_size - backup.tree_size + 2, action="test.after-restore")
        forked = await witnesses.sign_and_submit(log_key, pool)
        assert not await witnesses.witnessed(forked, pool)
        for status in pool.statuses:
            assert status.fork, status
            assert "history changed" in status.fork
        details = (await client.get("/ready")).json()["witnesses"]
        assert all(state.startswith("refuses the log's history") for state in details.values())
        assert _metric("governance_witness_fork", first) == 1
        # The restored database agrees with itself, and with the cosignatures it still holds...
        assert (await service.verify(log_key, keys)).ok
        # ...but not with the checkpoint the witness holds.
        result = await service.verify_since(log_key, held, keys)
        assert not result.ok
        (tmp_path / "held.txt").write_text(held)
        code, said = await _cli("audit", "verify", "--since", str(tmp_path / "held.txt"), "--witness", first.vkey)
        assert code == 1, said
        assert "FAILED" in said and "no longer hash to its root" in said
        assert any("no longer hash to its root" in p for p in result.problems), result.problems
        assert result.first_bad_checkpoint == caught_up.tree_size
        # The witness says so too, directly: its size, or the proof fails.
        replay = await _post(first, await witnesses._request_body(0, forked))
        assert replay.status_code == 409
        assert replay.text == f"{caught_up.tree_size}\n"
        fork_proof = await witnesses._request_body(caught_up.tree_size, forked)
        assert (await _post(first, fork_proof)).status_code == 422
    assert (await service.verify_since(log_key, held, keys)).ok


async def test_a_history_rewritten_and_signed_afresh_fails_against_the_stored_cosignatures(
    database: Settings,
    services: Services,
    auth: AuthHeaders,
    two_witnesses: tuple[WitnessProcess, WitnessProcess],
) -> None:
    """Rewrite 2 of issue 15, done thoroughly (checkpoints and tree nodes deleted, an entry
    edited and rehashed, a fresh checkpoint signed): the database agrees with itself, but
    not with the checkpoints the witnesses cosigned, which name the range of the edit."""
    log_key = service.load_log_key(database)
    pool = witnesses.parse([f"{w.url}={w.vkey}" for w in two_witnesses], quorum=1)
    await _record(3)
    before = await witnesses.sign_and_submit(log_key, pool)
    await _record(4)
    cosigned = await witnesses.sign_and_submit(log_key, pool)
    target = cosigned.tree_size - 2
    original = await row(target)
    forged = dict(original, details='{"i":99}')
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint")
            await sql("DELETE FROM audit_tree_node")
            await sql(
                "UPDATE audit_entry SET details = {}, leaf_hash = {} WHERE seq = {}",
                forged["details"],
                merkle.leaf_hash(stored_leaf_input(forged)),
                target,
            )
        await service.sign_checkpoint(log_key)
        assert (await service.verify(log_key)).ok, "the database alone cannot tell"
        result = await service.verify(log_key, pool.keys)
        assert not result.ok
        assert result.first_bad_checkpoint == cosigned.tree_size
        assert result.suspect_range == [before.tree_size, cosigned.tree_size]
        [problem, *_] = result.problems
        assert f"contradicts the checkpoint at size {cosigned.tree_size}" in problem
        assert f"among entries {before.tree_size} to {cosigned.tree_size - 1}" in problem
        code, said = await _cli("audit", "verify", *(f"--witness={w.vkey}" for w in two_witnesses))
        assert code == 1, said
        assert f"contradicts the checkpoint at size {cosigned.tree_size}" in said
        # The service's own verification checks the configured witnesses' cosignatures too.
        served = application(dataclasses.replace(services, witnesses=pool))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://t") as client:
            answer = await client.get("/api/v1/audit/verify", headers=auth("auditor"))
            assert answer.status_code == 200
            assert answer.json()["ok"] is False
            assert answer.json()["first_bad_checkpoint"] == cosigned.tree_size
    assert (await service.verify(log_key, pool.keys)).ok


async def test_truncating_entries_a_witness_cosigned_fails_against_its_cosignature(
    database: Settings, two_witnesses: tuple[WitnessProcess, WitnessProcess]
) -> None:
    """Rewrite 3 of issue 15: entries removed after a checkpoint and the later checkpoints
    deleted; the cosignature of one of them names the truncation."""
    log_key = service.load_log_key(database)
    pool = witnesses.parse([f"{w.url}={w.vkey}" for w in two_witnesses], quorum=2)
    await _record(2)
    kept = await witnesses.sign_and_submit(log_key, pool)
    await _record(3)
    cosigned = await witnesses.sign_and_submit(log_key, pool)
    async with restored_afterwards():
        async with everything_unlocked():
            await sql("DELETE FROM audit_checkpoint WHERE tree_size > {}", kept.tree_size)
            await sql("DELETE FROM audit_entry WHERE seq >= {}", kept.tree_size)
            await sql("UPDATE audit_head SET next_seq = {} WHERE name = 'audit'", kept.tree_size)
        assert (await service.verify(log_key)).ok, "the database alone cannot tell"
        result = await service.verify(log_key, pool.keys)
        assert not result.ok
        assert result.first_bad_seq == kept.tree_size
        assert result.first_bad_checkpoint == cosigned.tree_size
        assert any("it was truncated or restored from an old backup" in p for p in result.problems)


async def test_forged_or_missing_cosignatures_fail_verification(database: Settings) -> None:
    log_key = service.load_log_key(database)
    await _record(2)
    checkpoint = await service.sign_checkpoint(log_key)
    trusted = cosignature.Cosigner("trusted.test/w", Ed25519PrivateKey.generate())
    impostor = cosignature.Cosigner("trusted.test/w", Ed25519PrivateKey.generate())
    assert (await service.verify(log_key, [trusted.key], every_witness=False)).ok
    missing = await service.verify(log_key, [trusted.key])
    assert not missing.ok
    assert any(
        "no stored checkpoint carries a valid cosignature by witness trusted.test/w" in p for p in missing.problems
    )
    text = note.open_note(checkpoint.note, log_key.signer.verifier)
    # A cosignature line under the trusted name and key ID, but signed by another key.
    line = impostor.cosign(text, int(time.time()))
    name, _, timestamp, signature = cosignature.split_line(line)
    blob = trusted.key.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
    forged = f"\u2014 {name} {base64.b64encode(blob).decode()}\n"
    async with restored_afterwards():
        await sql(
            "INSERT INTO audit_cosignature (tree_size, witness, checkpoint, cosignature, cosigned_at) "
            "VALUES ({}, {}, {}, {}, {})",
            checkpoint.tree_size,
            trusted.key.encode(),
            text,
            forged,
            checkpoint.signed_at,
        )
        result = await service.verify(log_key, [trusted.key])
        assert not result.ok
        assert any("does not verify" in p for p in result.problems)


async def test_the_cosignature_table_is_append_only(database: Settings) -> None:
    await sql(
        "INSERT INTO audit_cosignature (tree_size, witness, checkpoint, cosignature, cosigned_at) "
        "VALUES ({}, {}, {}, {}, {})",
        0,
        "x",
        "y",
        "z",
        (await service.sign_checkpoint(service.load_log_key(database))).signed_at,
    )
    for statement in ("UPDATE audit_cosignature SET witness = 'w'", "DELETE FROM audit_cosignature"):
        with pytest.raises(Exception, match=r"append-only|history"):
            await sql(statement)


def test_witness_settings_are_checked() -> None:
    good = cosignature.Cosigner("w.test/a", Ed25519PrivateKey.generate()).key.encode()
    with pytest.raises(witnesses.WitnessConfigError, match="URL=VKEY"):
        witnesses.parse(["ftp://w=" + good], 1)
    with pytest.raises(witnesses.WitnessConfigError, match="QUORUM"):
        witnesses.parse(["http://w=" + good], 2)
    with pytest.raises(witnesses.WitnessConfigError, match="twice"):
        witnesses.parse(["http://w=" + good, "http://v=" + good], 1)
    with pytest.raises(witnesses.WitnessConfigError, match="witness key"):
        witnesses.parse(["http://w=" + service.load_log_key(Settings()).verifier_key], 1)
    assert witnesses.parse(["http://w/=" + good], 1).statuses[0].url == "http://w"
