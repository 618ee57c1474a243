"""Credential routes: the signed credential of an attestation, the issuer's DID document,
the status lists, and public verification.

All but the first are public (``exclude_from_auth``): employers and wallets reach them with
no account. Verification is counted per client address (LIMITED_PER_CLIENT).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.complaints import attestations
from governance.complaints.attestation_templates import Templates
from governance.core import limits
from governance.core.errors import Problem
from governance.core.identity import Identity
from governance.core.ratelimits import LIMITED_PER_CLIENT
from governance.credentials import service, verification
from governance.credentials.keys import Issuer
from governance.credentials.verification import Verification
from governance.settings import Settings

VC_MEDIA_TYPE = "application/vc+ld+json"


async def credential_holder(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The candidate the attestation names (the policy lets only them and the platform read it)."""
    found = await attestations.parties(connection.path_params["attestation_id"])
    return None if found is None else found[1]


@get(
    "/attestations/{attestation_id:uuid}/credential",
    opt={"owner_of": credential_holder},
    tags=["credentials"],
    media_type=VC_MEDIA_TYPE,
)
async def attestation_credential(
    request: Request[Identity, Any, Any],
    attestation_id: FromPath[uuid.UUID],
    issuer: NamedDependency[Issuer],
    attestation_templates: NamedDependency[Templates],
) -> dict[str, Any]:
    """The attestation as a signed Open Badges 3.0 credential (its current version)."""
    signed = await service.credential(issuer, attestation_id, attestation_templates)
    await audit.record_read(request.user, "credential.read", "attestation", str(attestation_id))
    return signed


@post(
    "/credentials/verify",
    exclude_from_auth=True,
    opt={LIMITED_PER_CLIENT: True},
    tags=["public"],
    status_code=200,
    request_max_body_size=limits.MAX_FREE_FORM_BODY,
)
async def verify_credential(
    data: JSONBody[dict[str, Any]], issuer: NamedDependency[Issuer], now: NamedDependency[datetime]
) -> Verification:
    """Verify a credential (the JSON document as the body): proof, issuer, validity, both status
    lists, and whether the mentor was approved on the session date. Each check with its result;
    nothing personal is returned."""
    return await verification.verify(issuer, verification.checked(data), now)


@get("/.well-known/did.json", exclude_from_auth=True, tags=["public"], media_type="application/did+json")
async def did_document(issuer: NamedDependency[Issuer]) -> Response[dict[str, Any]]:
    """The issuer's DID document (did:web): every key credentials may name, retired ones included."""
    return Response(issuer.did_document(), headers={"Cache-Control": "public, max-age=300"})


@get(
    service.STATUS_PATH + "/{purpose:str}/{number:int}",
    exclude_from_auth=True,
    tags=["public"],
    media_type=VC_MEDIA_TYPE,
)
async def status_list(
    purpose: FromPath[str],
    number: FromPath[int],
    issuer: NamedDependency[Issuer],
    settings: NamedDependency[Settings],
    at: Annotated[
        datetime | None, QueryParameter(description="The list as it stood at this time (RFC 3339); now when omitted.")
    ] = None,
) -> Response[dict[str, Any]]:
    """A signed Bitstring Status List credential (``revocation`` or ``suspension``), now or at a past time."""
    if purpose not in ("revocation", "suspension"):
        raise Problem(404, "not-found", "There is no such status list")
    chosen: Literal["revocation", "suspension"] = "revocation" if purpose == "revocation" else "suspension"
    if at is not None and at.tzinfo is None:
        raise Problem(422, "invalid-time", "at must name its time zone (e.g. 2026-12-01T08:00:00Z)")
    ttl = int(settings.credential_status_ttl.total_seconds())
    document = await service.status_list(issuer, chosen, number, ttl, at)
    # A past list never changes: cache it for long; the current one for its ttl.
    max_age = 86_400 if at is not None else ttl
    return Response(document, headers={"Cache-Control": f"public, max-age={max_age}"})


ROUTES: list[ControllerRouterHandler] = [attestation_credential]
PUBLIC_API_ROUTES: list[ControllerRouterHandler] = [verify_credential]
PUBLIC_ROUTES: list[ControllerRouterHandler] = [did_document, status_list]
