"""Credentials verified by an implementation that shares no code with the issuer.

The issuer canonicalises with pyld; ``tools/credential-check/verify.mjs`` verifies with
Digital Bazaar's JavaScript stack (jsonld-signatures, @digitalbazaar/data-integrity, the
eddsa-rdfc-2022 cryptosuite, jsonld.js and rdf-canonize), offline: it is served only the
vendored contexts and the DID documents these tests hand it. The W3C and 1EdTech vectors
check the script itself.

When Node.js or the verifier's packages are missing these tests skip, saying how to get
them; with ``CI=true`` they fail instead.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..complaints.conftest import Api, new_id
from .test_credentials import _attest, _credential

ROOT = Path(__file__).parents[2]
VERIFIER = ROOT / "tools" / "credential-check"
VECTORS = Path(__file__).parent / "vectors"
# What verify.mjs imports; `npm ci` installs them (with what they need) from the lock file.
PACKAGES = (
    "jsonld-signatures",
    "@digitalbazaar/data-integrity",
    "@digitalbazaar/eddsa-rdfc-2022-cryptosuite",
    "@digitalbazaar/ed25519-multikey",
)
HOW_TO_ENABLE = (
    "`make test` installs them when Node.js 18+ and npm are present; by hand: `npm ci --prefix tools/credential-check`"
)


def _missing() -> str | None:
    """What the independent verifier lacks, or None."""
    if shutil.which("node") is None:
        return "Node.js (`node`) is not on the PATH"
    absent = [name for name in PACKAGES if not (VERIFIER / "node_modules" / name / "package.json").is_file()]
    if absent:
        return f"the node packages {', '.join(absent)} are not installed in {VERIFIER.relative_to(ROOT)}"
    return None


@pytest.fixture(scope="module")
def js_verifier() -> None:
    """Skip (or with CI=true fail) when node or the verifier's packages are missing."""
    missing = _missing()
    if missing is None:
        return
    message = f"independent credential verifier: {missing}; {HOW_TO_ENABLE}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _verify(tmp_path: Path, credential: dict[str, Any], *did_documents: dict[str, Any]) -> dict[str, Any]:
    """verify.mjs's verdict on the credential, given these DID (controller) documents."""
    (tmp_path / "credential.json").write_text(json.dumps(credential), encoding="utf-8")
    arguments = ["node", str(VERIFIER / "verify.mjs"), str(tmp_path / "credential.json")]
    for number, document in enumerate(did_documents):
        path = tmp_path / f"did-{number}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        arguments += ["--did-document", str(path)]
    done = subprocess.run(arguments, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdict: dict[str, Any] = json.loads(done.stdout)
    # The exit status and the verdict say the same thing.
    assert verdict["verified"] is (done.returncode == 0), verdict
    return verdict


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return loaded


async def test_a_credential_issued_through_the_api_verifies_independently(
    api: Api, client: httpx.AsyncClient, js_verifier: None, tmp_path: Path
) -> None:
    credential = await _credential(api, (await _attest(api, new_id(), "cand-" + new_id(), score=3))["id"])
    did_document = (await client.get("/.well-known/did.json")).json()
    verdict = _verify(tmp_path, credential, did_document)
    assert verdict["verified"], verdict["errors"]
    assert verdict["verificationMethod"] == credential["proof"]["verificationMethod"]
    # The key that signed is one the issuer's own DID document authorises for assertions.
    assert verdict["controller"] == credential["issuer"]["id"] == did_document["id"]
    assert set(verdict["verifier"]) >= set(PACKAGES)

    # One character of the result changed: the score the credential attests.
    [result] = credential["credentialSubject"]["result"]
    assert result["value"] == "3"
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["result"][0]["value"] = "4"
    verdict = _verify(tmp_path, tampered, did_document)
    assert not verdict["verified"]
    assert "Invalid signature." in verdict["errors"]


async def test_the_issuers_did_document_is_what_authorises_the_key(
    api: Api, client: httpx.AsyncClient, js_verifier: None, tmp_path: Path
) -> None:
    credential = await _credential(api, (await _attest(api, new_id(), "cand-" + new_id()))["id"])
    did_document = (await client.get("/.well-known/did.json")).json()
    # Without the issuer's DID document the key cannot be found (and is never fetched).
    verdict = _verify(tmp_path, credential)
    assert not verdict["verified"]
    assert any("refusing to load" in error for error in verdict["errors"]), verdict["errors"]
    # A DID document that lists the key but not for assertions does not authorise it.
    unlisted = {**did_document, "assertionMethod": []}
    verdict = _verify(tmp_path, credential, unlisted)
    assert not verdict["verified"]
    assert any("not authorized" in error for error in verdict["errors"]), verdict["errors"]


def test_the_w3c_vector_verifies_with_the_js_verifier(js_verifier: None, tmp_path: Path) -> None:
    """The vc-di-eddsa test vector (a did:key, resolved from the identifier itself): checks the script."""
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    verdict = _verify(tmp_path, signed)
    assert verdict["verified"], verdict["errors"]
    assert verdict["verificationMethod"] == signed["proof"]["verificationMethod"]
    signed["credentialSubject"]["alumniOf"] = "The School of Examplez"
    assert not _verify(tmp_path, signed)["verified"]


def test_the_1edtech_open_badges_sample_verifies_with_the_js_verifier(js_verifier: None, tmp_path: Path) -> None:
    """The OB 3.0 sample: the Open Badges context, as our credentials use it."""
    sample = _load("ob-v3p0-signed-sample.json")
    method = sample["proof"]["verificationMethod"]
    controller, key = method.split("#", 1)
    # The sample's issuer is an https URL nothing here can fetch: its key is the fragment.
    issuer = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": controller,
        "verificationMethod": [{"id": method, "type": "Multikey", "controller": controller, "publicKeyMultibase": key}],
        "assertionMethod": [method],
    }
    verdict = _verify(tmp_path, sample, issuer)
    assert verdict["verified"], verdict["errors"]
    sample["credentialSubject"]["achievement"]["name"] = "Teamwork!"
    assert not _verify(tmp_path, sample, issuer)["verified"]


def test_the_js_verifier_fetches_no_context_and_drops_no_term(js_verifier: None, tmp_path: Path) -> None:
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    unknown = {**signed, "@context": [*signed["@context"], "https://attacker.example/context.jsonld"]}
    verdict = _verify(tmp_path, unknown)
    assert not verdict["verified"]
    assert any("attacker.example" in error for error in verdict["errors"]), verdict["errors"]
    # Safe mode: a property that expands to nothing is an error, not left out of what is signed
    # (the credentials context's @vocab gives any plain term an IRI, so a keyword-like one).
    undefined = {**signed, "@undefinedTerm": "dropped silently without safe mode"}
    verdict = _verify(tmp_path, undefined)
    assert not verdict["verified"]
    assert any("Safe mode" in error and "Dropping property" in error for error in verdict["errors"]), verdict
