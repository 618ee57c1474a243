"""Verifying a credential as anyone can: each check with its result, nothing personal revealed.

The checks: the document is an OpenBadgeCredential in the contexts we hold; the issuer is
this deployment's did:web (other issuers cannot be resolved without a network); the
``eddsa-rdfc-2022`` proof matches under one of the issuer's keys (retired keys included);
the validity period covers now; neither the revocation nor the suspension bit is set in the
lists we serve; and whether the mentor was approved on the session date.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import msgspec

from governance.complaints import attestations
from governance.core.edge import check_json_body
from governance.core.errors import Problem
from governance.credentials import jsonld, proofs, service, statuslists
from governance.credentials.keys import Issuer
from governance.credentials.tables import IssuedRow
from governance.vetting import reporting as vetting_reporting

Outcome = Literal["passed", "failed", "not_checked"]
CHECKS: Final = ("format", "issuer", "proof", "validity", "revocation", "suspension", "mentor_vetted")
_URN: Final = re.compile(r"^urn:uuid:([0-9a-fA-F-]{36})$")


class Check(msgspec.Struct, frozen=True):
    name: str
    outcome: Outcome
    detail: str


class Verification(msgspec.Struct, frozen=True):
    """``verified``: authentic, in force and neither revoked nor suspended; the mentor check is told apart."""

    verified: bool
    checks: list[Check]


@dataclass(slots=True)
class _Found:
    checks: list[Check]

    def add(self, name: str, outcome: Outcome, detail: str) -> None:
        self.checks.append(Check(name, outcome, detail))


def parse(text: str | bytes) -> dict[str, Any]:
    """A pasted or uploaded credential as a JSON object: 422 otherwise, and for what the API's
    edge refuses in a body (nesting too deep, a key given twice, a NUL character)."""
    body = text.encode() if isinstance(text, str) else text
    try:
        check_json_body(body)
    except Problem as refused:
        raise Problem(422, "invalid-credential", refused.detail.replace("The request body", "The credential")) from None
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise Problem(422, "invalid-credential", f"The credential is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Problem(422, "invalid-credential", "The credential must be a JSON object")
    return checked(value)


def checked(credential: dict[str, Any]) -> dict[str, Any]:
    """The credential, unless a string in it holds a NUL character (422): nothing signs one."""
    if b"\\u0000" in msgspec.json.encode(credential):
        raise Problem(422, "invalid-credential", "The credential holds a NUL character")
    return credential


async def verify(issuer: Issuer, credential: dict[str, Any], now: datetime) -> Verification:
    found = _Found([])
    types = credential.get("type")
    contexts = credential.get("@context")
    well_formed = (
        isinstance(types, list)
        and "VerifiableCredential" in types
        and "OpenBadgeCredential" in types
        and isinstance(contexts, list)
        and contexts[:2] == [jsonld.VC_V2, jsonld.OB_V3]
        and all(c in jsonld.known_contexts() for c in contexts)
    )
    found.add(
        "format",
        "passed" if well_formed else "failed",
        "an Open Badges 3.0 credential on VC 2.0"
        if well_formed
        else "not an OpenBadgeCredential with the VC 2.0 and Open Badges 3.0 contexts",
    )
    issuer_field = credential.get("issuer")
    issuer_id = issuer_field.get("id") if isinstance(issuer_field, dict) else issuer_field
    ours = issuer_id == issuer.did
    found.add(
        "issuer",
        "passed" if ours else "failed",
        f"issued by {issuer.did}" if ours else "not issued by this service (only its own DID is resolved here)",
    )
    proof = proofs.verify(credential, issuer.resolve) if ours else None
    if proof is None:
        found.add("proof", "not_checked", "the issuer could not be resolved")
    else:
        found.add("proof", "passed" if proof.ok else "failed", proof.reason)
    found.add(*_validity(credential, now))
    row = await _issued(credential) if ours else None
    for purpose in statuslists.PURPOSES:
        found.add(*await _status(issuer, credential, purpose, row))
    found.add(*await _vetted(row))
    verified = all(c.outcome == "passed" for c in found.checks if c.name != "mentor_vetted")
    return Verification(verified=verified, checks=found.checks)


def _validity(credential: dict[str, Any], now: datetime) -> tuple[str, Outcome, str]:
    try:
        start = datetime.fromisoformat(str(credential["validFrom"]).replace("Z", "+00:00"))
        end_text = credential.get("validUntil")
        end = datetime.fromisoformat(str(end_text).replace("Z", "+00:00")) if end_text else None
    except (KeyError, ValueError):
        return "validity", "failed", "validFrom is missing or not a date and time"
    if start.tzinfo is None or start > now:
        return "validity", "failed", "not valid yet"
    if end is not None and (end.tzinfo is None or end <= now):
        return "validity", "failed", "expired"
    return "validity", "passed", f"valid since {start.date().isoformat()}"


async def _issued(credential: dict[str, Any]) -> IssuedRow | None:
    match = _URN.match(str(credential.get("id", "")))
    return await service.issued(uuid.UUID(match.group(1))) if match else None


async def _status(
    issuer: Issuer, credential: dict[str, Any], purpose: statuslists.Purpose, row: IssuedRow | None
) -> tuple[str, Outcome, str]:
    entries = credential.get("credentialStatus")
    listed = entries if isinstance(entries, list) else [entries]
    mine = [e for e in listed if isinstance(e, dict) and e.get("statusPurpose") == purpose]
    if len(mine) != 1:
        return purpose, "failed", f"the credential has no single {purpose} entry"
    entry = mine[0]
    if row is None:
        return purpose, "not_checked", "this service did not issue the credential, so it holds no list for it"
    number = row.status_index // statuslists.LIST_SIZE
    expected = statuslists.entry(
        service.status_list_url(issuer, purpose, number), purpose, row.status_index % statuslists.LIST_SIZE
    )
    if {k: entry.get(k) for k in expected} != expected:
        return purpose, "failed", "the status entry does not point where this service lists the credential"
    # The flag the served list is built from (service.set_indices), read for this one credential.
    if row.revoked if purpose == "revocation" else row.suspended:
        word = "revoked" if purpose == "revocation" else "suspended"
        return (
            purpose,
            "failed",
            f"{word}: the bit at {entry['statusListIndex']} is set in {entry['statusListCredential']}",
        )
    return purpose, "passed", f"the bit at {entry['statusListIndex']} is 0 in {entry['statusListCredential']}"


async def _vetted(row: IssuedRow | None) -> tuple[str, Outcome, str]:
    if row is None:
        return "mentor_vetted", "not_checked", "unknown credential"
    view = await attestations.get(row.attestation_id)
    approved = await vetting_reporting.approved_on(view.mentor_id, view.session_date)
    if approved is None:
        return "mentor_vetted", "not_checked", "the mentor is not registered in vetting"
    if approved:
        return "mentor_vetted", "passed", f"the mentor was approved on {view.session_date.isoformat()}"
    return "mentor_vetted", "failed", f"the mentor was not approved on {view.session_date.isoformat()}"
