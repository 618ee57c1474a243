"""eddsa-rdfc-2022 against what others publish: the W3C test vectors and the 1EdTech OB 3.0 sample."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.credentials import jsonld, proofs

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return loaded


def _ob_sample_key(method: str) -> Any:
    # The 1EdTech sample names an https issuer whose key is the fragment (a Multikey).
    assert method.startswith("https://example.edu/issuers/565049#")
    return proofs.public_key_from_multikey(method.split("#", 1)[1])


def test_the_w3c_vector_canonicalises_as_published() -> None:
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    unsecured = {k: v for k, v in signed.items() if k != "proof"}
    assert jsonld.canonicalize(unsecured) == (VECTORS / "eddsa-rdfc-2022-canonDocDataInt.txt").read_text()
    options = {**{k: v for k, v in signed["proof"].items() if k != "proofValue"}, "@context": signed["@context"]}
    assert jsonld.canonicalize(options) == (VECTORS / "eddsa-rdfc-2022-proofCanonDataInt.txt").read_text()


def test_the_w3c_vector_verifies() -> None:
    check = proofs.verify(_load("eddsa-rdfc-2022-signedDataInt.json"), proofs.did_key_resolver)
    assert check.ok, check.reason


@pytest.mark.parametrize(
    "path",
    [("name",), ("credentialSubject", "alumniOf"), ("issuer",), ("validFrom",), ("proof", "created")],
)
def test_the_w3c_vector_fails_after_one_changed_character(path: tuple[str, ...]) -> None:
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    holder = signed
    for key in path[:-1]:
        holder = holder[key]
    value = holder[path[-1]]
    holder[path[-1]] = value[:-1] + ("1" if value[-1] != "1" else "2")
    check = proofs.verify(signed, proofs.did_key_resolver)
    assert not check.ok
    assert check.reason == "the signature does not match the credential"


def test_a_changed_proof_value_fails() -> None:
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    value = signed["proof"]["proofValue"]
    signed["proof"]["proofValue"] = value[:10] + ("A" if value[10] != "A" else "B") + value[11:]
    assert not proofs.verify(signed, proofs.did_key_resolver).ok


def test_the_w3c_key_pair_is_read_as_multikey() -> None:
    pair = _load("eddsa-keyPair.json")
    key = proofs.public_key_from_multikey(pair["publicKeyMultibase"])
    assert proofs.multikey(key) == pair["publicKeyMultibase"]


def test_signing_the_vector_with_its_key_gives_the_published_proof() -> None:
    pair = _load("eddsa-keyPair.json")
    raw = proofs.from_base58btc(pair["privateKeyMultibase"])
    assert raw[:2] == b"\x80\x26"  # multicodec ed25519-priv
    key = Ed25519PrivateKey.from_private_bytes(raw[2:])
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    proof = signed.pop("proof")
    again = proofs.sign(signed, key, verification_method=proof["verificationMethod"], created=proof["created"])
    assert again["proof"]["proofValue"] == proof["proofValue"]


def test_the_1edtech_open_badges_sample_verifies() -> None:
    sample = _load("ob-v3p0-signed-sample.json")
    check = proofs.verify(sample, _ob_sample_key)
    assert check.ok, check.reason
    # The implementation guide's published hashes, computed the same way.
    data = proofs.hash_data(sample, {k: v for k, v in sample["proof"].items() if k != "proofValue"})
    assert data.hex() == (
        "d34009cea0dbc1ca941e09dc01c8c9d3e3ce3c5b853f67ee44698dcea10f5d19"
        "87f65a76d40146205e3b3e06cb0fbd153f97f9ce70372390f52566bb7f9e0773"
    )
    sample["credentialSubject"]["achievement"]["name"] = "Teamwork!"
    assert not proofs.verify(sample, _ob_sample_key).ok


def test_an_unknown_context_is_refused_never_fetched() -> None:
    signed = _load("eddsa-rdfc-2022-signedDataInt.json")
    signed["@context"] = [*signed["@context"], "https://attacker.example/context.jsonld"]
    with pytest.raises(jsonld.UnknownContext, match=r"attacker\.example"):
        jsonld.canonicalize({k: v for k, v in signed.items() if k != "proof"})
    check = proofs.verify(signed, proofs.did_key_resolver)
    assert not check.ok and "unknown JSON-LD context" in check.reason


def test_a_term_no_context_defines_is_refused() -> None:
    signed = _load("ob-v3p0-signed-sample.json")
    signed["undefinedTerm"] = "dropped silently elsewhere"
    check = proofs.verify(signed, _ob_sample_key)
    assert not check.ok


def test_base58btc_round_trips_leading_zeros() -> None:
    for data in (b"", b"\0", b"\0\0\x01", hashlib.sha256(b"x").digest()):
        assert proofs.from_base58btc(proofs.base58btc(data)) == data
    with pytest.raises(ValueError, match="base58btc"):
        proofs.from_base58btc("z0OIl")
