"""Audit routes: read-only. Nobody writes the log through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter

from governance.audit import service
from governance.audit.schemas import AuditEntryView, AuditQuery, Verification
from governance.core import limits
from governance.core.errors import invalid_parameter
from governance.core.pagination import DEFAULT_LIMIT, CursorParam, LimitParam, Page


class AuditController(Controller):
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
    async def verify(self, request: Request[Any, Any, Any]) -> Verification:
        """Recompute every leaf hash and the root at every signed checkpoint."""
        return await service.verify(request.app.state.log_key)

    @get("/checkpoint", media_type="text/plain")
    async def checkpoint(self, request: Request[Any, Any, Any]) -> str:
        """The latest signed checkpoint (C2SP tlog-checkpoint signed note)."""
        latest = await service.latest_checkpoint(request.app.state.log_key)
        if latest is None:
            raise NotFoundException("No checkpoint has been signed yet")
        return str(latest["note"])

    @get("/public-key", media_type="text/plain")
    async def public_key(self, request: Request[Any, Any, Any]) -> str:
        """The signed-note verifier key: ``<name>+<hex key id>+<base64(0x01 || Ed25519 key)>``."""
        return str(request.app.state.log_key.verifier_key) + "\n"


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
