"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C vc-di-eddsa), and Multikey.

Signing: canonicalise the proof options (with the document's ``@context``) and the document
without its proof (RDFC-1.0), hash each with SHA-256, sign ``hash(options) || hash(document)``
with Ed25519, and write the signature base58btc-multibase encoded as ``proofValue``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from governance.credentials import jsonld

CRYPTOSUITE: Final = "eddsa-rdfc-2022"
PROOF_TYPE: Final = "DataIntegrityProof"
_ED25519_PUB: Final = b"\xed\x01"  # multicodec ed25519-pub, as varint
_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX: Final = {c: i for i, c in enumerate(_ALPHABET)}


def base58btc(data: bytes) -> str:
    """Multibase base58btc: ``z`` then the Bitcoin base58 alphabet."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _ALPHABET[rest] + out
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "z" + "1" * zeros + out


def from_base58btc(text: str) -> bytes:
    if not text.startswith("z"):
        raise ValueError("not a base58btc multibase value (it must start with 'z')")
    body = text[1:]
    number = 0
    for char in body:
        if char not in _INDEX:
            raise ValueError(f"{char!r} is not a base58btc character")
        number = number * 58 + _INDEX[char]
    zeros = len(body) - len(body.lstrip("1"))
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + raw


def multikey(public_key: Ed25519PublicKey) -> str:
    """The ``publicKeyMultibase`` of an Ed25519 key (``z6Mk...``)."""
    return base58btc(_ED25519_PUB + public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_from_multikey(value: str) -> Ed25519PublicKey:
    raw = from_base58btc(value)
    if not raw.startswith(_ED25519_PUB) or len(raw) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def hash_data(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    """``SHA-256(canonical proof options) || SHA-256(canonical document)``: the bytes the suite signs."""
    options = {**options, "@context": document.get("@context")}
    options.pop("proofValue", None)
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(jsonld.canonicalize(options).encode()).digest()
        + hashlib.sha256(jsonld.canonicalize(unsecured).encode()).digest()
    )


def sign(document: dict[str, Any], key: Ed25519PrivateKey, *, verification_method: str, created: str) -> dict[str, Any]:
    """``document`` with an ``eddsa-rdfc-2022`` proof for the assertion purpose."""
    options = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(hash_data(document, options))
    return {**document, "proof": {**options, "proofValue": base58btc(signature)}}


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """What checking a proof found: ``ok``, and in words why not."""

    ok: bool
    reason: str
    verification_method: str | None = None


# Resolves a verification method id to its key, or raises LookupError/ValueError.
KeyResolver = Callable[[str], Ed25519PublicKey]


def verify(document: dict[str, Any], resolve: KeyResolver) -> ProofCheck:
    """Check the document's single ``eddsa-rdfc-2022`` proof (never raises on bad input)."""
    proof = document.get("proof")
    if not isinstance(proof, dict):
        return ProofCheck(False, "the credential has no proof (or several)")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return ProofCheck(False, f"only {PROOF_TYPE} proofs with cryptosuite {CRYPTOSUITE} are verified here")
    if proof.get("proofPurpose") != "assertionMethod":
        return ProofCheck(False, "the proof's purpose is not assertionMethod")
    method, value = proof.get("verificationMethod"), proof.get("proofValue")
    if not isinstance(method, str) or not isinstance(value, str):
        return ProofCheck(False, "the proof has no verificationMethod or proofValue")
    try:
        public_key = resolve(method)
    except (LookupError, ValueError) as exc:
        return ProofCheck(False, f"the verification method cannot be resolved: {exc}", method)
    try:
        signature = from_base58btc(value)
        signed = hash_data(document, {k: v for k, v in proof.items() if k != "proofValue"})
    except ValueError as exc:
        return ProofCheck(False, str(exc), method)
    try:
        public_key.verify(signature, signed)
    except InvalidSignature:
        return ProofCheck(False, "the signature does not match the credential", method)
    return ProofCheck(True, "the signature matches the credential", method)


def did_key_resolver(method: str) -> Ed25519PublicKey:
    """``did:key:z6Mk...#z6Mk...``: the key is the identifier itself (used by the W3C test vectors)."""
    if not method.startswith("did:key:"):
        raise LookupError(f"{method} is not a did:key")
    return public_key_from_multikey(method.removeprefix("did:key:").split("#", 1)[0])
