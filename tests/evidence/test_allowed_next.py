"""A bundle's ``allowed_next`` offers only what a client may ask for, and it is accepted:
every state, exhaustively (the worker's moves are the worker's, never offered)."""

from __future__ import annotations

import uuid

import httpx

from governance.evidence import states
from governance.evidence.tables import EvidenceBundle

from ..conftest import AuthHeaders
from .conftest import Bundles


async def test_a_bundles_allowed_next_tells_the_truth(
    bundles: Bundles, client: httpx.AsyncClient, auth: AuthHeaders
) -> None:
    for state in states.MOVES:
        bundle = await bundles.queued(sections=["audit"])
        # Where a worker (or its death) would have left it: the workers' moves are not the client's.
        await EvidenceBundle.update({EvidenceBundle.state: state}).where(EvidenceBundle.id == uuid.UUID(bundle["id"]))
        allowed = (await bundles.get(bundle["id"], "compliance_officer"))["allowed_next"]
        assert allowed == (["queued"] if state == "failed" else []), state
        retry = await client.post(f"/api/v1/evidence/bundles/{bundle['id']}/retry", headers=auth("compliance_officer"))
        assert retry.status_code == (202 if "queued" in allowed else 409), (state, retry.text)
