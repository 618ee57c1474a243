"""Privacy pages: the mentee's preference centre and data requests, and the public notices
(thin: the privacy services, a template).

``/privacy`` is where a signed-in mentee lands (from a portal link or the home page): every
purpose with its notice in their language, its lawful basis, whether it is allowed now and
since when, and a switch that records a change with its receipt. The pages speak to the
signed-in mentee about their own records only: a record of someone else's answers the 404
page, as one that does not exist (a 403 would tell them it exists).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from governance.core import limits
from governance.core.durations import Duration, parse_duration
from governance.core.pagination import CursorParam as Cursor
from governance.core.shapes import Input
from governance.privacy import consent, requests, service
from governance.privacy.policy import Purpose
from governance.privacy.schemas import (
    ConsentState,
    DataRequestFiling,
    DataRequestView,
    PreferencesChange,
    PreferencesUpdate,
    PurposeName,
    RequestTransition,
)
from governance.privacy.service import Privacy
from governance.web import i18n
from governance.web.forms import Form, blank, read_form
from governance.web.i18n import N_, gettext, ngettext
from governance.web.rendering import is_fragment_request, render

PAGE_SIZE: Final = 50
SOURCE: Final = "pages"
# Periods a mentee may pick for a category they may shorten (only those under the policy's own).
SHORTER_PERIODS: Final = ("P7D", "P30D", "P90D", "P180D", "P1Y", "P2Y")

LAWFUL_BASES: Final = {
    "consent": N_("Your consent"),
    "contract": N_("Our contract with you"),
    "legal_obligation": N_("A legal obligation"),
    "vital_interests": N_("Your vital interests"),
    "public_task": N_("A public task"),
    "legitimate_interests": N_("Our legitimate interests"),
}
METHODS: Final = {
    "explicit": N_("Your choice"),
    "gpc": N_("Global Privacy Control"),
    "default": N_("The default"),
    "expired": N_("Lapsed: the default again"),
    "erasure": N_("Your erasure"),
}
REQUEST_TYPES: Final = {
    "access": N_("A copy of your data"),
    "portability": N_("Your data to take elsewhere"),
    "erasure": N_("Erasure of your data"),
    "rectification": N_("Correction of your data"),
    "restriction": N_("Restriction of use"),
    "objection": N_("Objection to use"),
}
# The open cases that can hold an erasure back, in words.
HOLD_KINDS: Final = {
    "complaint": N_("Complaint"),
    "dispute": N_("Dispute about an attestation"),
    "refund": N_("Refund"),
    "data_request": N_("Data request"),
}
# Each state in words, and the badge tone that goes with it.
REQUEST_STATES: Final = {
    "received": (N_("Received"), "info"),
    "identity_verification": (N_("Checking who you are"), "info"),
    "in_progress": (N_("In progress"), "info"),
    "extended": (N_("Extended"), "warning"),
    "completed": (N_("Done"), "ok"),
    "rejected": (N_("Refused"), "danger"),
    "withdrawn": (N_("Withdrawn"), "neutral"),
}


class Switch(Input):
    """One purpose switched on or off."""

    purpose: PurposeName
    state: ConsentState


class RetentionPick(Input):
    """A shorter keeping period for one category the mentee may shorten."""

    category: PurposeName
    period: Annotated[str, limits.identifier(40)]


class Asking(Input):
    """A data request from the mentee: what they want to say about it, if anything."""

    description: Annotated[str, limits.text(5_000, min_length=0)] | None = None


class Withdrawal(Input):
    """The version of the request the mentee saw when they chose to withdraw it."""

    version: Annotated[int, msgspec.Meta(ge=1)]


def _translated(labels: dict[str, str], key: str) -> str:
    return gettext(labels[key]) if key in labels else key


def period_words(text: str) -> str:
    """An ISO 8601 period in words ("3 months", "90 days")."""
    period = parse_duration(text)
    parts = []
    if period.years:
        parts.append(ngettext("%(num)s year", "%(num)s years", period.years))
    if period.months:
        parts.append(ngettext("%(num)s month", "%(num)s months", period.months))
    if period.exact.days or not parts:
        parts.append(ngettext("%(num)s day", "%(num)s days", period.exact.days))
    return ", ".join(parts)


def _notice_text(purpose: Purpose, language: str) -> str:
    texts = purpose.current_notice.text
    return texts.get(language) or texts.get(i18n.SOURCE_LANGUAGE) or next(iter(texts.values()), "")


def _purposes(privacy: Privacy, states: list[Any], gpc: bool) -> list[dict[str, Any]]:
    language = i18n.active().tag
    shown = []
    for state in states:
        purpose = privacy.policy.purposes[state.purpose]
        shown.append(
            {
                "name": purpose.name,
                "title": purpose.title,
                "notice": _notice_text(purpose, language),
                "notice_version": purpose.current_notice.version,
                "lawful_basis": _translated(LAWFUL_BASES, purpose.lawful_basis),
                "sharing": purpose.sharing,
                "gpc_applies": gpc and purpose.sharing,
                "method": _translated(METHODS, state.method),
                "state": state,
            }
        )
    return shown


def _retention(privacy: Privacy, chosen: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    categories = []
    for category in privacy.retention.values():
        policy_period = category.period.isoformat()
        options: list[tuple[str, str]] = []
        if category.mentee_may_shorten:
            options = [
                (text, period_words(text))
                for text in SHORTER_PERIODS
                if _shorter(parse_duration(text), category.period, now)
            ]
            options.append(
                (policy_period, gettext(N_("%(period)s (the most we keep)"), period=period_words(policy_period)))
            )
        current = chosen.get(category.name, policy_period)
        categories.append(
            {
                "name": category.name,
                "description": category.description,
                "starts_from": category.starts_from,
                "policy_period": period_words(policy_period),
                "current": current,
                "current_words": period_words(current),
                "chosen": category.name in chosen,
                "options": options,
            }
        )
    return categories


def _shorter(candidate: Duration, limit: Duration, now: datetime) -> bool:
    return candidate.add_to(now) < limit.add_to(now)


def _gpc(request: Request[Any, Any, Any]) -> bool:
    # Global Privacy Control: the header's only defined value is "1" (as the API reads it).
    return request.headers.get("sec-gpc", "").strip() == "1"


def _language_for(privacy: Privacy, names: list[str]) -> str | None:
    """The page's language when every named purpose's notice is written in it (the receipt
    binds the notice the mentee read); else the policy's default."""
    language = i18n.active().tag
    purposes = privacy.policy.purposes
    if all(name in purposes and language in purposes[name].current_notice.text for name in names):
        return language
    return None


async def _own_receipt(receipt_id: UUID | None, subject: str) -> dict[str, Any] | None:
    if receipt_id is None or await consent.receipt_owner(receipt_id) != subject:
        return None
    return await consent.receipt(receipt_id)


async def _centre(
    request: Request[Any, Any, Any],
    privacy: Privacy,
    now: datetime,
    *,
    receipt: dict[str, Any] | None = None,
    gpc_change: PreferencesChange | None = None,
    form: Form[Any] | None = None,
    retention_form: tuple[str, Form[Any]] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    subject = request.user.sub
    current = gpc_change.preferences if gpc_change else await consent.preferences(privacy, subject, now)
    gpc = _gpc(request)
    gpc_turned_off = (
        [privacy.policy.purposes[p["purpose"]].title for p in (gpc_change.receipt or {}).get("purposes", [])]
        if gpc_change
        else []
    )
    return render(
        request,
        "privacy/landing.html",
        {
            "purposes": _purposes(privacy, current.purposes, gpc),
            "retention": _retention(privacy, current.retention, now),
            "receipt": receipt or (gpc_change.receipt if gpc_change else None),
            "gpc": gpc,
            "gpc_turned_off": gpc_turned_off,
            "form": form or blank(),
            "retention_form": retention_form,
            "shortenable": [name for name, category in privacy.retention.items() if category.mentee_may_shorten],
        },
        status_code=status_code,
        # A refused switch sent by htmx answers the whole centre: in place of the page's main, not of the row.
        headers={"HX-Retarget": "#main", "HX-Reswap": "innerHTML"} if is_fragment_request(request) else None,
    )


@get("/privacy", opt={"navigation": N_("Your privacy")})
async def your_privacy(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[Privacy],
    receipt: Annotated[UUID | None, QueryParameter(description="A receipt just issued, to show.")] = None,
) -> Response[Any]:
    """The preference centre: every purpose (notice, lawful basis, allowed or not and since
    when, a switch), the keeping periods, and the receipt of the change just made.

    A browser sending Global Privacy Control is opted out of every sharing purpose it has not
    explicitly allowed, as the API does, and the page says which and shows the receipt."""
    if _gpc(request):
        change = await consent.change(
            privacy, request.user.sub, PreferencesUpdate(source=SOURCE), gpc=True, actor=request.user, now=now
        )
        if change.receipt is not None:
            return await _centre(request, privacy, now, gpc_change=change)
    return await _centre(request, privacy, now, receipt=await _own_receipt(receipt, request.user.sub))


@post("/privacy/choices")
async def switch_purpose(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """Switch one purpose on or off: recorded with its receipt, through the same service call
    as the API (one audit entry). htmx swaps only that purpose's row, its receipt in it."""
    form = await read_form(request, Switch)
    if not form.valid or form.data is None:
        return await _centre(request, privacy, now, form=form, status_code=422)
    choice = form.data
    update = PreferencesUpdate(
        preferences={choice.purpose: choice.state},
        language=_language_for(privacy, [choice.purpose]),
        source=SOURCE,
    )
    try:
        change = await consent.change(privacy, request.user.sub, update, gpc=_gpc(request), actor=request.user, now=now)
    except HTTPException as problem:
        refused = form.refused(problem)
        refused.errors = {
            ("purpose" if name.startswith("preferences") else name): m for name, m in refused.errors.items()
        }
        return await _centre(request, privacy, now, form=refused, status_code=422)
    receipt = change.receipt or {}
    if is_fragment_request(request):
        rows = _purposes(privacy, change.preferences.purposes, _gpc(request))
        row = next(p for p in rows if p["name"] == choice.purpose)
        return render(request, "privacy/purpose.html", {"purpose": row, "row_receipt": receipt}, fragment="purpose")
    return Redirect(f"/privacy?receipt={receipt.get('receipt_id', '')}#purpose-{choice.purpose}", status_code=303)


@post("/privacy/retention")
async def choose_retention(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """Keep one category of data for a shorter time than the policy's, where the mentee may
    choose (recorded with its receipt, as through the API)."""
    form = await read_form(request, RetentionPick)
    category = str(form.value("category"))
    if not form.valid or form.data is None:
        return await _centre(request, privacy, now, retention_form=(category, form), status_code=422)
    update = PreferencesUpdate(retention={form.data.category: form.data.period}, source=SOURCE)
    try:
        change = await consent.change(privacy, request.user.sub, update, gpc=False, actor=request.user, now=now)
    except HTTPException as problem:
        refused = form.refused(problem)
        # The service names the field "retention.<category>": on this form it is the period.
        refused.errors = {"period": next(iter(refused.errors.values()), "")}
        return await _centre(request, privacy, now, retention_form=(category, refused), status_code=422)
    receipt_id = (change.receipt or {}).get("receipt_id", "")
    return Redirect(f"/privacy?receipt={receipt_id}#retention", status_code=303)


@get("/privacy/history", opt={"navigation": N_("Your choices over time")})
async def consent_history(
    request: Request[Any, Any, Any], privacy: NamedDependency[Privacy], cursor: Cursor = None
) -> Response[Any]:
    """Every consent record of the mentee, oldest first, each with its receipt to download."""
    page = await consent.history(request.user.sub, None, PAGE_SIZE, cursor)
    purposes = privacy.policy.purposes
    records = [
        {
            "record": record,
            "title": purposes[record.purpose].title if record.purpose in purposes else record.purpose,
            "method": _translated(METHODS, record.method),
        }
        for record in page.items
    ]
    return render(
        request, "privacy/history.html", {"records": records, "next_cursor": page.next_cursor, "first": cursor is None}
    )


@get("/privacy/receipts/{receipt_id:uuid}")
async def download_receipt(request: Request[Any, Any, Any], receipt_id: FromPath[UUID]) -> Response[Any]:
    """A consent receipt of the mentee's, as issued (JSON, to keep)."""
    body = await _own_receipt(receipt_id, request.user.sub)
    if body is None:
        raise NotFoundException("No such receipt of yours")
    return Response(
        content=msgspec.json.encode(body),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{receipt_id}.json"'},
    )


def _request_row(view: DataRequestView) -> dict[str, Any]:
    state_label, tone = REQUEST_STATES.get(view.state, (view.state, "neutral"))
    return {
        "data_request": view,
        "type": _translated(REQUEST_TYPES, view.type),
        "state": gettext(state_label),
        "tone": tone,
    }


async def _requests_page(
    request: Request[Any, Any, Any],
    privacy: Privacy,
    now: datetime,
    cursor: str | None,
    *,
    form: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    page = await requests.listing(
        privacy,
        subject=request.user.sub,
        overdue=None,
        state=None,
        limit=PAGE_SIZE,
        cursor=cursor,
        now=now,
        requester=True,
    )
    return render(
        request,
        "privacy/requests.html",
        {
            "requests": [_request_row(view) for view in page.items],
            "next_cursor": page.next_cursor,
            "first": cursor is None,
            "form": form or blank(),
        },
        status_code=status_code,
    )


@get("/privacy/requests", opt={"navigation": N_("Your data requests")})
async def data_requests(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[Privacy],
    cursor: Cursor = None,
) -> Response[Any]:
    """The mentee's data requests, newest first, and the ways to ask: a copy, or erasure."""
    return await _requests_page(request, privacy, now, cursor)


@post("/privacy/requests")
async def ask_for_copy(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """Ask for a copy of everything held about the mentee (an access request, as the API files it)."""
    form = await read_form(request, Asking)
    if not form.valid or form.data is None:
        return await _requests_page(request, privacy, now, None, form=form, status_code=422)
    filing = DataRequestFiling(type="access", description=form.data.description or None)
    view = await requests.file(privacy, filing, request.user, True, now)
    return Redirect(f"/privacy/requests/{view.id}", status_code=303)


async def _erasure_page(
    request: Request[Any, Any, Any], privacy: Privacy, now: datetime, form: Form[Any], status_code: int = 200
) -> Response[Any]:
    preview = await requests.erasure_preview(privacy, request.user.sub, now)
    purposes = privacy.policy.purposes
    return render(
        request,
        "privacy/erasure.html",
        {
            "preview": preview,
            "withdrawn": [purposes[name].title for name in preview.consents_withdrawn],
            "due": requests.ONE_MONTH.add_to(now),
            "hold_kinds": {kind: gettext(label) for kind, label in HOLD_KINDS.items()},
            "form": form,
        },
        status_code=status_code,
    )


@get("/privacy/requests/erasure")
async def erasure_confirmation(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """Before asking for erasure: what will be erased, what legal holds keep and until when."""
    return await _erasure_page(request, privacy, now, blank())


@post("/privacy/requests/erasure")
async def ask_for_erasure(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """Confirmed: file the erasure request (as the API files it) and show it."""
    form = await read_form(request, Asking)
    if not form.valid or form.data is None:
        return await _erasure_page(request, privacy, now, form, status_code=422)
    # A second confirmation (a double click, a reload) shows the request already open.
    already = (await requests.erasure_preview(privacy, request.user.sub, now)).open_erasure
    if already is not None:
        return Redirect(f"/privacy/requests/{already}", status_code=303)
    filing = DataRequestFiling(type="erasure", description=form.data.description or None)
    view = await requests.file(privacy, filing, request.user, True, now)
    return Redirect(f"/privacy/requests/{view.id}", status_code=303)


async def _own_request(privacy: Privacy, request_id: UUID, subject: str, now: datetime) -> DataRequestView:
    if await requests.request_owner(request_id) != subject:
        raise NotFoundException("No such request of yours")
    return await requests.get(privacy, request_id, now, True)


def _certificate(view: DataRequestView) -> dict[str, Any] | None:
    if view.certificate is None:
        return None
    certificate = view.certificate
    return {
        "erased_at": datetime.fromisoformat(certificate["erased_at"]) if certificate.get("erased_at") else None,
        "erased": certificate.get("erased", []),
        "kept": certificate.get("kept", []),
        "kept_under_hold": certificate.get("kept_under_hold", []),
        "consents_withdrawn": certificate.get("consents_withdrawn", []),
        "not_reached": certificate.get("not_reached", ""),
    }


async def _request_detail(
    request: Request[Any, Any, Any],
    privacy: Privacy,
    view: DataRequestView,
    form: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    return render(
        request,
        "privacy/request.html",
        {
            **_request_row(view),
            "certificate": _certificate(view),
            "may_withdraw": "withdrawn" in view.allowed_next,
            "form": form or blank(),
            "purpose_titles": {name: p.title for name, p in privacy.policy.purposes.items()},
        },
        status_code=status_code,
    )


@get("/privacy/requests/{request_id:uuid}")
async def data_request(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[Privacy],
    request_id: FromPath[UUID],
) -> Response[Any]:
    """One request of the mentee's: where it stands, by when, why (an extension, a refusal),
    the copy once ready, and the certificate of an erasure."""
    view = await _own_request(privacy, request_id, request.user.sub, now)
    return await _request_detail(request, privacy, view)


@post("/privacy/requests/{request_id:uuid}/withdrawal")
async def withdraw_request(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[Privacy],
    request_id: FromPath[UUID],
) -> Response[Any]:
    """Withdraw an open request (as the API's transition; a request moved on meanwhile is refused)."""
    view = await _own_request(privacy, request_id, request.user.sub, now)
    form = await read_form(request, Withdrawal)
    if not form.valid or form.data is None:
        return await _request_detail(request, privacy, view, form, status_code=422)
    try:
        await requests.transition(
            privacy, request_id, RequestTransition(to="withdrawn"), request.user, True, now, form.data.version
        )
    except HTTPException as problem:
        if problem.status_code not in (409, 412):
            raise
        moved_on = N_("This request has moved on since you opened it: see where it stands now.")
        refused: Form[Withdrawal] = Form(values=form.values, errors={"": gettext(moved_on)})
        fresh = await requests.get(privacy, request_id, now, True)
        return await _request_detail(request, privacy, fresh, refused, status_code=409)
    return Redirect(f"/privacy/requests/{request_id}", status_code=303)


@get("/privacy/requests/{request_id:uuid}/export")
async def download_copy(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[Privacy],
    request_id: FromPath[UUID],
) -> Response[Any]:
    """The copy of the mentee's data as JSON (each download audited, as through the API)."""
    await _own_request(privacy, request_id, request.user.sub, now)
    body = await requests.download(privacy, request_id, request.user)
    return Response(
        content=body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="your-data-{request_id}.json"'},
    )


@get("/privacy/requests/{request_id:uuid}/copy")
async def read_copy(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[Privacy],
    request_id: FromPath[UUID],
) -> Response[Any]:
    """The copy of the mentee's data, readable on screen (the same file as the download,
    and audited as one)."""
    view = await _own_request(privacy, request_id, request.user.sub, now)
    document = json.loads(await requests.download(privacy, request_id, request.user))
    entries = [{**entry, "time": _instant(entry.get("time"))} for entry in document.get("audit_entries", [])]
    return render(
        request,
        "privacy/copy.html",
        {
            "data_request": view,
            "generated_at": _instant(document.get("generated_at")),
            "modules": document.get("modules", {}),
            "audit_entries": entries,
        },
    )


def _instant(text: Any) -> datetime | None:
    # The export writes instants as RFC 3339 text; the page shows them in the reader's language.
    return datetime.fromisoformat(text) if isinstance(text, str) else None


@get("/privacy/notices", exclude_from_auth=True)
async def privacy_notices(request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]) -> Response[Any]:
    """Public: every purpose's notice (every version, the current one first, in the reader's
    language where written in it), its lawful basis, default and validity, and the retention
    schedule. The same data as ``GET /api/v1/privacy/notices``."""

    def context() -> dict[str, Any]:
        return _notices_context(privacy)

    # The same document for every signed-out reader in a language, while the policy is the same.
    sources = (privacy.policy, privacy.retention)
    return render(request, "privacy/notices.html", context, published=("notices", sources))


def _notices_context(privacy: Privacy) -> dict[str, Any]:
    published = service.notices(privacy)
    language = i18n.active().tag
    purposes = [
        {
            "view": purpose,
            "lawful_basis": _translated(LAWFUL_BASES, purpose.lawful_basis),
            "validity": period_words(purpose.validity),
            "notices": [
                {
                    "notice": notice,
                    "text": notice.text.get(language) or notice.text.get(i18n.SOURCE_LANGUAGE) or "",
                    "text_language": language if language in notice.text else i18n.SOURCE_LANGUAGE,
                }
                for notice in reversed(purpose.notices)
            ],
        }
        for purpose in published.purposes
    ]
    retention = [{"view": c, "period": period_words(c.period)} for c in published.retention]
    return {"notices": published, "purposes": purposes, "retention": retention, "language": language}


PAGES: list[ControllerRouterHandler] = [
    your_privacy,
    switch_purpose,
    choose_retention,
    consent_history,
    download_receipt,
    data_requests,
    ask_for_copy,
    erasure_confirmation,
    ask_for_erasure,
    data_request,
    withdraw_request,
    download_copy,
    read_copy,
    privacy_notices,
]
