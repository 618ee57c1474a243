"""The support desk's pages: the queue and the case pages of complaints, disputes and
refunds, for support agents and compliance officers (thin: the complaints services, a
template). Every move goes through the same service call as the API, at the version the
page showed; a refusal comes back beside the form.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.complaints import disputes, queue, refunds, service, states
from governance.complaints.config import Complaints
from governance.complaints.presentation import (
    CASE_HISTORY_LIMIT,
    CATEGORY_LABELS,
    DISPUTE_MOVE_LABELS,
    LABELS,
    OUTCOME_LABELS,
    PAGE_SIZE,
    REMEDY_LABELS,
    STATE_LABELS,
    dispute_standing,
    entry_standing,
    labelled,
    queue_rows,
    refusal_status,
    standing,
    summary_standing,
    view_standing,
)
from governance.complaints.schemas import (
    CATEGORIES,
    COMPLAINT_STATES,
    Category,
    ComplaintState,
    ComplaintTransition,
    DisputeTransition,
    NoteCreate,
    Outcome,
    RefundTransition,
    Remedy,
    Score,
    ShortText,
    Text,
)
from governance.core import limits
from governance.core.pagination import CursorParam
from governance.core.shapes import Input
from governance.web.forms import Form, blank, read_form
from governance.web.i18n import N_, active, gettext
from governance.web.rendering import render

AnyRequest = Request[Any, Any, Any]


class CaseMove(Input):
    """A staff move on a case, at the version they saw; resolving brings outcome and reasons."""

    to: ComplaintState
    version: Annotated[int, msgspec.Meta(ge=1)]
    reason: ShortText | None = None
    assignee: limits.Identifier | None = None
    outcome: Outcome | None = None
    remedies: list[Remedy] = msgspec.field(default_factory=list)
    reasons: Text | None = None


class DisputeMove(Input):
    """A staff move on a dispute, at the version they saw: escalate, vote (decide or revoke,
    with reasons; amending gives the new score) or withdraw."""

    to: Literal["l2_review", "l3_review", "decided", "revoked", "withdrawn"]
    version: Annotated[int, msgspec.Meta(ge=1)]
    outcome: Literal["upheld", "amended"] | None = None
    new_score: Score | None = None
    reasons: ShortText | None = None


class RefundDecision(Input):
    """An approval or a denial of a refund, with its reasons, at the version seen."""

    to: Literal["approved", "denied"]
    version: Annotated[int, msgspec.Meta(ge=1)]
    reasons: ShortText


class CaseNote(Input):
    """A staff note: kept among staff, or addressed to the complainant."""

    body: Text
    audience: Literal["staff", "complainant"]


QueueKind = Literal["all", "complaints", "disputes", "refunds"]
QUEUE_KINDS: Final = {
    "all": N_("Everything by deadline"),
    "complaints": N_("Complaints"),
    "disputes": N_("Disputed attestations"),
    "refunds": N_("Refunds awaiting approval"),
}


def _next_link(position: queue.Position) -> str:
    given = {
        "complaints_cursor": position.complaints or "",
        "disputes_cursor": position.disputes or "",
        "complaints_done": "true" if position.complaints_done else "",
        "disputes_done": "true" if position.disputes_done else "",
    }
    return "/support?" + urlencode({name: value for name, value in given.items() if value})


# The same words on every request, read only by the template: made once per catalog.
@lru_cache(maxsize=16)
def _queue_words(translations: Any) -> tuple[list[tuple[str, str]], ...]:
    """The queue's kinds and its filters' states and categories, in ``translations`` (the
    active catalog's) words."""
    return (
        labelled(QUEUE_KINDS, list(QUEUE_KINDS)),
        labelled(STATE_LABELS, list(COMPLAINT_STATES)),
        labelled(CATEGORY_LABELS, list(CATEGORIES)),
    )


@get("/support", opt={"navigation": N_("Support queue")})
async def support_queue(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    kind: Annotated[QueueKind, QueryParameter(required=False)] = "all",
    state_filter: Annotated[ComplaintState | None, QueryParameter(name="state", required=False)] = None,
    category: Annotated[Category | None, QueryParameter(required=False)] = None,
    mine: Annotated[bool, QueryParameter(required=False)] = False,
    breached: Annotated[bool, QueryParameter(required=False)] = False,
    cursor: CursorParam = None,
    complaints_cursor: CursorParam = None,
    disputes_cursor: CursorParam = None,
    complaints_done: Annotated[bool, QueryParameter(required=False)] = False,
    disputes_done: Annotated[bool, QueryParameter(required=False)] = False,
) -> Response[Any]:
    """The support queue, one page read in SQL. By default complaints and open disputes
    together by deadline (:mod:`governance.complaints.queue`); or complaints only by SLA
    deadline, soonest (so overdue) first (as ``GET /api/v1/complaints?sort=due``), filtered
    by state, category, assigned to me, breached; open disputes by decision deadline;
    refunds awaiting approval with what four eyes still need (as ``GET
    /api/v1/refunds?state=requested``). Time left is counted on each case's clock; paused
    clocks and breaches are said in words."""
    if kind == "all" and (state_filter or category or mine or breached):
        kind = "complaints"  # the filters are the complaints'
    kinds, states, categories = _queue_words(active().translations)
    context: dict[str, Any] = {"kind": kind, "kinds": kinds, "labels": LABELS}
    if kind == "all":
        position = queue.Position(complaints_cursor, disputes_cursor, complaints_done, disputes_done)
        merged = await queue.page(position, PAGE_SIZE)
        context["rows"] = [(entry, entry_standing(complaints, entry, now)) for entry in merged.entries]
        context["next_cursor"] = None
        context["next_link"] = _next_link(merged.next) if merged.next else None
        return render(request, "complaints/queue.html", context)
    if kind == "disputes":
        open_disputes = await disputes.queue(limit=PAGE_SIZE, cursor=cursor)
        context["rows"] = [(item, dispute_standing(complaints, item, now)) for item in open_disputes.items]
        context["next_cursor"], context["kept"] = open_disputes.next_cursor, {"kind": kind}
        return render(request, "complaints/queue.html", context)
    if kind == "refunds":
        waiting = await refunds.awaiting_approval(limit=PAGE_SIZE, cursor=cursor)
        context["rows"], context["next_cursor"], context["kept"] = waiting.items, waiting.next_cursor, {"kind": kind}
        return render(request, "complaints/queue.html", context)
    found = await service.search(
        state=state_filter,
        category=category,
        assignee=request.user.sub if mine else None,
        breached=True if breached else None,
        sort="due",
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    filters = {
        "state": state_filter or "",
        "category": category or "",
        "mine": "true" if mine else "",
        "breached": "true" if breached else "",
    }
    context.update(
        rows=queue_rows((item, summary_standing(complaints, item, now)) for item in found.items),
        next_cursor=found.next_cursor,
        filters=blank(filters),
        kept={name: value for name, value in filters.items() if value},
        states=states,
        categories=categories,
    )
    return render(request, "complaints/queue.html", context)


async def _case_page(
    request: AnyRequest,
    complaints: Complaints,
    complaint_id: uuid.UUID,
    now: datetime,
    *,
    moving: Form[Any] | None = None,
    noting: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    view = await service.get(complaints, complaint_id, reader=request.user, now=now)
    kinds = states.complaint_actor_kinds(request.user, view.complainant_id)
    moves = [
        target
        for target in view.allowed_next
        if states.permitted(states.COMPLAINT_MOVES, view.state, target, kinds - {"complainant"})
    ]
    timeline = await audit.history("complaint", str(complaint_id))
    found = await refunds.search(
        complaints,
        state=None,
        session_id=None,
        complaint_id=complaint_id,
        mentee=None,
        limit=50,
        cursor=None,
        reader=request.user,
    )
    return render(
        request,
        "complaints/case.html",
        {
            "complaint": view,
            "standing": view_standing(complaints, view, now),
            "buttons": [target for target in moves if target != "resolved"],
            "may_resolve": "resolved" in moves,
            "timeline": timeline[-CASE_HISTORY_LIMIT:],
            "refunds": found.items,
            "moving": moving or blank(),
            "noting": noting or blank({"audience": "staff"}),
            "outcomes": labelled(OUTCOME_LABELS, ["upheld", "partially_upheld", "not_upheld"]),
            "remedies": labelled(REMEDY_LABELS, list(REMEDY_LABELS)),
            "audiences": [
                ("staff", gettext(N_("Staff only: the complainant never sees it"))),
                ("complainant", gettext(N_("To the complainant: they see it on their complaint page"))),
            ],
            "labels": LABELS,
        },
        status_code=status_code,
    )


@get("/support/cases/{complaint_id:uuid}")
async def case_page(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    complaint_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """One case as staff work it (as ``GET /api/v1/complaints/{id}``): SLA standing, the
    timeline from the audit log, every note (internal ones marked), refunds with their
    four-eyes state, and the moves the case allows now."""
    return await _case_page(request, complaints, complaint_id, now)


@post("/support/cases/{complaint_id:uuid}/moves")
async def move_case(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    complaint_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Move the case (as ``POST /api/v1/complaints/{id}/transitions``, at the version shown)."""
    form = await read_form(request, CaseMove)
    if not form.valid or form.data is None:
        return await _case_page(request, complaints, complaint_id, now, moving=form, status_code=422)
    given = form.data
    data = ComplaintTransition(
        to=given.to,
        reason=given.reason,
        assignee=given.assignee,
        outcome=given.outcome,
        remedies=list(given.remedies),
        reasons=given.reasons,
    )
    try:
        await service.transition(
            complaints, complaint_id, actor=request.user, data=data, expected_version=given.version, now=now
        )
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _case_page(
            request, complaints, complaint_id, now, moving=refused, status_code=refusal_status(problem)
        )
    return Redirect(f"/support/cases/{complaint_id}", status_code=303)


@post("/support/cases/{complaint_id:uuid}/notes")
async def note_case(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    complaint_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Add a note (as ``POST /api/v1/complaints/{id}/notes``): staff only, or to the
    complainant (a response: it meets the first-response target)."""
    form = await read_form(request, CaseNote)
    if not form.valid or form.data is None:
        return await _case_page(request, complaints, complaint_id, now, noting=form, status_code=422)
    data = NoteCreate(body=form.data.body, to_complainant=form.data.audience == "complainant")
    try:
        await service.add_note(complaints, complaint_id, actor=request.user, data=data, now=now)
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _case_page(
            request, complaints, complaint_id, now, noting=refused, status_code=refusal_status(problem)
        )
    return Redirect(f"/support/cases/{complaint_id}#notes", status_code=303)


async def _dispute_case_page(
    request: AnyRequest,
    complaints: Complaints,
    dispute_id: uuid.UUID,
    now: datetime,
    *,
    moving: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    dispute = await disputes.get(complaints, dispute_id, reader=request.user, now=now)
    await audit.record_read(request.user, "dispute.read", "dispute", str(dispute_id))
    kinds = states.staff_kinds(request.user)
    if request.user.sub in (dispute.candidate_id, dispute.mentor_id):
        kinds.add("party")
    if request.user.sub == dispute.opened_by:
        kinds.add("opener")
    moves = [
        target
        for target in dispute.allowed_next
        if states.permitted(states.DISPUTE_MOVES, dispute.state, target, kinds)
    ]
    tier = complaints.policy.tiers[dispute.tier]
    due = standing(
        complaints,
        clock=tier.clock,
        state=dispute.state,
        breached=False,
        due=dispute.decide_due if dispute.state in states.OPEN_DISPUTE_STATES else None,
        now=now,
    )
    return render(
        request,
        "complaints/dispute_case.html",
        {
            "dispute": dispute,
            "standing": due,
            "buttons": [target for target in moves if target in DISPUTE_MOVE_LABELS],
            "may_decide": "decided" in moves,
            "may_revoke": "revoked" in moves,
            "outcomes": [
                (value, gettext(OUTCOME_LABELS[value])) for value in ("upheld", "amended") if value in tier.outcomes
            ],
            "timeline": (await audit.history("dispute", str(dispute_id)))[-CASE_HISTORY_LIMIT:],
            "moving": moving or blank(),
            "labels": LABELS,
        },
        status_code=status_code,
    )


@get("/support/disputes/{dispute_id:uuid}")
async def dispute_case(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    dispute_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """A disputed attestation as staff work it (as ``GET /api/v1/disputes/{id}``, audited as
    a read like it): tier and deadline, the reason and evidence, every vote and decision,
    the timeline from the audit log, and the moves open to this person now."""
    return await _dispute_case_page(request, complaints, dispute_id, now)


@post("/support/disputes/{dispute_id:uuid}/moves")
async def move_dispute(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    dispute_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Escalate, vote or withdraw (as ``POST /api/v1/disputes/{id}/transitions``, at the
    version shown); four eyes, panels and appeal windows are the service's to judge."""
    form = await read_form(request, DisputeMove)
    if not form.valid or form.data is None:
        return await _dispute_case_page(request, complaints, dispute_id, now, moving=form, status_code=422)
    given = form.data
    data = DisputeTransition(to=given.to, outcome=given.outcome, new_score=given.new_score, reasons=given.reasons)
    try:
        await disputes.transition(
            complaints, dispute_id, actor=request.user, data=data, expected_version=given.version, now=now
        )
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _dispute_case_page(
            request, complaints, dispute_id, now, moving=refused, status_code=refusal_status(problem)
        )
    return Redirect(f"/support/disputes/{dispute_id}", status_code=303)


async def _refund_page(
    request: AnyRequest,
    complaints: Complaints,
    refund_id: uuid.UUID,
    *,
    deciding: Form[Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    refund = await refunds.get(complaints, refund_id, reader=request.user)
    kinds = states.staff_kinds(request.user)
    moves = [t for t in refund.allowed_next if states.permitted(states.REFUND_MOVES, refund.state, t, kinds)]
    timeline = (await audit.history("refund", str(refund_id)))[-CASE_HISTORY_LIMIT:]
    return render(
        request,
        "complaints/refund.html",
        {
            "refund": refund,
            "missing": max(0, refund.approvals_needed - len(refund.approved_by)),
            "requested_by_me": refund.requested_by == request.user.sub,
            "approved_by_me": request.user.sub in refund.approved_by,
            "moves": moves,
            "timeline": timeline,
            "deciding": deciding or blank(),
            "labels": LABELS,
        },
        status_code=status_code,
    )


@get("/support/refunds/{refund_id:uuid}")
async def refund_page(
    request: AnyRequest, complaints: NamedDependency[Complaints], refund_id: FromPath[uuid.UUID]
) -> Response[Any]:
    """A refund as staff decide it (as ``GET /api/v1/refunds/{id}``): amount, who requested
    it, each approval with its reasons, what four eyes still need, the audit timeline."""
    return await _refund_page(request, complaints, refund_id)


@post("/support/refunds/{refund_id:uuid}/decision")
async def decide_refund(
    now: NamedDependency[datetime],
    request: AnyRequest,
    complaints: NamedDependency[Complaints],
    refund_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Approve or deny (as ``POST /api/v1/refunds/{id}/transitions``): the requester never
    approves, nobody approves twice; a refusal is itself an audit entry."""
    form = await read_form(request, RefundDecision)
    if not form.valid or form.data is None:
        return await _refund_page(request, complaints, refund_id, deciding=form, status_code=422)
    data = RefundTransition(to=form.data.to, reasons=form.data.reasons)
    try:
        await refunds.transition(
            complaints, refund_id, actor=request.user, data=data, expected_version=form.data.version, now=now
        )
    except HTTPException as problem:
        refused = form.refused(problem)
        return await _refund_page(request, complaints, refund_id, deciding=refused, status_code=refusal_status(problem))
    return Redirect(f"/support/refunds/{refund_id}", status_code=303)


SUPPORT_PAGES: list[ControllerRouterHandler] = [
    support_queue,
    case_page,
    move_case,
    note_case,
    dispute_case,
    move_dispute,
    refund_page,
    decide_refund,
]
