"""Complaint pages (thin: the complaints services, a template), exported as ``PAGES``.

- A mentee files a complaint, follows it, reads what staff addressed to them, answers
  while it waits on them, and withdraws, closes or appeals it (``/complaints...``); the
  candidate or mentor of an attestation disputes it (``/attestations/{id}/dispute``).
- Anyone, signed in or not: an attestation's status (``/attestations/check``), the
  escalation path (``/escalation``) and how attestation ratings are judged
  (``/ratings-method``).
- The support desk (queue, complaint, dispute and refund pages) is
  :mod:`~governance.complaints.support_pages`; how every page words states and deadlines,
  :mod:`~governance.complaints.presentation`.

Every change goes through the same service call as the API (same transaction, same audit
entry); a service's refusal comes back beside the form.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import MultiDict
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.complaints import agreement, attestations, disputes, policy, service, states
from governance.complaints.config import Complaints
from governance.complaints.presentation import (
    CATEGORY_LABELS,
    COMPLAINANT_BUTTONS,
    LABELS,
    PAGE_SIZE,
    RECENT_DISPUTES,
    duration_words,
    labelled,
    refusal_status,
)
from governance.complaints.routes import attestation_party, complaint_owner
from governance.complaints.schemas import (
    CATEGORIES,
    Category,
    ComplaintCreate,
    ComplaintState,
    ComplaintTransition,
    DisputeCreate,
    NoteCreate,
    ShortText,
    Text,
)
from governance.complaints.support_pages import SUPPORT_PAGES
from governance.core import limits
from governance.core.pagination import CursorParam
from governance.core.ratelimits import LIMITED_PER_CLIENT
from governance.core.shapes import Input
from governance.web.forms import Form, blank, decode_form, read_form
from governance.web.i18n import N_, gettext
from governance.web.rendering import render

AnyRequest = Request[Any, Any, Any]


class Filing(Input):
    """A mentee's new complaint."""

    category: Category
    description: Text
    session_id: limits.Identifier | None = None
    desired_remedy: ShortText | None = None


class Reply(Input):
    """The complainant's answer or added information."""

    body: Text


class ComplainantMove(Input):
    """A move the complainant makes (withdraw, close, appeal), at the version they saw."""

    to: ComplaintState
    version: Annotated[int, msgspec.Meta(ge=1)]
    reason: ShortText | None = None


class Dispute(Input):
    """A party's dispute of an attestation: why, and a reference to evidence if they have one."""

    reason: Text
    evidence: Annotated[str, limits.identifier(500)] | None = None


class AttestationCheck(Input):
    """What an employer was given: the attestation's id, and optionally the token's digest."""

    attestation_id: uuid.UUID
    digest: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$", max_length=64)] | None = None


# ---- the mentee's pages ----------------------------------------------------------------


@get("/complaints", opt={"navigation": N_("Your complaints")})
async def your_complaints(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    cursor: CursorParam = None,
) -> Response[Any]:
    """The signed-in mentee's complaints, newest first, a page at a time, and their latest
    disputes (their own only)."""
    # Their latest disputes too (as ``GET /api/v1/disputes``), each to its attestation's page:
    # two independent reads, asked together so that the page waits for the database once.
    found, theirs = await asyncio.gather(
        service.search(complainant=request.user.sub, limit=PAGE_SIZE, cursor=cursor),
        disputes.search(state=None, party=request.user.sub, limit=RECENT_DISPUTES, cursor=None),
    )
    return render(
        request,
        "complaints/mine.html",
        {"complaints": found.items, "next_cursor": found.next_cursor, "disputes": theirs.items, "labels": LABELS},
    )


def _filing_page(request: AnyRequest, form: Form[Any], status_code: int = 200) -> Response[Any]:
    categories = labelled(CATEGORY_LABELS, list(CATEGORIES))
    return render(request, "complaints/new.html", {"form": form, "categories": categories}, status_code=status_code)


@get("/complaints/new")
async def new_complaint(request: AnyRequest) -> Response[Any]:
    """The form to file a complaint."""
    return _filing_page(request, blank())


@post("/complaints/new")
async def file_complaint(
    now: NamedDependency[datetime], request: AnyRequest, complaints: NamedDependency[Complaints]
) -> Response[Any]:
    """File the complaint (as ``POST /api/v1/complaints``), then show it."""
    form = await read_form(request, Filing)
    if not form.valid or form.data is None:
        return _filing_page(request, form, 422)
    data = ComplaintCreate(
        category=form.data.category,
        description=form.data.description,
        session_id=form.data.session_id,
        desired_remedy=form.data.desired_remedy,
    )
    try:
        view = await service.file(complaints, actor=request.user, data=data, now=now)
    except HTTPException as problem:
        return _filing_page(request, form.refused(problem), refusal_status(problem))
    return Redirect(f"/complaints/{view.id}", status_code=303)


async def _complaint_page(
    request: AnyRequest,
    complaints: Complaints,
    complaint_id: uuid.UUID,
    now: datetime,
    *,
    reply: Form[Any] | None = None,
    moving: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    view = await service.get(complaints, complaint_id, reader=request.user, now=now)
    kinds = states.complaint_actor_kinds(request.user, view.complainant_id)
    buttons = [
        target
        for target in view.allowed_next
        if target in COMPLAINANT_BUTTONS and states.permitted(states.COMPLAINT_MOVES, view.state, target, kinds)
    ]
    return render(
        request,
        "complaints/complaint.html",
        {
            "complaint": view,
            "buttons": buttons,
            "may_reply": view.state in states.OPEN_COMPLAINT_STATES,
            "reply": reply or blank(),
            "moving": moving or blank(),
            "labels": LABELS,
        },
        status_code=status_code,
    )


@get("/complaints/{complaint_id:uuid}", opt={"owner_of": complaint_owner})
async def your_complaint(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    complaint_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """One of the mentee's complaints: where it stands, what staff told them, their answers
    (never staff's internal notes: the service leaves them out for a complainant)."""
    return await _complaint_page(request, complaints, complaint_id, now)


@post("/complaints/{complaint_id:uuid}/reply", opt={"owner_of": complaint_owner})
async def reply_to_complaint(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    complaint_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """The complainant answers (a note, as ``POST .../notes``); while the case waits on them
    this restarts its clock."""
    form = await read_form(request, Reply)
    if not form.valid or form.data is None:
        return await _complaint_page(request, complaints, complaint_id, now, reply=form, status_code=422)
    try:
        await service.add_note(
            complaints, complaint_id, actor=request.user, data=NoteCreate(body=form.data.body), now=now
        )
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _complaint_page(
            request, complaints, complaint_id, now, reply=refused, status_code=refusal_status(problem)
        )
    return Redirect(f"/complaints/{complaint_id}#notes", status_code=303)


@post("/complaints/{complaint_id:uuid}/moves", opt={"owner_of": complaint_owner})
async def move_your_complaint(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    complaint_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Withdraw, close or appeal (as ``POST .../transitions``; the service judges who may)."""
    form = await read_form(request, ComplainantMove)
    if not form.valid or form.data is None:
        return await _complaint_page(request, complaints, complaint_id, now, moving=form, status_code=422)
    data = ComplaintTransition(to=form.data.to, reason=form.data.reason)
    try:
        await service.transition(
            complaints, complaint_id, actor=request.user, data=data, expected_version=form.data.version, now=now
        )
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _complaint_page(
            request, complaints, complaint_id, now, moving=refused, status_code=refusal_status(problem)
        )
    return Redirect(f"/complaints/{complaint_id}", status_code=303)


async def _dispute_page(
    request: AnyRequest,
    complaints: Complaints,
    attestation_id: uuid.UUID,
    now: datetime,
    *,
    form: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    attestation = await attestations.get(attestation_id)
    await audit.record_read(request.user, "attestation.read", "attestation", str(attestation_id))
    # The latest dispute of this attestation, as its party may read it (none while never disputed).
    latest = next((change.dispute_id for change in reversed(attestation.history) if change.dispute_id), None)
    dispute = await disputes.get(complaints, latest, reader=request.user, now=now) if latest else None
    may_open = attestation.status != "revoked" and (dispute is None or dispute.state not in states.OPEN_DISPUTE_STATES)
    return render(
        request,
        "complaints/dispute.html",
        {
            "attestation": attestation,
            "dispute": dispute,
            "may_open": may_open,
            "form": form or blank(),
            "labels": LABELS,
        },
        status_code=status_code,
    )


@get("/attestations/{attestation_id:uuid}/dispute", opt={"owner_of": attestation_party})
async def dispute_form(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    attestation_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """An attestation its candidate (or mentor) may dispute: its status and history, the
    dispute under way if there is one (tier, deadline, decisions), else the form to open one
    (as ``GET /api/v1/attestations/{id}``, audited as a read like it)."""
    return await _dispute_page(request, complaints, attestation_id, now)


@post("/attestations/{attestation_id:uuid}/dispute", opt={"owner_of": attestation_party})
async def open_dispute(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    attestation_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Open a dispute at L1 (as ``POST /api/v1/attestations/{id}/disputes``)."""
    form = await read_form(request, Dispute)
    if not form.valid or form.data is None:
        return await _dispute_page(request, complaints, attestation_id, now, form=form, status_code=422)
    evidence = [form.data.evidence] if form.data.evidence else []
    data = DisputeCreate(reason=form.data.reason, evidence=evidence)
    try:
        await disputes.open_dispute(complaints, attestation_id, actor=request.user, data=data, now=now)
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _dispute_page(
            request, complaints, attestation_id, now, form=refused, status_code=refusal_status(problem)
        )
    return Redirect(f"/attestations/{attestation_id}/dispute", status_code=303)


# ---- public pages ----------------------------------------------------------------------


@get("/attestations/check", exclude_from_auth=True, opt={LIMITED_PER_CLIENT: True})
async def check_attestation(request: AnyRequest) -> Response[Any]:
    """An attestation's status for whoever holds its id (an employer): status, since when,
    whether the token's digest matches (as ``GET /api/v1/attestations/{id}/status``).
    Nothing else about it or its holder; counted per client address."""
    # The language switch's own parameter is the shell's, not the form's.
    asked = MultiDict([(name, value) for name, value in request.query_params.multi_items() if name != "lang"])
    if not asked:
        return render(request, "complaints/check.html", {"form": blank(), "result": None})
    form = decode_form(asked, AttestationCheck)
    if not form.valid or form.data is None:
        return render(request, "complaints/check.html", {"form": form, "result": None}, status_code=422)
    try:
        result = await attestations.public_status(form.data.attestation_id, form.data.digest)
    except HTTPException as problem:
        if problem.status_code != 404:
            raise
        form.errors["attestation_id"] = gettext(N_("No attestation has this id. Check it against what you were given."))
        return render(request, "complaints/check.html", {"form": form, "result": None}, status_code=404)
    return render(request, "complaints/check.html", {"form": form, "result": result, "labels": LABELS})


@get("/escalation", exclude_from_auth=True)
async def escalation_path(request: AnyRequest, complaints: NamedDependency[Complaints]) -> Response[Any]:
    """The published escalation path, from the configuration the workflows run on (as
    ``GET /api/v1/escalation-policy``): targets, tiers, who decides, appeals, outside help."""

    def context() -> dict[str, Any]:
        published = policy.published(complaints.policy)
        return {
            "policy": published,
            "immediately": ", ".join(gettext(CATEGORY_LABELS[c]) for c in published.escalated_immediately),
            "words": duration_words,
            "labels": LABELS,
        }

    # The same document for every signed-out reader in a language, while the policy is the same.
    return render(request, "complaints/escalation.html", context, published=("escalation", (complaints.policy,)))


@get("/ratings-method", exclude_from_auth=True)
async def ratings_method(request: AnyRequest) -> Response[Any]:
    """The attestation templates mentors score against, and how ratings are checked: agreement
    (``GET /api/v1/complaints/summary``), leniency and dispute outcomes
    (``GET /api/v1/mentors/{id}/attestation-quality``)."""
    return render(
        request,
        "complaints/ratings.html",
        {
            "confidence": agreement.CONFIDENCE,
            "resamples": agreement.RESAMPLES,
            "seed": agreement.SEED,
            "minimum_ratings": agreement.MINIMUM_RATINGS,
            "minimum_comparisons": agreement.MINIMUM_COMPARISONS,
            "window_days": attestations.AGREEMENT_WINDOW.days,
            "templates": attestations.templates().all(),
        },
    )


PAGES: list[ControllerRouterHandler] = [
    your_complaints,
    new_complaint,
    file_complaint,
    your_complaint,
    reply_to_complaint,
    move_your_complaint,
    dispute_form,
    open_dispute,
    *SUPPORT_PAGES,
    check_attestation,
    escalation_path,
    ratings_method,
]
