"""The issuer: a did:web of the deployment's public URL, its signing key and the keys it retired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.core.crypto import read_or_create_secret
from governance.credentials import proofs
from governance.settings import Settings


def did_web(public_url: str) -> str:
    """``did:web`` of an https URL: host (port percent-encoded), then each path segment after a colon."""
    parts = urlsplit(public_url)
    host = quote(parts.netloc, safe="")
    segments = [s for s in parts.path.split("/") if s]
    return ":".join(["did:web", host, *segments])


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who signs credentials: its DID, the current key, and every key a credential may name."""

    did: str
    public_url: str
    name: str
    key: Ed25519PrivateKey
    retired: tuple[Ed25519PublicKey, ...] = ()

    @property
    def verification_method(self) -> str:
        return self.method_id(self.key.public_key())

    def method_id(self, public_key: Ed25519PublicKey) -> str:
        return f"{self.did}#{proofs.multikey(public_key)}"

    def public_keys(self) -> tuple[Ed25519PublicKey, ...]:
        return (self.key.public_key(), *self.retired)

    def did_document(self) -> dict[str, Any]:
        """``/.well-known/did.json``: every key as a Multikey, the current one first, all for assertions."""
        methods = [
            {
                "id": self.method_id(key),
                "type": "Multikey",
                "controller": self.did,
                "publicKeyMultibase": proofs.multikey(key),
            }
            for key in self.public_keys()
        ]
        return {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": self.did,
            "verificationMethod": methods,
            "assertionMethod": [m["id"] for m in methods],
        }

    def resolve(self, method: str) -> Ed25519PublicKey:
        """A verification method of this issuer (LookupError for any other issuer's or an unknown key)."""
        for key in self.public_keys():
            if self.method_id(key) == method:
                return key
        raise LookupError(f"{method} is not a key of {self.did}")


def _public_key(path: Path) -> Ed25519PublicKey:
    data = path.read_bytes()
    loaded: Any
    try:
        loaded = serialization.load_pem_private_key(data, password=None).public_key()
    except (ValueError, TypeError):
        loaded = serialization.load_pem_public_key(data)
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 key")
    return loaded


def load_issuer(settings: Settings) -> Issuer:
    """The credential key (PEM, PKCS#8; generated under the data dir on first start) and retired keys."""

    def generate() -> bytes:
        return Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    path = settings.effective_credential_key_file
    key = serialization.load_pem_private_key(read_or_create_secret(path, generate), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    public_url = settings.effective_public_url
    return Issuer(
        did=did_web(public_url),
        public_url=public_url,
        name=urlsplit(public_url).hostname or public_url,
        key=key,
        retired=tuple(_public_key(Path(p)) for p in settings.credential_retired_key_files),
    )
