"""Evidence pages: the compliance dashboard, bundles, the audit log and the auditor's desk.

Thin, like the API: each handler calls the domains' summary services (counts in SQL, so a
large platform answers as fast as a small one), the bundle service or the audit service,
and renders a template of ``governance/evidence/templates``. Audit pages live here rather
than in ``audit`` because the log sits below the web shell in the layers.

Every page is read-only but two: requesting a bundle and retrying a failed one, which go
through the same service calls (and audit entries) as ``POST /api/v1/evidence/bundles``.
Downloads (a bundle's PDF and manifest, the log export) are the API's answers, audited the
same way, under a page path so the session cookie reaches them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import MultiDict
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, PathParameter, QueryParameter
from litestar.response import Redirect, Stream
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ControllerRouterHandler

from governance.audit import note
from governance.audit import service as audit
from governance.audit.routes import export_response
from governance.audit.schemas import AuditQuery
from governance.complaints import summary as complaints_summary
from governance.core import limits
from governance.core.authz import Authorizer
from governance.core.shapes import Input
from governance.evidence import readiness as evidence_readiness
from governance.evidence import service
from governance.evidence.routes import download_response
from governance.evidence.schemas import BundleRequest
from governance.privacy import summary as privacy_summary
from governance.web.forms import Form, blank, decode_form, read_form
from governance.web.i18n import N_, gettext
from governance.web.rendering import is_fragment_request, render

PAGE_SIZE: Final = 25
# How many artifacts of a manifest the desk lists before it says how many more there are.
SAMPLE_LIMIT: Final = 200
IN_PROGRESS: Final = frozenset({"queued", "rendering", "uploading"})

# The words for the values the summaries count by (statuses, categories, outcomes, ...),
# marked for translation; a value unknown here is shown as stored.
LABELS: Final[dict[str, str]] = {
    "onboarding": N_("Onboarding"),
    "approved": N_("Approved"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
    "lapsed": N_("Lapsed"),
    "session_quality": N_("Session quality"),
    "mentor_conduct": N_("Mentor conduct"),
    "safeguarding": N_("Safeguarding"),
    "billing": N_("Billing"),
    "attestation": N_("Attestation"),
    "privacy": N_("Privacy"),
    "other": N_("Other"),
    "upheld": N_("Upheld"),
    "partially_upheld": N_("Partially upheld"),
    "not_upheld": N_("Not upheld"),
    "withdrawn": N_("Withdrawn"),
    "open": N_("Open"),
    "amended": N_("Amended"),
    "requested": N_("Requested"),
    "denied": N_("Denied"),
    "issued": N_("Issued"),
    "failed": N_("Failed"),
    "opt_in": N_("Allowed"),
    "opt_out": N_("Refused"),
    "explicit": N_("Explicit choice"),
    "gpc": N_("Global Privacy Control"),
    "default": N_("Default"),
    "expired": N_("Lapsed consent"),
    "erasure": N_("Erasure"),
    "access": N_("Access"),
    "portability": N_("Portability"),
    "rectification": N_("Rectification"),
    "restriction": N_("Restriction"),
    "objection": N_("Objection"),
    "queued": N_("Queued"),
    "rendering": N_("Rendering"),
    "uploading": N_("Uploading"),
    "ready": N_("Ready"),
    "success": N_("Success"),
    "failure": N_("Failure"),
}


def label(value: str) -> str:
    """A counted value in words, in the page's language."""
    return gettext(LABELS[value]) if value in LABELS else value


def labelled(counts: dict[str, int]) -> list[tuple[str, int]]:
    """``{value: n}`` as ``(words, n)`` bars, in the summary's order."""
    return [(label(value), n) for value, n in counts.items()]


class PeriodQuery(Input):
    """A reporting period picked on a dashboard (both days inclusive, UTC); this month by default."""

    period_start: date | None = None
    period_end: date | None = None


class AuditFilter(Input):
    """The audit search form: every filter given must match; days are UTC, ``until`` inclusive."""

    actor: Annotated[str, limits.identifier()] | None = None
    action: Annotated[str, limits.identifier(120)] | None = None
    resource_type: Annotated[str, limits.identifier(80)] | None = None
    resource_id: Annotated[str, limits.identifier()] | None = None
    since: date | None = None
    until: date | None = None
    cursor: Annotated[str, limits.identifier(limits.MAX_CURSOR)] | None = None


class BundleForm(Input):
    """What an officer fills in to ask for a bundle (the API's request, without the filters)."""

    title: Annotated[str, limits.text(200)]
    period_start: date
    period_end: date


def read_query(request: Request[Any, Any, Any], shape: type[Input]) -> Form[Any]:
    """A GET form (filters, a period) decoded like a posted one; other query parameters
    (the language switch's ``lang``) are not the form's."""
    names = {info.encode_name for info in msgspec.structs.fields(shape)}
    kept = MultiDict([(name, value) for name, value in request.query_params.multi_items() if name in names])
    return decode_form(kept, shape)


def period_of(form: Form[PeriodQuery], today: date) -> tuple[Form[PeriodQuery], date, date]:
    """The form's period, or this month to date; the form shows the days it stands for."""
    if not form.valid or form.data is None:
        return form, today.replace(day=1), today
    start = form.data.period_start or today.replace(day=1)
    end = form.data.period_end or today
    shown = Form(values={"period_start": start.isoformat(), "period_end": end.isoformat()}, data=form.data)
    return shown, start, end


async def readiness(now: datetime) -> dict[str, Any]:
    """The dashboard's figures (``GET /api/v1/evidence/readiness``), the same for officers and
    auditors (the desk shows them too), named as the readiness template reads them."""
    found = await evidence_readiness.readiness(now)
    return {"watch": found.vetting, "complaints": found.complaints_this_month, "requests": found.data_requests}


def show(request: Request[Any, Any, Any], template: str, context: dict[str, Any], **options: Any) -> Response[Any]:
    """:func:`render` with the words for counted values (``label``, ``labelled``)."""
    return render(request, template, {**context, "label": label, "labelled": labelled}, **options)


def may_request(request: Request[Any, Any, Any], authorizer: Authorizer) -> bool:
    """Whether the policy lets this person ask for (and retry) bundles: the form is offered
    only to them (the guard still decides when it is sent)."""
    return authorizer.allows(request.user.roles, "/bundles", "POST", "other")


@get("/dashboard", opt={"navigation": N_("Compliance")})
async def dashboard(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey]
) -> Response[Any]:
    """Accreditation readiness at a glance: mentors by vetting status, checks running out,
    decisions awaiting a second officer, this month's SLA figures, data requests due, the
    latest bundles and checkpoint."""
    bundles = await service.listing(None, 5, None)
    context = {**await readiness(now), "bundles": bundles.items, "checkpoint": await audit.latest_checkpoint(log_key)}
    return show(request, "evidence/dashboard.html", context)


@get("/dashboard/complaints")
async def complaints_dashboard(now: NamedDependency[datetime], request: Request[Any, Any, Any]) -> Response[Any]:
    """Complaints, refunds and disputes of a period, with charts (the API's ``/complaints/summary``)."""
    form = read_query(request, PeriodQuery)
    form, start, end = period_of(form, now.date())
    try:
        summary = await complaints_summary.period_summary(start, end, now) if form.valid else None
    except HTTPException as problem:
        form, summary = form.refused(problem), None
    context = {
        "form": form,
        "summary": summary,
        "months": [(month.month, sum(month.by_category.values())) for month in summary.per_month] if summary else [],
        "currencies": [
            {"currency": currency, "amount": amount}
            for currency, amount in sorted((summary.refunds.issued_minor_by_currency if summary else {}).items())
        ],
    }
    return show(request, "evidence/complaints.html", context, status_code=200 if summary else 422)


@get("/dashboard/privacy")
async def privacy_dashboard(now: NamedDependency[datetime], request: Request[Any, Any, Any]) -> Response[Any]:
    """Consent changes and data requests of a period, with charts (the API's ``/privacy/summary``)."""
    form = read_query(request, PeriodQuery)
    form, start, end = period_of(form, now.date())
    try:
        summary = await privacy_summary.period_summary(start, end, now) if form.valid else None
    except HTTPException as problem:
        form, summary = form.refused(problem), None
    context = {
        "form": form,
        "summary": summary,
        "due": await privacy_summary.requests_due(now),
    }
    return show(request, "evidence/privacy.html", context, status_code=200 if summary else 422)


async def bundles_page(
    request: Request[Any, Any, Any], authorizer: Authorizer, form: Form[Any], *, status_code: int = 200
) -> Response[Any]:
    cursor = request.query_params.get("cursor")
    if cursor is not None and len(cursor) > limits.MAX_CURSOR:
        cursor = None
    page = await service.listing(None, PAGE_SIZE, cursor)
    context = {
        "form": form,
        "bundles": page.items,
        "next_cursor": page.next_cursor,
        "may_request": may_request(request, authorizer),
    }
    return show(request, "evidence/bundles.html", context, status_code=status_code)


@get("/bundles", opt={"navigation": N_("Evidence bundles")})
async def bundles(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], authorizer: NamedDependency[Authorizer]
) -> Response[Any]:
    """Every bundle, newest first, and (for officers) the form that asks for one."""
    today = now.date()
    suggested = {"period_start": today.replace(day=1).isoformat(), "period_end": today.isoformat()}
    return await bundles_page(request, authorizer, blank(suggested))


@post("/bundles")
async def request_bundle(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    evidence: NamedDependency[service.Evidence],
    authorizer: NamedDependency[Authorizer],
) -> Response[Any]:
    """Ask for a bundle of a period (the same request, checks and audit entry as the API);
    then follow its progress on its page."""
    form = await read_form(request, BundleForm)
    if not form.valid or form.data is None:
        return await bundles_page(request, authorizer, form, status_code=422)
    data = form.data
    asked = BundleRequest(period_start=data.period_start, period_end=data.period_end, title=data.title)
    try:
        bundle = await service.request(asked, request.user, now)
    except HTTPException as problem:
        if problem.status_code != 422 and problem.status_code != 400:
            raise
        return await bundles_page(request, authorizer, form.refused(problem), status_code=422)
    evidence.wakeup.set()
    return Redirect(f"/bundles/{bundle.id}", status_code=HTTP_303_SEE_OTHER)


@get("/bundles/{bundle_id:uuid}")
async def bundle(
    request: Request[Any, Any, Any], authorizer: NamedDependency[Authorizer], bundle_id: FromPath[UUID]
) -> Response[Any]:
    """One bundle: its job's progress while it runs (htmx polls the ``job`` block), then its
    hashes and downloads, or why it failed."""
    found = await service.get(bundle_id)
    context = {
        "bundle": found,
        "in_progress": found.state in IN_PROGRESS,
        "may_retry": authorizer.allows(request.user.roles, "/bundles/{bundle_id}/retry", "POST", "other"),
    }
    fragment = "job" if is_fragment_request(request) and request.headers.get("hx-target") == "bundle-job" else "content"
    return show(request, "evidence/bundle.html", context, fragment=fragment)


@post("/bundles/{bundle_id:uuid}/retry")
async def retry_bundle(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    evidence: NamedDependency[service.Evidence],
    bundle_id: FromPath[UUID],
) -> Response[Any]:
    """Queue a failed bundle again (409 page for any other state). Audited."""
    await service.retry(bundle_id, request.user, now)
    evidence.wakeup.set()
    return Redirect(f"/bundles/{bundle_id}", status_code=HTTP_303_SEE_OTHER)


@get("/bundles/{bundle_id:uuid}/download")
async def download_bundle(
    request: Request[Any, Any, Any],
    evidence: NamedDependency[service.Evidence],
    bundle_id: FromPath[UUID],
    file: Annotated[service.FileName, QueryParameter(description="`pdf` or `manifest`.")] = "pdf",
) -> Response[Any]:
    """The PDF (or ``?file=manifest``) of a ready bundle, exactly as the API hands it out. Audited."""
    found = await service.download(evidence, bundle_id, file, request.user)
    return download_response(evidence, found)


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
    return show(request, "evidence/audit_search.html", context, status_code=200 if page else 422)


@get("/audit/entries/{seq:int}")
async def audit_entry(
    request: Request[Any, Any, Any], seq: Annotated[int, PathParameter(ge=0, le=2**63 - 1)]
) -> Response[Any]:
    """One entry as stored: who, what, on what, the outcome, its details and leaf hash."""
    entry = await audit.get_entry(seq)
    if entry is None:
        raise NotFoundException(f"No audit entry with sequence number {seq}")
    details = msgspec.json.format(msgspec.json.encode(entry.details), indent=2).decode()
    return show(request, "evidence/audit_entry.html", {"entry": entry, "details": details})


async def log_context(log_key: audit.LogKey) -> dict[str, Any]:
    """The latest checkpoint, the witnesses that cosigned it (their signature lines: this
    service holds no witness key to check them with), and the verifier key."""
    latest = await audit.latest_checkpoint(log_key)
    ours = (log_key.origin, log_key.signer.key_id)
    witnesses = [
        {"name": name, "key_id": f"{key_id:08x}"}
        for name, key_id in (note.signers(latest.note) if latest else [])
        if (name, key_id) != ours
    ]
    return {
        "checkpoint": latest,
        "root_hex": latest.root_hash.hex() if latest else None,
        "witnesses": witnesses,
        "verifier_key": log_key.verifier_key,
        "size": await audit.tree_size(),
        "verification": None,
    }


@get("/audit/log")
async def audit_log(request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey]) -> Response[Any]:
    """The log panel: the latest signed checkpoint and its witnesses, the public key, the
    export, and a button that verifies the whole log."""
    return show(request, "evidence/audit_log.html", await log_context(log_key))


@get("/audit/log/verify")
async def verify_log(request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey]) -> Response[Any]:
    """Verify every entry and checkpoint now (the API's ``/audit/verify``) and show the result
    on the log panel (only the result for htmx)."""
    context = {**await log_context(log_key), "verification": await audit.verify(log_key)}
    fragment = "verification" if is_fragment_request(request) else "content"
    return show(request, "evidence/audit_log.html", context, fragment=fragment)


@get("/audit/log/export")
async def export_log(request: Request[Any, Any, Any], log_key: NamedDependency[audit.LogKey]) -> Stream:
    """The whole log under a checkpoint signed now, as ``GET /api/v1/audit/export`` streams it
    (and recorded the same way): verify it offline with ``tools/verify_export.py``."""
    return await export_response(request, log_key)


@get("/auditor", opt={"navigation": N_("Auditor's desk")})
async def auditor_desk(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    evidence: NamedDependency[service.Evidence],
    log_key: NamedDependency[audit.LogKey],
    bundle: Annotated[UUID | None, QueryParameter(description="A ready bundle whose records to sample.")] = None,
) -> Response[Any]:
    """Read-only: the readiness figures, the ready bundles, the log export and public key with
    the verification steps, and (``?bundle=``) what a bundle's manifest asks to sample."""
    ready = await service.listing("ready", 10, None)
    manifest = None
    if bundle is not None:
        manifest = await service.manifest(evidence, bundle, request.user)
    context = {
        **await readiness(now),
        **await log_context(log_key),
        "bundles": ready.items,
        "manifest": manifest,
        "artifacts": manifest.artifacts[:SAMPLE_LIMIT] if manifest else [],
        "more_artifacts": max(0, len(manifest.artifacts) - SAMPLE_LIMIT) if manifest else 0,
    }
    return show(request, "evidence/auditor.html", context)


PAGES: list[ControllerRouterHandler] = [
    dashboard,
    complaints_dashboard,
    privacy_dashboard,
    bundles,
    request_bundle,
    bundle,
    retry_bundle,
    download_bundle,
    audit_search,
    audit_entry,
    audit_log,
    verify_log,
    export_log,
    auditor_desk,
]
