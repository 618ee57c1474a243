"""Evidence bundle routes: thin. Parse, let the guard authorize, call the service."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect, Stream
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_303_SEE_OTHER
from litestar.types import ControllerRouterHandler

from governance.core import idempotency
from governance.core.pagination import DEFAULT_LIMIT, Page
from governance.core.pagination import CursorParam as Cursor
from governance.core.pagination import LimitParam as Limit
from governance.evidence import readiness, service
from governance.evidence.schemas import BundleRequest, BundleState, BundleView


class BundleController(Controller):
    """Evidence bundles for accreditors: one PDF and a manifest of hashes per period."""

    path = "/evidence/bundles"
    tags = ("evidence",)

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        responses={HTTP_202_ACCEPTED: ResponseSpec(data_container=BundleView, description="Queued.")},
    )
    async def request_bundle(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        evidence: NamedDependency[service.Evidence],
        data: JSONBody[BundleRequest],
    ) -> Response[bytes]:
        """Ask for a bundle of the period (both days inclusive, UTC). Answers 202 with the bundle,
        ``queued``; follow it at ``/evidence/bundles/{id}`` until ``ready`` or ``failed``.
        An ``Idempotency-Key`` makes a retried request return the first bundle, not a second one."""

        async def work() -> tuple[int, BundleView]:
            return HTTP_202_ACCEPTED, await service.request(data, request.user, now)

        outcome = await idempotency.accept(
            header=request.headers.get(idempotency.HEADER),
            scope="evidence.bundles.request",
            actor=request.user.sub,
            payload=data,
            work=work,
        )
        evidence.wakeup.set()
        return idempotency.to_response(outcome)

    @get("/")
    async def list_bundles(
        self,
        in_state: Annotated[BundleState | None, QueryParameter(name="state", description="Only this state.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[BundleView]:
        """Bundles, newest request first."""
        return await service.listing(in_state, limit, cursor)

    @get("/{bundle_id:uuid}")
    async def get_bundle(self, bundle_id: FromPath[UUID]) -> BundleView:
        """A bundle: its state, progress, failure reason, and once ready its SHA-256s."""
        return await service.get(bundle_id)

    @post("/{bundle_id:uuid}/retry", status_code=HTTP_202_ACCEPTED)
    async def retry_bundle(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        evidence: NamedDependency[service.Evidence],
        bundle_id: FromPath[UUID],
    ) -> BundleView:
        """Queue a failed bundle again (409 for any other state). Audited."""
        bundle = await service.retry(bundle_id, request.user, now)
        evidence.wakeup.set()
        return bundle

    @get("/{bundle_id:uuid}/download")
    async def download(
        self,
        request: Request[Any, Any, Any],
        evidence: NamedDependency[service.Evidence],
        bundle_id: FromPath[UUID],
        file: Annotated[
            service.FileName, QueryParameter(description="`pdf` (default) or `manifest` (manifest.json).")
        ] = "pdf",
    ) -> Response[Any]:
        """The PDF (or ``?file=manifest``) of a ready bundle: a 303 to a short-lived presigned URL
        when bundles are in S3, else the file streamed with its SHA-256 in ``Repr-Digest``.
        Every download is audited."""
        found = await service.download(evidence, bundle_id, file, request.user)
        return download_response(evidence, found)

    @get("/{bundle_id:uuid}/proof", media_type="text/plain")
    async def ready_proof(
        self, request: Request[Any, Any, Any], evidence: NamedDependency[service.Evidence], bundle_id: FromPath[UUID]
    ) -> Response[str]:
        """The proof of the bundle's ready entry, as a `c2sp.org/tlog-proof@v1` file.

        The ``evidence.bundle.ready`` entry records the SHA-256 of the PDF and of the manifest,
        and the seal's number; the file carries it in its extra line, verifiable offline with
        the log's verifier key (`governance evidence verify-manifest ... --ready-proof`). 409
        until the bundle is ready."""
        return proof_response(bundle_id, await service.ready_proof(evidence, bundle_id, request.user))


def proof_response(bundle_id: UUID, text: str) -> Response[str]:
    """A ready bundle's proof as a ``.tlog-proof`` download (the API and the pages alike)."""
    disposition = f'attachment; filename="evidence-{bundle_id}-ready.tlog-proof"'
    return Response(
        content=text,
        media_type="text/plain",
        headers={"Content-Disposition": disposition, "Cache-Control": "private, no-store"},
    )


def download_response(evidence: service.Evidence, found: service.Download) -> Response[Any]:
    """The answer to a download the service allowed (and audited): a 303 to the presigned URL,
    or the file streamed with its SHA-256 in ``Repr-Digest`` (the API and the pages alike)."""
    digest = base64.b64encode(bytes.fromhex(found.sha256)).decode()
    headers = {"Repr-Digest": f"sha-256=:{digest}:", "Cache-Control": "private, no-store"}
    if found.url is not None:
        return Redirect(found.url, status_code=HTTP_303_SEE_OTHER, headers=headers)
    if found.size is not None:
        headers["Content-Length"] = str(found.size)
    return Stream(
        evidence.store.stream(found.key),
        media_type=found.media_type,
        headers={
            **headers,
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@get("/evidence/readiness", tags=["evidence"])
async def readiness_now(now: NamedDependency[datetime]) -> readiness.Readiness:
    """Accreditation readiness at a glance, as the compliance dashboard shows it: mentors by
    vetting status, checks expiring within 1, 7 and 30 days, decisions awaiting a second
    officer, this month's complaint handling and SLA figures, and data requests due."""
    return await readiness.readiness(now)


ROUTES: list[ControllerRouterHandler] = [BundleController, readiness_now]
