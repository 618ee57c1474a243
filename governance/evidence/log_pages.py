"""The audit log's pages: search, one entry, and the log panel (checkpoint, witnesses,
public key, export, verify button).

They live in ``evidence`` rather than ``audit`` because the log sits below the web shell
in the layers; they call the audit service as ``/api/v1/audit`` does, nothing more.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import PathParameter
from litestar.response import Stream
from litestar.types import ControllerRouterHandler

from governance.audit import note
from governance.audit import service as audit
from governance.audit import witnesses as cosigning
from governance.audit.routes import export_response
from governance.audit.schemas import AuditQuery
from governance.audit.witnesses import Witnesses
from governance.core import limits
from governance.core.shapes import Input
from governance.evidence.presenting import PAGE_SIZE, read_query, show
from governance.web.i18n import N_
from governance.web.rendering import is_fragment_request


class AuditFilter(Input):
    """The audit search form: every filter given must match; days are UTC, ``until`` inclusive."""

    actor: Annotated[str, limits.identifier()] | None = None
    action: Annotated[str, limits.identifier(120)] | None = None
    resource_type: Annotated[str, limits.identifier(80)] | None = None
    resource_id: Annotated[str, limits.identifier()] | None = None
    since: date | None = None
    until: date | None = None
    cursor: Annotated[str, limits.identifier(limits.MAX_CURSOR)] | None = None


def audit_query(data: AuditFilter | None) -> AuditQuery:
    """The form's filters as the service's query, newest first; days as UTC instants."""
    if data is None:
        return AuditQuery(order="desc", limit=PAGE_SIZE)
    since = datetime.combine(data.since, time(), tzinfo=UTC) if data.since else None
    until = datetime.combine(data.until, time(), tzinfo=UTC) + timedelta(days=1) if data.until else None
    return AuditQuery(
        actor=data.actor,
        action=data.action,
        resource_type=data.resource_type,
        resource_id=data.resource_id,
        since=since,
        until=until,
        order="desc",
        limit=PAGE_SIZE,
        cursor=data.cursor,
    )


@get("/audit", opt={"navigation": N_("Audit log")})
async def audit_search(request: Request[Any, Any, Any]) -> Response[Any]:
    """Search the log by actor, action prefix, resource and days, newest first (the API's
    ``/audit/entries``)."""
    form = read_query(request, AuditFilter)
    page = None
    if form.valid:
        try:
            page = await audit.search(audit_query(form.data))
        except HTTPException as problem:
            form = form.refused(problem)
    next_link = None
    if page is not None and page.next_cursor:
        kept = [(name, value) for name, value in form.values.items() if name != "cursor" and value]
        next_link = "/audit?" + urlencode([*kept, ("cursor", page.next_cursor)])
    context = {"form": form, "entries": page.items if page else [], "next_link": next_link}
    # The page shows the form as its query says and the entries found, nothing of who asks:
    # the query and the entries (as JSON) are its key (see render's ``shared``).
    shared = None
    if page is not None:
        tag = (request.scope["query_string"], msgspec.json.encode(page.items), next_link)
        shared = (("title", "content"), tag, ())
    return show(request, "evidence/audit_search.html", context, status_code=200 if page else 422, shared=shared)


@get("/audit/entries/{seq:int}")
async def audit_entry(
    request: Request[Any, Any, Any], seq: Annotated[int, PathParameter(ge=0, le=2**63 - 1)]
) -> Response[Any]:
    """One entry as stored: who, what, on what, the outcome, its details and leaf hash."""
    entry = await audit.get_entry(seq)
    if entry is None:
        raise NotFoundException(f"No audit entry with sequence number {seq}")
    details = msgspec.json.format(msgspec.json.encode(entry.details), indent=2).decode()
    # The entry is all the page shows, and a numbered entry never changes: the entry (as JSON)
    # is the page's key (see render's ``shared``).
    shared = (("title", "content"), msgspec.json.encode(entry), ())
    return show(request, "evidence/audit_entry.html", {"entry": entry, "details": details}, shared=shared)


async def log_context(log_key: audit.LogKey, witnesses: Witnesses) -> dict[str, Any]:
    """The latest checkpoint with the cosignatures of the configured witnesses attached (as
    ``/tlog/checkpoint`` serves it), who signed it besides the log, whether a quorum did, what
    this instance knows of each witness, and the verifier key."""
    latest = await audit.latest_checkpoint(log_key)
    shown = await cosigning.attached(latest, witnesses) if latest else None
    ours = (log_key.origin, log_key.signer.key_id)
    signers = [
        {"name": name, "key_id": f"{key_id:08x}"}
        for name, key_id in (note.signers(shown) if shown else [])
        if (name, key_id) != ours
    ]
    return {
        "checkpoint": latest,
        "note": shown,
        "root_hex": latest.root_hash.hex() if latest else None,
        "witnesses": signers,
        "configured": [{"name": status.name, "state": status.describe()} for status in witnesses.statuses],
        "quorum": witnesses.quorum,
        "witnessed": latest is not None and await cosigning.witnessed(latest, witnesses),
        "verifier_key": log_key.verifier_key,
        "size": await audit.committed_size(),
        "verification": None,
    }


def log_panel_tag(context: dict[str, Any]) -> tuple[Hashable, ...]:
    """All that the log panel of :func:`log_context` shows, as one key: its rendering is
    shared by everyone who reads the same (see render's ``shared``)."""
    latest = context["checkpoint"]
    checkpoint = None if latest is None else (latest.tree_size, latest.signed_at, latest.key_id, context["root_hex"])
    return (
        checkpoint,
        context["note"],
        context["size"],
        tuple((signer["name"], signer["key_id"]) for signer in context["witnesses"]),
        tuple((status["name"], status["state"]) for status in context["configured"]),
        context["quorum"],
        context["witnessed"],
        str(context["verifier_key"]),
    )


@get("/audit/log")
async def audit_log(
    request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey], witnesses: NamedDependency[Witnesses]
) -> Response[Any]:
    """The log panel: the latest signed checkpoint and its witnesses, the public key, the
    export, and a button that verifies the whole log."""
    context = await log_context(log_key, witnesses)
    # The page shows the panel and nothing of who reads it: the same for every reader of the same panel.
    return show(request, "evidence/audit_log.html", context, shared=(("title", "content"), log_panel_tag(context), ()))


@get("/audit/log/verify")
async def verify_log(
    request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey], witnesses: NamedDependency[Witnesses]
) -> Response[Any]:
    """Verify every entry and checkpoint now (the API's ``/audit/verify``) and show the result
    on the log panel (only the result for htmx)."""
    # As the API's verify: against the configured witnesses' cosignatures too.
    verification = await audit.verify(log_key, witnesses.keys, every_witness=False)
    context = {**await log_context(log_key, witnesses), "verification": verification}
    fragment = "verification" if is_fragment_request(request) else "content"
    return show(request, "evidence/audit_log.html", context, fragment=fragment)


@get("/audit/log/export")
async def export_log(request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey]) -> Stream:
    """The whole log under a checkpoint signed now, as ``GET /api/v1/audit/export`` streams it
    (and recorded the same way): verify it offline with ``tools/verify_export.py``."""
    return await export_response(request, log_key)


LOG_PAGES: list[ControllerRouterHandler] = [audit_search, audit_entry, audit_log, verify_log, export_log]
