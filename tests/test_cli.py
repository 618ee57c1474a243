"""The `governance` command, as an operator and an auditor use it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from click.testing import CliRunner

from governance.audit import note, service
from governance.cli import main
from governance.core import db
from governance.core.identity import Identity
from governance.settings import Settings

from .conftest import BACKEND

VERIFIER = Path(__file__).resolve().parents[1] / "tools" / "verify_export.py"


@pytest.fixture
def some_entries(settings: Settings) -> None:
    """A few audited events, written the way the service writes them."""

    async def write() -> None:
        await db.start(settings)
        try:
            for index in range(3):
                await service.record(
                    actor=Identity(sub="cli-test", roles=("compliance_officer",)),
                    action="test.cli",
                    resource_type="thing",
                    resource_id=str(index),
                    details={"index": index},
                )
        finally:
            await db.stop()

    asyncio.run(write())


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_token_issue_prints_one_bearer_token(settings: Settings) -> None:
    code, out, _ = run("token", "issue", "--sub", "mentee-1", "--role", "mentee", "--ttl", "PT1H")
    assert code == 0
    token = out.strip()
    assert "\n" not in token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["roles"], claims["exp"] - claims["iat"]) == ("mentee-1", ["mentee"], 3600)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--role", "wizard"], "unknown role"), (["--role", "mentee", "--ttl", "forever"], "ISO 8601")],
)
def test_token_issue_refuses_bad_input(settings: Settings, args: list[str], message: str) -> None:
    code, out, err = run("token", "issue", "--sub", "x", *args)
    assert code == 2
    assert message in err
    assert out == ""


def test_a_bad_setting_stops_the_command_naming_the_variable(settings: Settings) -> None:
    code, _, err = run("audit", "verify", env={"GOVERNANCE_PORT": "eighty"})
    assert code == 1
    assert "GOVERNANCE_PORT" in err


def test_checkpoint_then_verify(settings: Settings, some_entries: None) -> None:
    code, checkpoint, _ = run("audit", "checkpoint")
    assert code == 0
    signed = note.verify_checkpoint(checkpoint, service.load_log_key(settings).verifier_key)
    assert signed.origin == settings.log_origin
    code, out, _ = run("audit", "verify", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["ok"] is True
    assert result["size"] >= signed.size
    assert result["first_bad_seq"] is None


def test_an_export_verifies_offline_and_a_tampered_one_does_not(
    settings: Settings, some_entries: None, tmp_path: Path
) -> None:
    export = tmp_path / "audit.jsonl"
    code, _, _ = run("audit", "export", "--out", str(export))
    assert code == 0
    lines = export.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["type"] == "checkpoint"
    assert len(lines) - 1 == last["tree_size"]
    offline = subprocess.run(
        [sys.executable, str(VERIFIER), str(export), "--key", last["verifier_key"], "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stdout + offline.stderr
    assert json.loads(offline.stdout)["ok"] is True

    entry = json.loads(lines[0])
    entry["entry"]["action"] = "nothing.happened"
    export.write_text("\n".join([json.dumps(entry), *lines[1:]]) + "\n")
    tampered = subprocess.run(
        [sys.executable, str(VERIFIER), str(export), "--key", last["verifier_key"]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tampered.returncode == 1


@pytest.mark.skipif(BACKEND != "sqlite", reason="edits the SQLite file directly")
def test_an_entry_edited_in_the_sqlite_file_fails_verification(settings: Settings, some_entries: None) -> None:
    run("audit", "checkpoint")
    connection = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    target = 0
    (original,) = connection.execute("SELECT action FROM audit_entry WHERE seq = ?", (target,)).fetchone()
    trigger = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_entry_no_update'"
    ).fetchone()[0]
    connection.execute("DROP TRIGGER audit_entry_no_update")
    connection.execute("UPDATE audit_entry SET action = 'nothing.to.see' WHERE seq = ?", (target,))
    try:
        code, out, _ = run("audit", "verify", "--json")
        result = json.loads(out)
        assert code == 1
        assert result["ok"] is False
        assert result["first_bad_seq"] == target
    finally:
        connection.execute("UPDATE audit_entry SET action = ? WHERE seq = ?", (original, target))
        connection.execute(trigger)
        connection.close()
    assert run("audit", "verify")[0] == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(BACKEND != "sqlite", reason="one smoke test of the real server is enough")
def test_serve_migrates_and_answers_on_embedded_defaults(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update({"GOVERNANCE_DATA_DIR": str(tmp_path / "var"), "GOVERNANCE_PORT": str(port)})
    server = subprocess.Popen(
        [sys.executable, "-m", "governance.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200
        assert (tmp_path / "var" / "governance.sqlite3").exists()
        assert (tmp_path / "var" / "keys" / "checkpoint-ed25519.pem").exists()
        assert (tmp_path / "var" / "objects").is_dir()
    finally:
        server.terminate()
        server.wait(timeout=10)
