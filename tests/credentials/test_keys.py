"""The issuer: did:web of the public URL, its key file, and rotation that keeps old credentials verifiable."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization

from governance.credentials import proofs
from governance.credentials.keys import did_web, load_issuer
from governance.settings import Settings

UNSIGNED = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:5b4b3f1e-1d1c-4c8e-9f61-0d7f3a1f2b10",
    "type": ["VerifiableCredential"],
    "issuer": "did:web:credentials.example",
    "validFrom": "2026-11-01T00:00:00Z",
    "credentialSubject": {"id": "urn:uuid:0f2d1c8e-71a2-4f0e-a8a1-33c3b0d7c9e4"},
}


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("https://governance.example", "did:web:governance.example"),
        ("https://governance.example:8443", "did:web:governance.example%3A8443"),
        ("https://platform.example/governance/", "did:web:platform.example:governance"),
    ],
)
def test_the_issuer_is_the_did_web_of_the_public_url(url: str, did: str) -> None:
    assert did_web(url) == did


def test_a_rotation_keeps_the_old_key_in_the_did_document(tmp_path: Path) -> None:
    base = Settings.from_env({"GOVERNANCE_DATA_DIR": str(tmp_path), "GOVERNANCE_PUBLIC_URL": "https://gov.example"})
    before = load_issuer(base)
    assert (tmp_path / "keys" / "credential-ed25519.pem").exists(), "generated on first start, like the log key"
    old = proofs.sign(
        UNSIGNED, before.key, verification_method=before.verification_method, created="2026-11-01T00:00:00Z"
    )
    # The operator puts a new key in place and lists the old file as retired.
    retired = tmp_path / "retired.pem"
    retired.write_bytes(
        before.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp_path / "keys" / "credential-ed25519.pem").unlink()
    after = load_issuer(msgspec.structs.replace(base, credential_retired_key_files=(str(retired),)))
    assert after.verification_method != before.verification_method
    document = after.did_document()
    methods = [m["id"] for m in document["verificationMethod"]]
    assert methods == [after.verification_method, before.verification_method]
    assert document["assertionMethod"] == methods
    assert all(
        m["type"] == "Multikey" and m["controller"] == "did:web:gov.example" for m in document["verificationMethod"]
    )
    assert proofs.verify(old, after.resolve).ok, "a credential signed before the rotation still verifies"
    # Without the retired key listed, it no longer resolves.
    forgotten = load_issuer(base)
    check = proofs.verify(old, forgotten.resolve)
    assert not check.ok and "cannot be resolved" in check.reason


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "p256.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    settings = Settings.from_env({"GOVERNANCE_DATA_DIR": str(tmp_path), "GOVERNANCE_CREDENTIAL_KEY_FILE": str(path)})
    with pytest.raises(ValueError, match="not an Ed25519"):
        load_issuer(settings)
