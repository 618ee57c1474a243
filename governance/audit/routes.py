"""Audit routes: read-only. Nobody writes the log through the API.

The verifier key and the latest checkpoint are public: an auditor pins the key through
a channel of their choosing and compares checkpoints over time, with or without a token.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_304_NOT_MODIFIED
from litestar.types import ControllerRouterHandler

from governance.audit import service
from governance.audit.schemas import AuditEntryView, AuditQuery, Verification
from governance.core import limits
from governance.core.errors import invalid_parameter
from governance.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page

# The checkpoint changes whenever the log grows: caches must ask again every time (a 304
# is cheap). The key changes only when the deployment rotates it: an hour is harmless.
CHECKPOINT_CACHING: Final = "public, no-cache"
PUBLIC_KEY_CACHING: Final = "public, max-age=3600"
EXPORT_MEDIA_TYPE: Final = "application/x-ndjson"


class AuditController(Controller):
    """The log: search, entries, verification, export; the checkpoint and key, public."""

    path = "/audit"
    tags = ("audit",)

    @get("/entries")
    async def search_entries(
        self,
        actor: Annotated[str | None, limits.query_id("Actor subject.")] = None,
        action: Annotated[str | None, limits.query_id("Action prefix: `access.` or `access.denied`.")] = None,
        resource_type: Annotated[str | None, limits.query_id("Resource type, e.g. `complaint`.")] = None,
        resource_id: Annotated[str | None, limits.query_id("Resource id.")] = None,
        since: Annotated[datetime | None, QueryParameter(description="ISO 8601 instant, inclusive.")] = None,
        until: Annotated[datetime | None, QueryParameter(description="ISO 8601 instant, exclusive.")] = None,
        order: Annotated[Literal["asc", "desc"], QueryParameter(description="Log order or newest first.")] = "asc",
        limit: LimitParam = DEFAULT_LIMIT,
        cursor: CursorParam = None,
    ) -> Page[AuditEntryView]:
        """Search the audit log by actor, action prefix, resource, and time window."""
        query = AuditQuery(
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            since=_utc("since", since),
            until=_utc("until", until),
            order=order,
            limit=limit,
            cursor=cursor,
        )
        return await service.search(query)

    @get("/entries/{seq:int}")
    async def get_entry(self, seq: Annotated[int, PathParameter(ge=0, le=2**63 - 1)]) -> AuditEntryView:
        """One audit entry by its sequence number."""
        entry = await service.get_entry(seq)
        if entry is None:
            raise NotFoundException(f"No audit entry with sequence number {seq}")
        return entry

    @get("/verify")
    async def verify(self, log_key: NamedDependency[service.LogKey]) -> Verification:
        """Recompute every leaf hash and the root at every signed checkpoint."""
        return await service.verify(log_key)

    @get("/export", media_type=EXPORT_MEDIA_TYPE)
    async def export(
        self,
        request: Request[Any, Any, Any],
        log_key: NamedDependency[service.LogKey],
        since_seq: Annotated[
            int,
            QueryParameter(
                ge=0,
                le=2**63 - 1,
                description="Leave out entries before this sequence number (the part you already hold): "
                "the export then opens with a `prefix` line that binds them to the checkpoint.",
            ),
        ] = 0,
    ) -> Stream:
        """The log as JSON lines under a checkpoint signed now, exactly as `governance audit
        export` writes it, streamed; verify it with `tools/verify_export.py`. Recorded in the
        log (`audit.export.downloaded`)."""
        return await export_response(request, log_key, since_seq)

    @get("/checkpoint", media_type="text/plain", exclude_from_auth=True)
    async def checkpoint(
        self, request: Request[Any, Any, Any], log_key: NamedDependency[service.LogKey]
    ) -> Response[str]:
        """The latest signed checkpoint (C2SP tlog-checkpoint signed note). Public, with an
        ``ETag``: ``If-None-Match`` answers 304 while no newer checkpoint is signed."""
        latest = await service.latest_checkpoint(log_key)
        if latest is None:
            raise NotFoundException("No checkpoint has been signed yet")
        return _public_text(request, latest.note, CHECKPOINT_CACHING)

    @get("/public-key", media_type="text/plain", exclude_from_auth=True)
    async def public_key(
        self, request: Request[Any, Any, Any], log_key: NamedDependency[service.LogKey]
    ) -> Response[str]:
        """The signed-note verifier key: ``<name>+<hex key id>+<base64(0x01 || Ed25519 key)>``.
        Public: it is meant to be published."""
        return _public_text(request, str(log_key.verifier_key) + "\n", PUBLIC_KEY_CACHING)


ROUTES: list[ControllerRouterHandler] = [AuditController]


async def export_response(request: Request[Any, Any, Any], log_key: service.LogKey, since_seq: int = 0) -> Stream:
    """The export under a checkpoint signed now, streamed as a download and recorded in the
    log (``audit.export.downloaded``); the API and the log page alike."""
    try:
        prepared = await service.prepare_export(log_key, since_seq)
    except ValueError as exc:
        raise invalid_parameter("since_seq", str(exc)) from None
    await service.record_event(
        actor=request.user,
        action="audit.export.downloaded",
        resource_type="audit_log",
        resource_id=log_key.origin,
        details={"since_seq": since_seq, "tree_size": prepared.tree_size, "root": prepared.root},
    )
    filename = f"audit-{since_seq}-{prepared.tree_size}.jsonl"
    return Stream(
        prepared.lines(),
        media_type=EXPORT_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _public_text(request: Request[Any, Any, Any], text: str, caching: str) -> Response[str]:
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": caching}
    if request.headers.get("if-none-match") == etag:
        return Response(content="", status_code=HTTP_304_NOT_MODIFIED, headers=headers, media_type="text/plain")
    return Response(content=text, headers=headers, media_type="text/plain")


def _utc(field: str, instant: datetime | None) -> datetime | None:
    """Instants must say their offset: a bare local time means different things to each database."""
    if instant is None:
        return None
    if instant.tzinfo is None:
        raise invalid_parameter(field, f"{field} needs a UTC offset, e.g. 2026-11-22T10:00:00Z")
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        raise invalid_parameter(field, f"{field} is out of range") from None
