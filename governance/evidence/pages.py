"""Evidence pages: the compliance dashboard, bundles and the auditor's desk (the audit log's
pages are in :mod:`governance.evidence.log_pages`; ``PAGES`` holds them all).

Thin, like the API: each handler calls the domains' summary services (counts in SQL, so a
large platform answers as fast as a small one), the bundle service or the audit service,
and renders a template of ``governance/evidence/templates``.

Every page is read-only but two: requesting a bundle and retrying a failed one, which go
through the same service calls (and audit entries) as ``POST /api/v1/evidence/bundles``.
Downloads (a bundle's PDF and manifest, the log export) are the API's answers, audited the
same way, under a page path so the session cookie reaches them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.audit.witnesses import Witnesses
from governance.complaints import summary as complaints_summary
from governance.complaints.config import Complaints
from governance.core import limits
from governance.core.authz import Authorizer
from governance.core.shapes import Input
from governance.evidence import readiness as evidence_readiness
from governance.evidence import service
from governance.evidence.log_pages import LOG_PAGES, log_context
from governance.evidence.presenting import PAGE_SIZE, read_query, show
from governance.evidence.routes import download_response, proof_response
from governance.evidence.schemas import BundleRequest
from governance.privacy import summary as privacy_summary
from governance.privacy.service import Privacy
from governance.web.forms import Form, blank, read_form
from governance.web.i18n import N_
from governance.web.rendering import is_fragment_request

# How many artifacts of a manifest the desk lists before it says how many more there are.
SAMPLE_LIMIT: Final = 200
IN_PROGRESS: Final = frozenset({"queued", "rendering", "uploading"})


class PeriodQuery(Input):
    """A reporting period picked on a dashboard (both days inclusive, UTC); this month by default."""

    period_start: date | None = None
    period_end: date | None = None


class BundleForm(Input):
    """What an officer fills in to ask for a bundle (the API's request, without the filters)."""

    title: Annotated[str, limits.text(200)]
    period_start: date
    period_end: date


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
async def complaints_dashboard(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], complaints: NamedDependency[Complaints]
) -> Response[Any]:
    """Complaints, refunds and disputes of a period, with charts (the API's ``/complaints/summary``)."""
    form = read_query(request, PeriodQuery)
    form, start, end = period_of(form, now.date())
    try:
        summary = (
            await complaints_summary.kept_period_summary(complaints.summaries, start, end, now) if form.valid else None
        )
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
    return show(
        request,
        "evidence/complaints.html",
        context,
        status_code=200 if summary else 422,
        # The whole page reads the summary alone (the form shows its period, posts nothing).
        shared=(("title", "content"), f"{start}/{end}", (summary,)) if summary else None,
    )


@get("/dashboard/privacy")
async def privacy_dashboard(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """Consent changes and data requests of a period, with charts (the API's ``/privacy/summary``)."""
    form = read_query(request, PeriodQuery)
    form, start, end = period_of(form, now.date())
    try:
        summary = await privacy_summary.kept_period_summary(privacy.summaries, start, end, now) if form.valid else None
    except HTTPException as problem:
        form, summary = form.refused(problem), None
    context = {
        "form": form,
        "summary": summary,
        "due": await privacy_summary.kept_requests_due(privacy.summaries, now),
    }
    return show(
        request,
        "evidence/privacy.html",
        context,
        status_code=200 if summary else 422,
        # The whole page reads the summary and the requests due alone (the form shows its period).
        shared=(("title", "content"), f"{start}/{end}", (summary, context["due"])) if summary else None,
    )


async def bundles_page(
    request: Request[Any, Any, Any],
    authorizer: Authorizer,
    form: Form[Any],
    *,
    status_code: int = 200,
    blank_on: date | None = None,
) -> Response[Any]:
    """The bundles and the form; ``blank_on``: the form is blank, suggesting that day's month."""
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
    shared = None
    if blank_on is not None:
        # With a blank form, the page shows nothing but the listing, the day and whether the
        # reader may ask: those, the listing as JSON, are its key (see render's ``shared``).
        tag = (blank_on, context["may_request"], msgspec.json.encode(page.items), page.next_cursor)
        shared = (("title", "content"), tag, ())
    return show(request, "evidence/bundles.html", context, status_code=status_code, shared=shared)


@get("/bundles", opt={"navigation": N_("Evidence bundles")})
async def bundles(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], authorizer: NamedDependency[Authorizer]
) -> Response[Any]:
    """Every bundle, newest first, and (for officers) the form that asks for one."""
    today = now.date()
    suggested = {"period_start": today.replace(day=1).isoformat(), "period_end": today.isoformat()}
    return await bundles_page(request, authorizer, blank(suggested), blank_on=today)


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


@get("/bundles/{bundle_id:uuid}/proof", media_type="text/plain")
async def bundle_proof(
    request: Request[Any, Any, Any], evidence: NamedDependency[service.Evidence], bundle_id: FromPath[UUID]
) -> Response[str]:
    """The proof of a ready bundle's evidence.bundle.ready entry, exactly as the API hands it out."""
    return proof_response(bundle_id, await service.ready_proof(evidence, bundle_id, request.user))


@get("/auditor", opt={"navigation": N_("Auditor's desk")})
async def auditor_desk(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    evidence: NamedDependency[service.Evidence],
    log_key: NamedDependency[audit.LogKey],
    witnesses: NamedDependency[Witnesses],
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
        **await log_context(log_key, witnesses),
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
    bundle_proof,
    *LOG_PAGES,
    auditor_desk,
]
