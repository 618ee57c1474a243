"""A bundle's seal (issue 15, item 1): before the PDF is rendered its contents are committed to
the log, and the PDF and the manifest carry that entry's tlog-proof, checked here as an
accreditor checks it: offline, with nothing but the log's key (and a witness's)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.audit import cosignature, note, proof_file, witnesses
from governance.audit import service as audit_service
from governance.bootstrap import Services
from governance.cli import main
from governance.evidence import seal

from ..audit.test_witness import WitnessProcess
from ..conftest import AuthHeaders
from .conftest import Bundles, Platform, pdf_text, sha256


def _encoded(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, ensure_ascii=False).encode()


def _proof_in_pdf(pages: list[str]) -> str:
    """The seal's proof as an accreditor copies it out of the PDF: from its header line to the
    log's signature line, wrapped lines and lost blank lines included."""
    lines = "\n".join(pages).split("\n")
    start = lines.index(proof_file.HEADER)
    end = next(n for n, line in enumerate(lines) if n > start and line.startswith("\u2014 "))
    return "\n".join(lines[start : end + 1]) + "\n"


async def test_the_manifest_seal_verifies_offline_and_binds_its_contents(
    services: Services, bundles: Bundles, platform: Platform
) -> None:
    ready = await bundles.ready()
    data = (await bundles.download(ready["id"], "manifest")).content
    manifest = json.loads(data)
    vkey = services.log_key.verifier_key
    check = seal.verify_manifest(data, vkey)
    assert check.ok, check.problems
    assert check.proven is not None
    # The entry the proof carries is this bundle's seal, of these contents: the digest
    # recomputed here from its definition (canonical JSON without pdf and seal).
    contents = {name: value for name, value in manifest.items() if name not in ("pdf", "seal")}
    digest = sha256(json.dumps(contents, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    entry = json.loads(check.proven.entry)
    assert entry["action"] == "evidence.bundle.sealed"
    assert entry["resource"] == {"id": ready["id"], "type": "evidence_bundle"}
    assert entry["details"]["contents_sha256"] == digest == manifest["seal"]["contents_sha256"]
    assert check.proven.index == manifest["seal"]["entry_seq"] == entry["seq"]
    # The figures it binds are the summaries the PDF prints.
    assert manifest["figures"]["complaints"]["complaints_received"] >= len(platform.complaints)
    assert manifest["figures"]["vetting"]["active_mentors"] >= 2
    # The checkpoint to keep is the proof's, and the log extends it.
    keep = manifest["seal"]["keep_checkpoint"]
    assert keep == manifest["seal"]["proof"].partition("\n\n")[2]
    assert note.verify_checkpoint(keep, vkey).size == check.proven.checkpoint.size > entry["seq"]
    assert (await audit_service.verify_since(services.log_key, keep)).ok

    # Change anything the seal binds, and it fails.
    def changed(edit: Any) -> list[str]:
        tampered = copy.deepcopy(manifest)
        edit(tampered)
        return seal.verify_manifest(_encoded(tampered), vkey).problems

    def figure(m: dict[str, Any]) -> None:
        m["figures"]["complaints"]["complaints_received"] += 1

    def artifact(m: dict[str, Any]) -> None:
        m["artifacts"][0]["sha256"] = "0" * 64

    def period(m: dict[str, Any]) -> None:
        m["period_start"] = "2020-01-01"

    for edit in (figure, artifact, period):
        problems = changed(edit)
        assert len(problems) == 1 and "a figure, an artifact or the checkpoint was changed" in problems[0], problems

    def proof_hash(m: dict[str, Any]) -> None:
        lines = m["seal"]["proof"].split("\n")
        at = next(n for n, line in enumerate(lines) if line.startswith("index ")) + 1
        lines[at] = "A" * 43 + "="
        m["seal"]["proof"] = "\n".join(lines)

    assert "does not lead to the root" in changed(proof_hash)[0]
    # The seal of another bundle does not vouch for this one.
    other = json.loads((await bundles.download((await bundles.ready())["id"], "manifest")).content)

    def swapped(m: dict[str, Any]) -> None:
        m["seal"] = other["seal"]

    problems = changed(swapped)
    assert any("seals bundle" in p for p in problems) and any("contents" in p for p in problems), problems
    # Nor does the key of another log.
    stranger = note.Signer(services.log_key.origin, Ed25519PrivateKey.generate()).verifier_key()
    assert "not signed by the key given" in seal.verify_manifest(data, stranger).problems[0]


async def test_the_pdf_prints_the_seal_and_its_proof_verifies_as_copied_out(
    services: Services, bundles: Bundles
) -> None:
    ready = await bundles.ready()
    pdf = (await bundles.download(ready["id"])).content
    manifest = json.loads((await bundles.download(ready["id"], "manifest")).content)
    pages = pdf_text(pdf)
    text = "\n".join(pages)
    sealed = manifest["seal"]
    assert "Seal: this bundle's contents in the audit log" in text
    assert sealed["contents_sha256"] in text
    assert f"index {sealed['entry_seq']}" in text
    head, _, checkpoint = sealed["proof"].partition("\n\n")
    for line in [*head.split("\n")[2:], *checkpoint.split("\n")]:
        assert line.strip() in text, line
    assert "governance audit verify --since checkpoint.txt" in text
    # What an accreditor copies out of the PDF is the same proof, verifiable with the key alone.
    copied = _proof_in_pdf(pages)
    assert copied != sealed["proof"]  # reflowed: the extra line wrapped, blank lines gone
    proven = proof_file.verify(copied, services.log_key.verifier_key)
    assert proven.entry == proof_file.verify(sealed["proof"], services.log_key.verifier_key).entry
    assert json.loads(proven.entry)["details"]["contents_sha256"] == sealed["contents_sha256"]
    forged = copied.replace(f"index {sealed['entry_seq']}", f"index {sealed['entry_seq'] + 1}")
    with pytest.raises(proof_file.ProofError, match="says it is entry"):
        proof_file.verify(forged, services.log_key.verifier_key)


async def test_the_ready_proof_ties_both_files_to_the_seal_and_the_cli_checks_them(
    services: Services, bundles: Bundles, tmp_path: Path
) -> None:
    ready = await bundles.ready(sections=["summary"])
    pdf = (await bundles.download(ready["id"])).content
    data = (await bundles.download(ready["id"], "manifest")).content
    answer = await bundles.client.get(f"/api/v1/evidence/bundles/{ready['id']}/proof", headers=bundles.auth("auditor"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"] == f'attachment; filename="evidence-{ready["id"]}-ready.tlog-proof"'
    vkey = services.log_key.verifier_key
    proven = proof_file.verify(answer.text, vkey)
    entry = json.loads(proven.entry)
    assert entry["action"] == "evidence.bundle.ready" and entry["details"]["pdf_sha256"] == sha256(pdf)
    assert entry["details"]["manifest_sha256"] == sha256(data) == ready["manifest_sha256"]
    check = seal.verify_manifest(data, vkey, pdf=pdf, ready_proof=answer.text)
    assert check.ok, check.problems
    # Without an audit section, the seal stands in the sign-off, and still verifies from the PDF.
    assert proof_file.verify(_proof_in_pdf(pdf_text(pdf)), vkey).index == json.loads(data)["seal"]["entry_seq"]

    files = {"manifest.json": data, "bundle.pdf": pdf, "ready.tlog-proof": answer.text.encode()}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "seal.tlog-proof").write_text(json.loads(data)["seal"]["proof"])
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, list(args), catch_exceptions=False)

    given = [str(tmp_path / "manifest.json"), "--key", vkey]
    whole = [*given, "--pdf", str(tmp_path / "bundle.pdf"), "--ready-proof", str(tmp_path / "ready.tlog-proof")]
    result = run("evidence", "verify-manifest", *whole)
    assert result.exit_code == 0 and result.output.startswith("OK: contents "), result.output
    result = run("audit", "verify-proof", str(tmp_path / "seal.tlog-proof"), "--key", vkey)
    assert result.exit_code == 0 and '"action":"evidence.bundle.sealed"' in result.output, result.output
    # Another PDF, or a manifest whose figures changed, fails, saying why.
    (tmp_path / "bundle.pdf").write_bytes(pdf.replace(b"%%EOF", b"%%EOF\n% appended"))
    result = run("evidence", "verify-manifest", *whole)
    assert result.exit_code == 1 and "the PDF given is not the one manifest.json describes" in result.output
    manifest = json.loads(data)
    manifest["figures"]["complaints"]["complaints_received"] += 1
    (tmp_path / "manifest.json").write_bytes(_encoded(manifest))
    result = run("evidence", "verify-manifest", *given)
    assert result.exit_code == 1 and "a figure, an artifact or the checkpoint was changed" in result.output
    result = run("audit", "verify-proof", str(tmp_path / "ready.tlog-proof"), "--key", "not a key")
    assert result.exit_code == 1 and result.output.startswith("FAILED:"), result.output


async def test_who_may_get_a_bundles_ready_proof(
    bundles: Bundles, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    ready = await bundles.ready(sections=["summary"])
    url = f"/api/v1/evidence/bundles/{ready['id']}/proof"
    for role in ("compliance_officer", "auditor"):
        answer = await client.get(url, headers=auth(role, sub=f"{role}-proof"))
        assert answer.status_code == 200, (role, answer.text)
        assert answer.text.startswith(proof_file.HEADER + "\nextra ")
    for role in ("mentee", "mentor", "support_agent", "platform", "admin"):
        assert (await client.get(url, headers=auth(role))).status_code == 403, role
    assert (await client.get(url)).status_code == 401
    queued = await bundles.queued(sections=["summary"])
    waiting = await client.get(f"/api/v1/evidence/bundles/{queued['id']}/proof", headers=auth("auditor"))
    assert waiting.status_code == 409 and waiting.json()["state"] == "queued"
    missing = await client.get(
        f"/api/v1/evidence/bundles/{'0' * 8}-0000-4000-8000-{'0' * 12}/proof", headers=auth("auditor")
    )
    assert missing.status_code == 404
    # An auditor's read of it is recorded, like their other samples; an officer's is their work.
    reads = [
        e["actor"]["sub"] for e in await bundles.audit(resource_id=ready["id"], action="evidence.bundle.proof_read")
    ]
    assert reads == ["auditor-proof"]


async def test_a_seal_is_proven_in_a_checkpoint_the_witness_cosigned(
    services: Services, bundles: Bundles, tmp_path: Path
) -> None:
    witness = WitnessProcess(tmp_path, "accreditor.test/seal", services.log_key)
    witness.start()
    try:
        pool = witnesses.parse([f"{witness.url}={witness.vkey}"], quorum=1)
        bundles.evidence = dataclasses.replace(bundles.evidence, witnesses=pool)
        ready = await bundles.ready(sections=["summary"])
        data = (await bundles.download(ready["id"], "manifest")).content
    finally:
        witness.kill()
    key = cosignature.parse_cosigner_key(witness.vkey)
    check = seal.verify_manifest(data, services.log_key.verifier_key, [key])
    assert check.ok, check.problems
    assert check.proven is not None and check.proven.witnessed_by == [witness.name]
    assert json.loads(data)["seal"]["witnessed_by"] == [witness.name]
    # A witness that did not cosign it is missing, and says so.
    absent = cosignature.Cosigner("ombudsman.test/absent", Ed25519PrivateKey.generate()).key
    problems = seal.verify_manifest(data, services.log_key.verifier_key, [key, absent]).problems
    assert problems and "lacks a valid cosignature by ombudsman.test/absent" in problems[0]
    assert hashlib.sha256(data).hexdigest() == (await bundles.get(ready["id"]))["manifest_sha256"]
