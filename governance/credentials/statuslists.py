"""W3C Bitstring Status List v1.0: the bitstring, its encoding, and the signed list credential.

A list holds :data:`LIST_SIZE` bits (the specification's minimum, 16 KiB, for herd privacy);
bit ``i`` is the ``i % 8``-th bit from the left of byte ``i // 8``. ``encodedList`` is the
GZIP-compressed bitstring, base64url without padding, with the multibase prefix ``u``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
from collections.abc import Iterable
from typing import Any, Final, Literal

LIST_SIZE: Final = 131_072
PURPOSES: Final = ("revocation", "suspension")
Purpose = Literal["revocation", "suspension"]


def encode(indices: Iterable[int], size: int = LIST_SIZE) -> str:
    bits = bytearray(size // 8)
    for index in indices:
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same bits always give the same bytes (and the same signed list).
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode(encoded: str) -> bytes:
    """The bitstring of an ``encodedList`` (ValueError when it is not multibase base64url GZIP)."""
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (prefix 'u')")
    body = encoded[1:]
    try:
        compressed = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        return gzip.decompress(compressed)
    except (ValueError, OSError, EOFError, binascii.Error) as exc:
        raise ValueError(f"encodedList is not GZIP base64url: {exc}") from None


def bit(bits: bytes, index: int) -> int:
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"index {index} is outside the list of {len(bits) * 8} entries")
    return (bits[index // 8] >> (7 - index % 8)) & 1


def list_document(
    *, url: str, issuer: str, purpose: Purpose, encoded: str, valid_from: str, ttl_ms: int
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential``."""
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded,
            "ttl": ttl_ms,
        },
    }


def entry(list_url: str, purpose: Purpose, index: int) -> dict[str, Any]:
    """A credential's ``BitstringStatusListEntry`` for ``purpose``."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
