"""Complaint pages (thin: the complaints services, a template).

- A mentee files a complaint, follows it, reads what staff addressed to them, answers
  while it waits on them, and withdraws, closes or appeals it (``/complaints...``).
- Support agents and compliance officers work the queue by SLA deadline (``/support``)
  and each case (``/support/cases/{complaint_id}``): its timeline from the audit log, the
  moves ``allowed_next`` offers, staff-only notes and notes to the complainant, refunds
  with their four-eyes state.
- Anyone, signed in or not: an attestation's status (``/attestations/check``), the
  escalation path (``/escalation``) and how attestation ratings are judged
  (``/ratings-method``).

Every change goes through the same service call as the API (same transaction, same audit
entry); a service's refusal comes back beside the form.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import MultiDict
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.complaints import attestations, business_hours, disputes, policy, queue, refunds, service, states
from governance.complaints.config import Complaints
from governance.complaints.policy import Clock
from governance.complaints.routes import attestation_party, complaint_owner
from governance.complaints.schemas import (
    CATEGORIES,
    COMPLAINT_STATES,
    Category,
    ComplaintCreate,
    ComplaintState,
    ComplaintSummary,
    ComplaintTransition,
    ComplaintView,
    DisputeCreate,
    DisputeSummary,
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
from governance.core.ratelimits import LIMITED_PER_CLIENT
from governance.core.shapes import Input
from governance.web.forms import Form, blank, decode_form, read_form
from governance.web.i18n import N_, gettext
from governance.web.rendering import render

AnyRequest = Request[Any, Any, Any]
PAGE_SIZE: Final = 25
# A case whose deadline is nearer than this (counted time) shows as due soon.
DUE_SOON: Final = timedelta(hours=2)
CASE_HISTORY_LIMIT: Final = 200
RECENT_DISPUTES: Final = 10

STATE_LABELS: Final = {
    "received": N_("Received"),
    "acknowledged": N_("Acknowledged"),
    "investigating": N_("Under investigation"),
    "awaiting_complainant": N_("Waiting for the complainant"),
    "escalated": N_("Escalated to compliance"),
    "resolved": N_("Resolved"),
    "closed": N_("Closed"),
    "withdrawn": N_("Withdrawn"),
    "reopened": N_("Reopened (appeal)"),
}
# What the button that makes each move says, to staff and to the complainant.
MOVE_LABELS: Final = {
    "acknowledged": N_("Acknowledge"),
    "investigating": N_("Start investigating"),
    "awaiting_complainant": N_("Ask the complainant (pauses the clock)"),
    "escalated": N_("Escalate to compliance"),
    "resolved": N_("Resolve"),
    "closed": N_("Close"),
    "withdrawn": N_("Withdraw the complaint"),
    "reopened": N_("Reopen (appeal the outcome)"),
}
DISPUTE_MOVE_LABELS: Final = {
    "l2_review": N_("Escalate to compliance review (L2)"),
    "l3_review": N_("Escalate to the panel (L3)"),
    "withdrawn": N_("Withdraw the dispute"),
}
CATEGORY_LABELS: Final = {
    "session_quality": N_("Quality of a session"),
    "mentor_conduct": N_("A mentor's conduct"),
    "safeguarding": N_("Safeguarding (someone's safety)"),
    "billing": N_("Billing and payments"),
    "attestation": N_("An attestation"),
    "privacy": N_("Privacy"),
    "other": N_("Something else"),
}
SEVERITY_LABELS: Final = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "critical": N_("Critical"),
}
OUTCOME_LABELS: Final = {
    "upheld": N_("Upheld"),
    "partially_upheld": N_("Partially upheld"),
    "not_upheld": N_("Not upheld"),
    "amended": N_("Amended"),
    "revoked": N_("Revoked"),
}
REMEDY_LABELS: Final = {
    "apology": N_("Apology"),
    "refund": N_("Refund"),
    "repeat_session": N_("Repeat session"),
    "attestation_review": N_("Attestation review"),
    "mentor_action": N_("Action about the mentor"),
    "explanation": N_("Explanation"),
}
REFUND_STATE_LABELS: Final = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "denied": N_("Denied"),
    "issued": N_("Paid out"),
    "failed": N_("Payout failed"),
}
ATTESTATION_STATUS_LABELS: Final = {
    "valid": N_("Valid"),
    "disputed": N_("Under dispute"),
    "amended": N_("Amended after a dispute"),
    "revoked": N_("Revoked"),
}
DISPUTE_STATE_LABELS: Final = {
    "l1_review": N_("Under support review (L1)"),
    "l2_review": N_("Under compliance review (L2)"),
    "l3_review": N_("Before a panel (L3)"),
    "decided": N_("Decided"),
    "revoked": N_("Attestation revoked"),
    "withdrawn": N_("Withdrawn"),
}
# The audit actions a case's timeline shows, in words.
ACTION_LABELS: Final = {
    "complaint.filed": N_("Complaint filed"),
    "complaint.transitioned": N_("Moved"),
    "complaint.escalated": N_("Escalated"),
    "complaint.note_added": N_("Note added"),
    "complaint.sla_breached": N_("SLA target missed"),
    "dispute.opened": N_("Dispute opened"),
    "dispute.escalated": N_("Escalated"),
    "dispute.appealed": N_("Appealed"),
    "dispute.vote_recorded": N_("Vote recorded"),
    "dispute.decided": N_("Decided"),
    "dispute.revoked": N_("Attestation revoked"),
    "dispute.withdrawn": N_("Withdrawn"),
    "dispute.sla_breached": N_("Decision deadline missed"),
    "dispute.read": N_("Read"),
    "refund.requested": N_("Refund requested"),
    "refund.approved": N_("Approved"),
    "refund.approval_recorded": N_("Approval recorded"),
    "refund.approval_refused": N_("Approval refused (four eyes)"),
    "refund.denied": N_("Denied"),
    "refund.issued": N_("Paid out"),
    "refund.failed": N_("Payout failed"),
}
LABELS: Final = {
    "state": STATE_LABELS,
    "move": MOVE_LABELS,
    "category": CATEGORY_LABELS,
    "severity": SEVERITY_LABELS,
    "outcome": OUTCOME_LABELS,
    "remedy": REMEDY_LABELS,
    "refund": REFUND_STATE_LABELS,
    "attestation": ATTESTATION_STATUS_LABELS,
    "dispute": DISPUTE_STATE_LABELS,
    "dispute_move": DISPUTE_MOVE_LABELS,
    "action": ACTION_LABELS,
}
# Moves a complainant makes with a button; answering a question is a reply, not a button.
COMPLAINANT_BUTTONS: Final = ("withdrawn", "closed", "reopened")


def _labelled(labels: dict[str, str], values: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    return [(value, gettext(labels[value])) for value in values]


# ---- forms -----------------------------------------------------------------------------


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


class Dispute(Input):
    """A party's dispute of an attestation: why, and a reference to evidence if they have one."""

    reason: Text
    evidence: Annotated[str, limits.identifier(500)] | None = None


class AttestationCheck(Input):
    """What an employer was given: the attestation's id, and optionally the token's digest."""

    attestation_id: uuid.UUID
    digest: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-fA-F]{64}$", max_length=64)] | None = None


# ---- SLA standing ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a case stands against its next deadline, in words and a badge tone."""

    label: str
    tone: str


def _hours(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return gettext(N_("%(hours)s h %(minutes)s min"), hours=hours, minutes=minutes)
    if hours:
        return gettext(N_("%(hours)s h"), hours=hours)
    return gettext(N_("%(minutes)s min"), minutes=minutes)


def standing(
    complaints: Complaints,
    *,
    clock: Clock,
    state: str,
    breached: bool,
    due: datetime | None,
    now: datetime,
) -> Standing:
    """The queue's "time left": counted on the case's clock (business hours, or every hour),
    the clock shown paused while the case waits on the complainant, a breach said so."""
    calendar = complaints.policy.clock(clock)
    business = clock == "business"
    if due is None:
        if state == "awaiting_complainant":
            return Standing(gettext(N_("Clock paused: waiting for the complainant")), "info")
        if breached:
            return Standing(gettext(N_("Breached an SLA target")), "danger")
        return Standing(gettext(N_("No deadline pending")), "neutral")
    if due <= now:
        late = _hours(business_hours.elapsed(calendar, due, now))
        words = N_("Overdue by %(time)s of business time") if business else N_("Overdue by %(time)s")
        return Standing(gettext(words, time=late), "danger")
    left = business_hours.elapsed(calendar, now, due)
    words = N_("%(time)s of business time left") if business else N_("%(time)s left")
    prefix = gettext(N_("Breached earlier; ")) if breached else ""
    tone = "danger" if breached else "warning" if left <= DUE_SOON else "ok"
    return Standing(prefix + gettext(words, time=_hours(left)), tone)


def _summary_standing(complaints: Complaints, item: ComplaintSummary, now: datetime) -> Standing:
    return standing(
        complaints,
        clock=complaints.policy.targets_for(item.category, item.severity).clock,
        state=item.state,
        breached=item.breached,
        due=item.next_due,
        now=now,
    )


def _view_standing(complaints: Complaints, view: ComplaintView, now: datetime) -> Standing:
    sla = view.sla
    dues = [d for d in (sla.acknowledge_due, sla.first_response_due, sla.resolve_due) if d is not None]
    return standing(
        complaints,
        clock="business" if sla.clock == "business" else "calendar",
        state=view.state,
        breached=sla.breached,
        due=min(dues) if dues else None,
        now=now,
    )


def _dispute_standing(complaints: Complaints, item: DisputeSummary, now: datetime) -> Standing:
    tier = complaints.policy.tiers[item.tier]
    return standing(complaints, clock=tier.clock, state=item.state, breached=False, due=item.decide_due, now=now)


def _entry_standing(complaints: Complaints, entry: queue.Entry, now: datetime) -> Standing:
    if entry.complaint is not None:
        return _summary_standing(complaints, entry.complaint, now)
    assert entry.dispute is not None  # an entry is one or the other
    return _dispute_standing(complaints, entry.dispute, now)


def _refusal(problem: HTTPException) -> int:
    """The status a refused form answers: a field's fault 422, a conflict or a refusal as is."""
    return 422 if problem.status_code == 400 else problem.status_code


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
    found = await service.search(complainant=request.user.sub, limit=PAGE_SIZE, cursor=cursor)
    # Their latest disputes too (as ``GET /api/v1/disputes``), each to its attestation's page.
    theirs = await disputes.search(state=None, party=request.user.sub, limit=RECENT_DISPUTES, cursor=None)
    return render(
        request,
        "complaints/mine.html",
        {"complaints": found.items, "next_cursor": found.next_cursor, "disputes": theirs.items, "labels": LABELS},
    )


def _filing_page(request: AnyRequest, form: Form[Any], status_code: int = 200) -> Response[Any]:
    categories = _labelled(CATEGORY_LABELS, list(CATEGORIES))
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
        return _filing_page(request, form.refused(problem), _refusal(problem))
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
            request, complaints, complaint_id, now, reply=refused, status_code=_refusal(problem)
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
            request, complaints, complaint_id, now, moving=refused, status_code=_refusal(problem)
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
            request, complaints, attestation_id, now, form=refused, status_code=_refusal(problem)
        )
    return Redirect(f"/attestations/{attestation_id}/dispute", status_code=303)


# ---- the support queue and the case page -----------------------------------------------


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
    context: dict[str, Any] = {"kind": kind, "kinds": _labelled(QUEUE_KINDS, list(QUEUE_KINDS)), "labels": LABELS}
    if kind == "all":
        position = queue.Position(complaints_cursor, disputes_cursor, complaints_done, disputes_done)
        merged = await queue.page(position, PAGE_SIZE)
        context["rows"] = [(entry, _entry_standing(complaints, entry, now)) for entry in merged.entries]
        context["next_cursor"] = None
        context["next_link"] = _next_link(merged.next) if merged.next else None
        return render(request, "complaints/queue.html", context)
    if kind == "disputes":
        open_disputes = await disputes.queue(limit=PAGE_SIZE, cursor=cursor)
        context["rows"] = [(item, _dispute_standing(complaints, item, now)) for item in open_disputes.items]
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
        rows=[(item, _summary_standing(complaints, item, now)) for item in found.items],
        next_cursor=found.next_cursor,
        filters=blank(filters),
        kept={name: value for name, value in filters.items() if value},
        states=_labelled(STATE_LABELS, list(COMPLAINT_STATES)),
        categories=_labelled(CATEGORY_LABELS, list(CATEGORIES)),
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
            "standing": _view_standing(complaints, view, now),
            "buttons": [target for target in moves if target != "resolved"],
            "may_resolve": "resolved" in moves,
            "timeline": timeline[-CASE_HISTORY_LIMIT:],
            "refunds": found.items,
            "moving": moving or blank(),
            "noting": noting or blank({"audience": "staff"}),
            "outcomes": _labelled(OUTCOME_LABELS, ["upheld", "partially_upheld", "not_upheld"]),
            "remedies": _labelled(REMEDY_LABELS, list(REMEDY_LABELS)),
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
        return await _case_page(request, complaints, complaint_id, now, moving=refused, status_code=_refusal(problem))
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
        return await _case_page(request, complaints, complaint_id, now, noting=refused, status_code=_refusal(problem))
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
            request, complaints, dispute_id, now, moving=refused, status_code=_refusal(problem)
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
        return await _refund_page(request, complaints, refund_id, deciding=refused, status_code=_refusal(problem))
    return Redirect(f"/support/refunds/{refund_id}", status_code=303)


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


_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def duration_words(text: str | None, clock: str = "calendar") -> str:
    """``PT16H`` as "16 working hours" on a business clock, ``P3D`` as "3 days"."""
    if not text:
        return ""
    match = _ISO.match(text)
    if match is None:
        return text
    days, hours, minutes = (int(part) if part else 0 for part in match.groups())
    parts = []
    if days:
        parts.append(gettext(N_("%(n)s days"), n=days) if days != 1 else gettext(N_("1 day")))
    if hours:
        if clock == "business":
            parts.append(gettext(N_("%(n)s working hours"), n=hours) if hours != 1 else gettext(N_("1 working hour")))
        else:
            parts.append(gettext(N_("%(n)s hours"), n=hours) if hours != 1 else gettext(N_("1 hour")))
    if minutes:
        parts.append(gettext(N_("%(n)s minutes"), n=minutes))
    return " ".join(parts) or text


@get("/escalation", exclude_from_auth=True)
async def escalation_path(request: AnyRequest, complaints: NamedDependency[Complaints]) -> Response[Any]:
    """The published escalation path, from the configuration the workflows run on (as
    ``GET /api/v1/escalation-policy``): targets, tiers, who decides, appeals, outside help."""
    published = policy.published(complaints.policy)
    return render(
        request,
        "complaints/escalation.html",
        {
            "policy": published,
            "immediately": ", ".join(gettext(CATEGORY_LABELS[c]) for c in published.escalated_immediately),
            "words": duration_words,
            "labels": LABELS,
        },
    )


@get("/ratings-method", exclude_from_auth=True)
async def ratings_method(request: AnyRequest) -> Response[Any]:
    """How attestation ratings are checked: the agreement score and dispute outcomes (as
    ``GET /api/v1/mentors/{id}/attestation-quality`` computes them)."""
    return render(request, "complaints/ratings.html", {})


PAGES: list[ControllerRouterHandler] = [
    your_complaints,
    new_complaint,
    file_complaint,
    your_complaint,
    reply_to_complaint,
    move_your_complaint,
    dispute_form,
    open_dispute,
    support_queue,
    case_page,
    move_case,
    note_case,
    dispute_case,
    move_dispute,
    refund_page,
    decide_refund,
    check_attestation,
    escalation_path,
    ratings_method,
]
