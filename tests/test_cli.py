"""The `governance` command, as an operator and an auditor use it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
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
                await service.record_event(
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


def test_verify_since_a_saved_checkpoint(settings: Settings, some_entries: None, tmp_path: Path) -> None:
    """The auditor keeps today's checkpoint and proves next time that the log extends it."""
    code, checkpoint, _ = run("audit", "checkpoint")
    assert code == 0
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(checkpoint, encoding="utf-8")
    code, out, _ = run("audit", "verify", "--since", str(saved), "--json")
    assert code == 0, out
    assert json.loads(out)["ok"] is True

    key = service.load_log_key(settings)
    body = note.parse_checkpoint(note.open_note(checkpoint, key.signer.verifier))
    ahead = key.signer.sign_note(note.checkpoint_body(body.origin, body.size + 10**6, body.root))
    saved.write_text(ahead, encoding="utf-8")  # a checkpoint the log never reached: truncated
    code, out, _ = run("audit", "verify", "--since", str(saved))
    assert code == 1
    assert "FAILED" in out and "truncated" in out

    saved.write_text(checkpoint.replace("\n\n", "\n\n\u2014 x AAAA\n", 1)[:-5], encoding="utf-8")
    code, out, err = run("audit", "verify", "--since", str(saved))
    assert code == 2
    assert "not a checkpoint signed by this log's key" in err
    assert out == ""


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
        # One client for every try: httpx.get builds one (and its TLS context) per call.
        with httpx.Client(timeout=1) as client:
            while True:
                try:
                    health = client.get(f"http://127.0.0.1:{port}/health")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.05)
            assert health.status_code == 200
            assert client.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
        assert (tmp_path / "var" / "governance.sqlite3").exists()
        assert (tmp_path / "var" / "keys" / "checkpoint-ed25519.pem").exists()
        assert (tmp_path / "var" / "objects").is_dir()
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- a data directory that holds no deployment, and user mistakes (issue 12, item 11) ---

ELSEWHERE_COMMANDS = [
    ["token", "issue", "--sub", "auditor-1", "--role", "auditor"],
    ["audit", "checkpoint"],
    ["audit", "verify"],
    ["audit", "export", "--out", "audit.jsonl"],
    ["complaints", "sla-scan"],
    ["vetting", "expire"],
    ["privacy", "expire"],
    ["retention", "sweep", "--dry-run"],
    ["worker"],
    ["evidence", "export", "--from", "2026-01-01", "--to", "2026-01-31"],
]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("args", ELSEWHERE_COMMANDS, ids=[" ".join(a[:2]) for a in ELSEWHERE_COMMANDS])
def test_a_command_run_elsewhere_refuses_and_creates_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "var"
    if args == ["worker"]:  # a worker that starts would never return: run it where it can be stopped
        done = _cli({"GOVERNANCE_DATA_DIR": str(elsewhere)}, *args)
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        code, out, err = run(*args, env={"GOVERNANCE_DATA_DIR": str(elsewhere), "GOVERNANCE_DATABASE_URL": None})
    assert code == 1
    assert out == ""
    line = _one_line(err)
    assert str(elsewhere) in line and "GOVERNANCE_DATA_DIR" in line
    assert not elsewhere.exists(), "no keys and no database may be created by this command"
    assert list(tmp_path.iterdir()) == []


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    return subprocess.run(
        [sys.executable, "-m", "governance.cli", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory as `governance migrate` leaves it, made once: tests copy it, not remake it."""
    var = tmp_path_factory.mktemp("deployment") / "var"
    migrated = _cli({"GOVERNANCE_DATA_DIR": str(var)}, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    return var


def test_migrate_sets_up_a_deployment_the_other_commands_accept(tmp_path: Path, deployment: Path) -> None:
    """`governance migrate` run in a data directory that did not exist (the ``deployment``
    fixture runs it, once for the module); the commands that need a deployment accept it."""
    for name in ("governance.sqlite3", "keys/jwt.secret", "keys/master.key", "keys/checkpoint-ed25519.pem"):
        assert (deployment / name).is_file(), name
    env = {"GOVERNANCE_DATA_DIR": str(shutil.copytree(deployment, tmp_path / "var"))}
    issued = _cli(env, "token", "issue", "--sub", "auditor-1", "--role", "auditor")
    assert issued.returncode == 0, issued.stderr
    verified = _cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr


def test_a_database_without_its_migrations_is_refused_in_one_line(tmp_path: Path, deployment: Path) -> None:
    env = {"GOVERNANCE_DATA_DIR": str(shutil.copytree(deployment, tmp_path / "var"))}
    (tmp_path / "var" / "governance.sqlite3").unlink()
    sqlite3.connect(tmp_path / "var" / "governance.sqlite3").close()  # an empty database
    for args in (["audit", "verify"], ["evidence", "export", "--from", "2026-01-01", "--to", "2026-01-31"]):
        done = _cli(env, *args)
        assert done.returncode == 1
        assert "governance migrate" in _one_line(done.stderr)


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path, deployment: Path) -> None:
    env = {"GOVERNANCE_DATA_DIR": str(shutil.copytree(deployment, tmp_path / "var"))}
    env["GOVERNANCE_DATABASE_URL"] = f"postgresql://governance:s3cret@127.0.0.1:{_free_port()}/governance"
    for args in (["audit", "verify"], ["migrate"]):
        done = _cli(env, *args)
        assert done.returncode == 1
        line = _one_line(done.stderr)
        assert "cannot reach the database postgresql://governance@127.0.0.1" in line
        assert "s3cret" not in line and "GOVERNANCE_DATABASE_URL" in line


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["token", "issue", "--sub", "x", "--role", "wizard"], 2, "unknown role"),
        (["evidence", "export", "--from", "2026-06-01", "--to", "2026-01-01"], 1, "before it starts"),
        (["evidence", "export", "--from", "2026-13-01", "--to", "2026-12-31"], 2, "--from"),
        (["evidence", "export", "--from", "2026-01-01", "--to", "2026-01-31", "--section", "gossip"], 2, "section"),
        (["audit", "export", "--out", "x.jsonl", "--since-seq", str(2**62)], 2, "since_seq"),
        (["audit", "nonsense"], 2, "No such command"),
    ],
)
def test_a_user_mistake_is_one_line_never_a_traceback(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    exit_code, _, err = run(*args)
    assert exit_code == code
    assert message in _one_line(err)


def test_a_bad_key_history_or_witness_list_is_one_line(settings: Settings, tmp_path: Path) -> None:
    """Configuration of the log's keys and witnesses: a mistake is one line, never a traceback."""
    history = tmp_path / "history.txt"
    history.write_text("bad line\n")
    code, _, err = run("audit", "verify", env={"GOVERNANCE_CHECKPOINT_KEY_HISTORY": str(history)})
    assert code == 1
    assert "configuration error" in err and "line 1" in err and "Traceback" not in err
    code, _, err = run("privacy", "expire", env={"GOVERNANCE_WITNESSES": "http://w=not-a-key"})
    assert code == 1
    assert "GOVERNANCE_WITNESSES" in err and "Traceback" not in err
    code, _, err = run("witness", "vkey", "--key", str(tmp_path / "w.pem"), "--name", "bad name")
    assert code == 2 and "--name" in err
    assert not (tmp_path / "w.pem").exists() or (tmp_path / "w.pem").stat().st_mode & 0o077 == 0
