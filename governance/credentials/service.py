"""Issuing attestations as OpenBadgeCredentials and driving their status bits.

:func:`attestation_changed` runs inside the attestation's own transaction (the complaints
hook): a recorded attestation gets a credential and a place in the status lists; an open
dispute suspends it, an upheld one unsuspends it, revocation sets its revocation bit for
good, and an amendment revokes it and issues a new credential that names the one it
replaces. Each of those writes its audit entry in that same transaction.

The signed document is built when asked for (:func:`credential`), from the attestation and
the issuance row; Ed25519 signatures are deterministic, so it reads the same every time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from datetime import UTC, date, datetime, time
from typing import Any, Final

import msgspec

from governance.audit import service as audit
from governance.complaints import attestations
from governance.complaints.attestation_templates import Template, Templates
from governance.complaints.attestations import AttestationEvent
from governance.complaints.schemas import AttestationView
from governance.core import db
from governance.core.errors import Problem, not_found
from governance.core.identity import Identity
from governance.core.rows import Row, typed, typed_all
from governance.credentials import jsonld, proofs, statuslists
from governance.credentials.keys import Issuer
from governance.credentials.statuslists import Purpose
from governance.credentials.tables import CredentialStatusChange, IssuedCredential, IssuedRow

RESOURCE: Final = "credential"
STATUS_PATH: Final = "/credentials/status"


def status_list_url(issuer: Issuer, purpose: Purpose, number: int) -> str:
    return f"{issuer.public_url}{STATUS_PATH}/{purpose}/{number}"


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# Inside the attestation's transaction --------------------------------------------------------


async def attestation_changed(event: AttestationEvent) -> None:
    """The complaints hook: issue, suspend, unsuspend, revoke or replace the credential."""
    if event.before is None:
        await _issue(event.attestation_id, event.version_after, None, event.actor, event.at)
        return
    current = await _current(event.attestation_id)
    if current is None:  # recorded before credentials existed: nothing to flip
        return
    if event.after == "revoked":
        await _set_bit(current, "revocation", True, event.actor, event.at)
    elif event.version_after != event.version_before:
        await _set_bit(current, "revocation", True, event.actor, event.at)
        await _issue(event.attestation_id, event.version_after, current.id, event.actor, event.at)
    elif event.after == "disputed":
        await _set_bit(current, "suspension", True, event.actor, event.at)
    else:  # the dispute ended and the attestation stands
        await _set_bit(current, "suspension", False, event.actor, event.at)


class _Last(Row):
    status_index: int


async def _issue(
    attestation_id: uuid.UUID, version: int, replaces: uuid.UUID | None, actor: Identity, at: datetime
) -> None:
    # The next status index is read then taken: concurrent issuers take turns, or two would
    # read the same last index.
    await db.take_turns("credential_status_index")
    last = (
        await IssuedCredential.select(IssuedCredential.status_index)
        .order_by(IssuedCredential.status_index, ascending=False)
        .first()
    )
    index = typed(last, _Last).status_index + 1 if last is not None else 0
    credential_id = uuid.uuid4()
    await IssuedCredential.insert(
        IssuedCredential(
            id=credential_id,
            attestation_id=attestation_id,
            attestation_version=version,
            status_index=index,
            salt=secrets.token_hex(16),
            issued_at=at,
            replaces=replaces,
            revoked=False,
            suspended=False,
        )
    )
    await audit.record_change(
        actor=actor,
        action="credential.issued",
        resource_type=RESOURCE,
        resource_id=str(credential_id),
        details={
            "attestation_id": str(attestation_id),
            "attestation_version": version,
            "status_index": index,
            "replaces": str(replaces) if replaces else None,
        },
    )


async def _set_bit(row: IssuedRow, purpose: Purpose, value: bool, actor: Identity, at: datetime) -> None:
    if row.revoked and purpose == "revocation":
        return  # revoked for good: nothing to change, nothing to record
    if purpose == "suspension" and row.suspended == value:
        return
    column = IssuedCredential.revoked if purpose == "revocation" else IssuedCredential.suspended
    await IssuedCredential.update({column: value}).where(IssuedCredential.id == row.id)
    await CredentialStatusChange.insert(
        CredentialStatusChange(id=uuid.uuid4(), status_index=row.status_index, purpose=purpose, value=value, at=at)
    )
    await audit.record_change(
        actor=actor,
        action="credential.status_changed",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        details={"purpose": purpose, "value": int(value), "status_index": row.status_index},
    )


async def _current(attestation_id: uuid.UUID) -> IssuedRow | None:
    found = (
        await IssuedCredential.select()
        .where(IssuedCredential.attestation_id == attestation_id)
        .order_by(IssuedCredential.attestation_version, ascending=False)
        .first()
    )
    return typed(found, IssuedRow) if found is not None else None


# Reading -------------------------------------------------------------------------------------


async def credential(issuer: Issuer, attestation_id: uuid.UUID, templates: Templates | None = None) -> dict[str, Any]:
    """The signed credential of the attestation's current version (404 when it has none)."""
    row = await _current(attestation_id)
    if row is None:
        raise not_found("credential", attestation_id)
    view = await attestations.get(attestation_id)
    template = templates.find(view.competency, view.rubric_version) if templates is not None else None
    unsigned = document(issuer, view, row, template)
    if row.replaces is not None:
        replaced = await issued(row.replaces)
        if replaced is not None:
            # VC 2.0 asks a related resource for its digest: the credential it supersedes,
            # rebuilt as it was issued (its version's score; signing is deterministic).
            earlier = msgspec.structs.replace(view, score=_score_at(view, replaced.attestation_version))
            unsigned["relatedResource"][0]["digestMultibase"] = digest_multibase(
                sign(issuer, document(issuer, earlier, replaced, template))
            )
    return sign(issuer, unsigned)


def _score_at(view: AttestationView, version: int) -> int:
    """The score the attestation had at ``version`` (its status history keeps each version's)."""
    scores = [change.score for change in view.history if change.version == version]
    return scores[-1] if scores else view.score


def digest_multibase(credential: dict[str, Any]) -> str:
    """``digestMultibase`` of a credential (VC 2.0 related resources, Data Integrity's multihash):
    SHA-256 over its JSON with sorted keys and no whitespace, as a multihash, base64url
    without padding behind the ``u`` multibase prefix. Sorted keys make it the same for a
    holder whose copy was re-indented or re-ordered."""
    canonical = json.dumps(credential, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    multihash = bytes((0x12, 0x20)) + hashlib.sha256(canonical).digest()
    return "u" + base64.urlsafe_b64encode(multihash).rstrip(b"=").decode()


async def issued(credential_id: uuid.UUID) -> IssuedRow | None:
    found = await IssuedCredential.select().where(IssuedCredential.id == credential_id).first()
    return typed(found, IssuedRow) if found is not None else None


def identity_hash(candidate_id: str, salt: str) -> str:
    """OB 3.0 ``identityHash``: ``sha256$`` and the hex SHA-256 of the identifier followed by the salt."""
    return "sha256$" + hashlib.sha256((candidate_id + salt).encode()).hexdigest()


def _midnight(day: date) -> str:
    return _instant(datetime.combine(day, time(), tzinfo=UTC))


def document(issuer: Issuer, view: AttestationView, row: IssuedRow, template: Template | None = None) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential of one attestation version (from its template when there is one)."""
    achievement_id = f"{issuer.public_url}/achievements/{view.competency}/{view.rubric_version}"
    score_id = f"{achievement_id}#score"
    number = row.status_index // statuslists.LIST_SIZE
    doc: dict[str, Any] = {
        "@context": [jsonld.VC_V2, jsonld.OB_V3],
        "id": f"urn:uuid:{row.id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer.did, "type": ["Profile"], "name": issuer.name, "url": issuer.public_url},
        "validFrom": _midnight(view.session_date),
        "name": f"{view.competency} readiness attestation",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": identity_hash(view.candidate_id, row.salt),
                    "identityType": "identifier",
                    "hashed": True,
                    "salt": row.salt,
                }
            ],
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "name": view.competency,
                "description": f"Readiness in {view.competency}, assessed by a vetted mentor in a recorded session.",
                "criteria": {
                    "narrative": (
                        f"A mentor scored the candidate's readiness in {view.competency} against rubric "
                        f"version {view.rubric_version} at the end of a mentoring session."
                    )
                },
                "resultDescription": [
                    {
                        "id": score_id,
                        "type": ["ResultDescription"],
                        "name": "Readiness score",
                        "resultType": "RubricScore",
                    }
                ],
            },
            "result": [{"type": ["Result"], "resultDescription": score_id, "value": str(view.score)}],
        },
        "credentialStatus": [
            statuslists.entry(
                status_list_url(issuer, purpose, number), purpose, row.status_index % statuslists.LIST_SIZE
            )
            for purpose in statuslists.PURPOSES
        ],
    }
    if template is not None:
        _from_template(doc["credentialSubject"], template, view.score, score_id)
    if row.replaces is not None:
        # VC 2.0's relatedResource: this credential supersedes the one it names.
        doc["relatedResource"] = [{"id": f"urn:uuid:{row.replaces}"}]
    return doc


def _from_template(subject: dict[str, Any], template: Template, score: int, score_id: str) -> None:
    """The template's achievement and scale; the result's level (none when the score is off the scale)."""
    achievement = subject["achievement"]
    achievement["name"] = template.name
    achievement["description"] = template.description
    achievement["criteria"] = {"narrative": template.criteria}
    achievement["resultDescription"][0] |= {
        "valueMin": str(template.minimum),
        "valueMax": str(template.maximum),
        "rubricCriterionLevel": [
            {
                "id": f"{score_id}-{level.id}",
                "type": ["RubricCriterionLevel"],
                "name": level.name,
                "description": level.description,
                "points": str(level.start),
            }
            for level in template.level
        ],
    }
    level = template.level_of(score)
    if level is not None:
        subject["result"][0]["achievedLevel"] = f"{score_id}-{level.id}"


def sign(issuer: Issuer, unsigned: dict[str, Any], created: datetime | None = None) -> dict[str, Any]:
    when = created or datetime.fromisoformat(unsigned["validFrom"].replace("Z", "+00:00"))
    return proofs.sign(unsigned, issuer.key, verification_method=issuer.verification_method, created=_instant(when))


class _Bit(Row):
    status_index: int


class _Change(Row):
    status_index: int
    value: bool
    at: datetime


async def set_indices(purpose: Purpose, number: int, at: datetime | None = None) -> tuple[list[int], datetime | None]:
    """The set bits of list ``number`` (now, or as they stood at ``at``) and when the last one moved.

    Now: the issuance rows' flags (kept with each change). At a past time: the changes up
    to then, folded in order.
    """
    low, high = number * statuslists.LIST_SIZE, (number + 1) * statuslists.LIST_SIZE
    in_list = (CredentialStatusChange.purpose == purpose) & (CredentialStatusChange.status_index >= low)
    in_list &= CredentialStatusChange.status_index < high
    if at is None:
        flag = IssuedCredential.revoked if purpose == "revocation" else IssuedCredential.suspended
        current = await IssuedCredential.select(IssuedCredential.status_index).where(
            flag.eq(True) & (IssuedCredential.status_index >= low) & (IssuedCredential.status_index < high)
        )
        latest = (
            await CredentialStatusChange.select(CredentialStatusChange.at)
            .where(in_list)
            .order_by(CredentialStatusChange.at, ascending=False)
            .first()
        )
        last = typed(latest, _When).at if latest is not None else None
        return sorted(row.status_index for row in typed_all(current, _Bit)), last
    changes = typed_all(
        await CredentialStatusChange.select(
            CredentialStatusChange.status_index, CredentialStatusChange.value, CredentialStatusChange.at
        )
        .where(in_list & (CredentialStatusChange.at <= at))
        .order_by(CredentialStatusChange.at),
        _Change,
    )
    bits: dict[int, bool] = {}
    for change in changes:
        bits[change.status_index] = change.value
    return sorted(i for i, v in bits.items() if v), changes[-1].at if changes else None


class _When(Row):
    at: datetime


async def status_list(
    issuer: Issuer, purpose: Purpose, number: int, ttl_seconds: int, at: datetime | None = None
) -> dict[str, Any]:
    """The signed ``BitstringStatusListCredential`` of list ``number``, now or at ``at``."""
    if number < 0:
        raise Problem(404, "not-found", "There is no such status list")
    indices, last = await set_indices(purpose, number, at)
    # Dated by its last change (or the time asked for): the same bits give the same document.
    valid_from = at or last or datetime(2026, 1, 1, tzinfo=UTC)
    url = status_list_url(issuer, purpose, number)
    unsigned = statuslists.list_document(
        url=url,
        issuer=issuer.did,
        purpose=purpose,
        encoded=statuslists.encode(i - number * statuslists.LIST_SIZE for i in indices),
        valid_from=_instant(valid_from),
        ttl_ms=ttl_seconds * 1000,
    )
    return sign(issuer, unsigned, valid_from)
