"""What an external auditor does without a shell: the public key and checkpoint without a
token, the log export streamed through the API, partial exports bound to what they hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from governance.audit import note, service, verification
from governance.core.identity import Identity
from governance.settings import Settings

from ..conftest import AuthHeaders

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_export.py"
OFFICER = Identity(sub="officer-export", roles=("compliance_officer",))


async def _record(count: int = 3) -> None:
    for index in range(count):
        await service.record_event(
            actor=OFFICER, action="test.export", resource_type="thing", resource_id=str(index), details={"i": index}
        )


def _verify(export: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, str(VERIFIER), str(export), "--json", *args], capture_output=True, text=True, check=False
    )
    return done.returncode, json.loads(done.stdout), done.stderr


async def _key(client: httpx.AsyncClient) -> str:
    return (await client.get("/api/v1/audit/public-key")).text.strip()


# --- public key and checkpoint ---------------------------------------------------------


async def test_the_public_key_needs_no_token_and_may_be_cached(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/api/v1/audit/public-key")
    assert response.status_code == 200
    assert response.text == service.load_log_key(settings).verifier_key + "\n"
    assert response.headers["cache-control"] == "public, max-age=3600"
    again = await client.get("/api/v1/audit/public-key", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_the_checkpoint_needs_no_token_and_is_revalidated(client: httpx.AsyncClient, settings: Settings) -> None:
    log_key = service.load_log_key(settings)
    await _record(1)
    await service.sign_checkpoint(log_key)
    first = await client.get("/api/v1/audit/checkpoint")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, no-cache"
    latest = await service.latest_checkpoint(log_key)
    assert latest is not None and first.text == latest.note
    same = await client.get("/api/v1/audit/checkpoint", headers={"If-None-Match": first.headers["etag"]})
    assert same.status_code == 304

    await _record(1)
    await service.sign_checkpoint(log_key)
    newer = await client.get("/api/v1/audit/checkpoint", headers={"If-None-Match": first.headers["etag"]})
    assert newer.status_code == 200, "a newer checkpoint must not be answered from the old one"
    assert newer.text != first.text


async def test_a_token_on_a_public_route_changes_nothing(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    for role in ("mentee", "admin"):
        assert (await client.get("/api/v1/audit/public-key", headers=auth(role))).status_code == 200


# --- the export ------------------------------------------------------------------------


async def test_the_export_streams_verifies_offline_and_is_an_audited_read(
    client: httpx.AsyncClient, auth: AuthHeaders, tmp_path: Path
) -> None:
    await _record()
    response = await client.get("/api/v1/audit/export", headers=auth("auditor", sub="auditor-export-1"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "content-length" not in response.headers, "the export is streamed, not built in memory"
    assert response.headers["cache-control"] == "no-store"
    lines = [json.loads(line) for line in response.text.splitlines()]
    closing = lines[-1]
    assert closing["type"] == "checkpoint"
    assert [line["seq"] for line in lines[:-1]] == list(range(closing["tree_size"]))
    assert response.headers["content-disposition"] == f'attachment; filename="audit-0-{closing["tree_size"]}.jsonl"'

    export = tmp_path / "audit.jsonl"
    export.write_bytes(response.content)
    code, result, _ = _verify(export, "--key", await _key(client))
    assert code == 0, result
    assert result["ok"] is True and result["key_pinned"] is True

    found = await client.get(
        "/api/v1/audit/entries",
        params={"action": "audit.export.downloaded", "actor": "auditor-export-1"},
        headers=auth("auditor"),
    )
    [entry] = found.json()["items"]
    assert entry["details"] == {"since_seq": 0, "tree_size": closing["tree_size"], "root": closing["root"]}
    assert entry["seq"] >= closing["tree_size"], "the read is recorded after the tree it handed out"


async def test_a_partial_export_verifies_against_the_earlier_one(
    client: httpx.AsyncClient, auth: AuthHeaders, tmp_path: Path
) -> None:
    headers = auth("auditor")
    key = await _key(client)
    await _record()
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_bytes((await client.get("/api/v1/audit/export", headers=headers)).content)
    held = json.loads(earlier.read_text().splitlines()[-1])["tree_size"]
    await _record()

    response = await client.get("/api/v1/audit/export", params={"since_seq": held}, headers=headers)
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    prefix, closing = lines[0], lines[-1]
    assert prefix["type"] == "prefix" and prefix["tree_size"] == held
    assert prefix["root"] == json.loads(earlier.read_text().splitlines()[-1])["root"]
    assert [line["seq"] for line in lines[1:-1]] == list(range(held, closing["tree_size"]))
    partial = tmp_path / "partial.jsonl"
    partial.write_bytes(response.content)

    code, result, _ = _verify(partial, "--key", key, "--previous", str(earlier))
    assert code == 0, result
    assert result["since_seq"] == held
    assert result["previous"] == [{"source": str(earlier), "size": held, "root": prefix["root"], "ok": True}]
    assert result["warnings"] == []

    # The signed note from GET /checkpoint works as the earlier checkpoint too.
    note = tmp_path / "checkpoint.txt"
    note.write_text(json.loads(earlier.read_text().splitlines()[-1])["checkpoint"])
    assert _verify(partial, "--key", key, "--previous", str(note))[0] == 0

    # Without the earlier checkpoint the script verifies what it can and says what is left.
    code, result, _ = _verify(partial, "--key", key)
    assert code == 0
    assert any("--previous" in warning["message"] for warning in result["warnings"])


async def test_a_partial_export_whose_prefix_was_rewritten_fails(
    client: httpx.AsyncClient, auth: AuthHeaders, settings: Settings, tmp_path: Path
) -> None:
    headers = auth("auditor")
    key = await _key(client)
    await _record(5)
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_bytes((await client.get("/api/v1/audit/export", headers=headers)).content)
    held = json.loads(earlier.read_text().splitlines()[-1])["tree_size"]
    await _record(2)
    partial = (await client.get("/api/v1/audit/export", params={"since_seq": held}, headers=headers)).text
    lines = partial.splitlines()

    # A prefix standing for other history: its root no longer folds from its range.
    prefix = json.loads(lines[0])
    prefix["compact_range"][0] = "00" * 32
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join([json.dumps(prefix), *lines[1:]]) + "\n")
    code, result, _ = _verify(forged, "--key", key, "--previous", str(earlier))
    assert code == 1
    assert any("prefix root" in failure["message"] for failure in result["failures"])

    # A fork: the same key signed another tree of that size earlier; this export does not extend it.
    log_key = service.load_log_key(settings)
    fork = tmp_path / "fork.txt"
    fork.write_text(log_key.signer.sign_note(note.checkpoint_body(log_key.origin, held, b"\x11" * 32)))
    genuine = tmp_path / "partial.jsonl"
    genuine.write_text(partial)
    code, result, _ = _verify(genuine, "--key", key, "--previous", str(fork))
    assert code == 1
    assert any("the log was rewritten" in failure["message"] for failure in result["failures"])

    # An earlier checkpoint from before the part exported cannot be checked: ask for more.
    await _record(1)
    later = tmp_path / "later.jsonl"
    response = await client.get("/api/v1/audit/export", params={"since_seq": held + 1}, headers=headers)
    later.write_bytes(response.content)
    code, result, _ = _verify(later, "--key", key, "--previous", str(earlier))
    assert code == 1
    assert any(f"since_seq at most {held}" in failure["message"] for failure in result["failures"])


async def test_since_seq_beyond_the_log_is_a_400_naming_it(client: httpx.AsyncClient, auth: AuthHeaders) -> None:
    response = await client.get("/api/v1/audit/export", params={"since_seq": 2**62}, headers=auth("auditor"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "since_seq"
    negative = await client.get("/api/v1/audit/export", params={"since_seq": -1}, headers=auth("auditor"))
    assert negative.status_code == 400


@pytest.mark.parametrize("role", ["admin", "mentee", "mentor", "support_agent", "platform"])
async def test_only_readers_of_the_log_may_export_it(client: httpx.AsyncClient, auth: AuthHeaders, role: str) -> None:
    assert (await client.get("/api/v1/audit/export", headers=auth(role))).status_code == 403


async def test_the_export_is_produced_a_batch_at_a_time(database: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    await _record(5)
    monkeypatch.setattr(verification, "BATCH", 2)
    prepared = await service.prepare_export(service.load_log_key(database), 1)
    chunks = [chunk async for chunk in prepared.lines()]
    # prefix, then ceil((size - 1) / 2) batches of entries, then the checkpoint
    assert len(chunks) == 2 + -(-(prepared.tree_size - 1) // 2)
    assert all(chunk.count(b"\n") <= 2 for chunk in chunks)
