"""Vetting pages: the compliance officer's mentor list and dossier (thin: the vetting
services, a template).

``/vetting/mentors`` lists mentors, filtered by status or by a check about to lapse and
paginated in SQL. A mentor's dossier shows what their vetting rests on, each fact linked
to the audit entry that recorded it; from it an officer records checks, attaches their
evidence, moves them, and proposes, confirms, rejects or withdraws decisions. Decisions are
four-eyes: the proposer may press "Confirm" like anyone, and the service's refusal is shown
beside the decision, as the audit log records it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import MultiDict, UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Stream
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.core import limits
from governance.core.errors import Problem, not_found
from governance.core.pagination import CursorParam as Cursor
from governance.core.shapes import Input
from governance.vetting import documents, dossier, service
from governance.vetting.schemas import (
    CheckRecord,
    CheckTransition,
    DecisionProposal,
    DetailValue,
    LongText,
)
from governance.vetting.states import MENTOR_STATUSES, CheckState, DecisionAction, MentorStatus
from governance.web.forms import Form, blank, decode_form, plain, read_form
from governance.web.i18n import N_, gettext
from governance.web.rendering import render

PAGE_SIZE: Final = 25
DETAIL_PREFIX: Final = "detail_"
# How far ahead the list's "expiring" filter looks, as the expiry reminders count (days).
EXPIRING_WINDOWS: Final = {"30": 30, "90": 90}
ExpiringWindow = Literal["30", "90"]
MAX_FILE_NAME: Final = 255

# Words and a tone for every state (status by words and shape, never colour alone).
MENTOR_STATUS: Final = {
    "onboarding": (N_("Onboarding"), "info"),
    "approved": (N_("Approved"), "ok"),
    "suspended": (N_("Suspended"), "warning"),
    "revoked": (N_("Revoked"), "danger"),
    "lapsed": (N_("Lapsed"), "warning"),
}
CHECK_STATE: Final = {
    "pending": (N_("Pending"), "neutral"),
    "in_review": (N_("In review"), "info"),
    "passed": (N_("Passed"), "ok"),
    "failed": (N_("Failed"), "danger"),
    "waived": (N_("Waived"), "ok"),
    "expired": (N_("Expired"), "warning"),
}
DECISION_STATE: Final = {
    "proposed": (N_("Awaiting a second officer"), "warning"),
    "confirmed": (N_("Confirmed"), "ok"),
    "rejected": (N_("Rejected"), "danger"),
    "withdrawn": (N_("Withdrawn"), "neutral"),
    "superseded": (N_("Superseded by a newer proposal"), "neutral"),
}
DECISION_ACTION: Final = {
    "approve": N_("Approve"),
    "suspend": N_("Suspend"),
    "revoke": N_("Revoke"),
    "reinstate": N_("Reinstate"),
}
CHECK_MOVE: Final = {
    "pending": N_("Back to pending"),
    "in_review": N_("Move to review"),
    "passed": N_("Pass"),
    "failed": N_("Fail"),
    "waived": N_("Waive (a second officer must grant it)"),
    "expired": N_("Expire"),
}
LABELS: Final = {
    "mentor_status": MENTOR_STATUS,
    "check_state": CHECK_STATE,
    "decision_state": DECISION_STATE,
    "decision_action": DECISION_ACTION,
    "check_move": CHECK_MOVE,
}


class RecordCheck(Input):
    """A new check, as the form sends it besides its ``detail_<name>`` fields."""

    check_type: limits.Identifier
    notes: LongText | None = None


class MoveCheck(Input):
    """A move of a check; ``version`` is the check's version the officer saw (its If-Match)."""

    to: CheckState
    version: Annotated[int, msgspec.Meta(ge=0)]
    notes: LongText | None = None
    justification: LongText | None = None


class Propose(Input):
    action: DecisionAction
    rationale: LongText


class Reject(Input):
    reasons: LongText


class NoFields(Input):
    """A form that sends nothing but its CSRF token (confirm, withdraw)."""


def _audit_entry(seq: int | None) -> str | None:
    return f"/audit/entries/{seq}" if seq is not None else None


def _context(**values: Any) -> dict[str, Any]:
    return {"labels": LABELS, "entry": _audit_entry, **values}


@get("/vetting/mentors", opt={"navigation": N_("Mentor vetting")})
async def mentor_list(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    status: Annotated[MentorStatus | None, QueryParameter(description="Only mentors of this status.")] = None,
    expiring: Annotated[ExpiringWindow | None, QueryParameter(description="Days ahead.")] = None,
    cursor: Cursor = None,
) -> Response[Any]:
    """Mentors in registration order, a page at a time: filtered by status, or to those with
    a passed or waived check that lapses within 30 or 90 days."""
    window = (now, now + timedelta(days=EXPIRING_WINDOWS[expiring])) if expiring else None
    page = await service.list_mentors(vetting, status, PAGE_SIZE, cursor, expiring=window)
    lapses = await service.next_lapses([mentor.id for mentor in page.items], now)
    filters = {name: value for name, value in (("status", status), ("expiring", expiring)) if value}
    return render(
        request,
        "vetting/mentors.html",
        _context(
            mentors=page.items,
            lapses=lapses,
            next_cursor=page.next_cursor,
            filters=filters,
            statuses=MENTOR_STATUSES,
            first_page=cursor is None,
        ),
    )


async def _dossier_page(
    request: Request[Any, Any, Any],
    vetting: service.Vetting,
    cache: dossier.DossierCache,
    mentor_id: uuid.UUID,
    now: datetime,
    *,
    status_code: int = 200,
    forms: Mapping[str, Form[Any]] | None = None,
) -> Response[Any]:
    rendered = await dossier.read(vetting, cache, mentor_id, "staff", now)
    found = rendered.dossier
    await audit.record_read(request.user, "vetting.dossier.read", "mentor", str(mentor_id))
    # The two facts about the mentor themselves that the dossier does not number: their
    # registration and the entry that gave them their status now.
    entries = await dossier.status_entries(cache, mentor_id, now)
    pending = next((decision for decision in found.decisions if decision.state == "proposed"), None)
    given = dict(forms or {})
    mine = pending is not None and pending.proposed_by == request.user.sub
    blocks, tag = (
        (("title", "content"), f"{mentor_id}/{mine}") if forms is None else (("record", "decisions"), str(mentor_id))
    )

    def context() -> dict[str, Any]:
        return _context(
            dossier=found,
            titles={name: check.title for name, check in vetting.requirements.checks.items()},
            registered_seq=entries.registered_seq,
            status_seq=entries.status_seq,
            pending=pending,
            propose_form=given.get("propose") or blank(),
            reject_form=given.get("reject") or blank(),
            decision_form=given.get("decision") or blank(),
            me=request.user.sub,
            decision_options=[(action, gettext(DECISION_ACTION[action])) for action in found.allowed_decisions],
        )

    return render(
        request,
        "vetting/dossier.html",
        context,
        status_code=status_code,
        # What the dossier cache keeps (the same objects while the dossier stands) and the
        # requirements are the same for every officer, and so is the page's content asked
        # plainly (blank forms; each answer gets its own CSRF token), but for whether the
        # pending proposal is the reader's own: then the whole page is kept, per reader, and
        # ``context`` is called only to render it. Forms sent back with errors are the
        # sender's: then only the record and the decisions table are shared.
        shared=(blocks, tag, (rendered, entries, vetting.requirements)),
    )


@get("/vetting/mentors/{mentor_id:uuid}")
async def mentor_dossier(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    dossier_cache: NamedDependency[dossier.DossierCache],
    mentor_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """A mentor's dossier: status, what approval still needs, the requirements, every check
    with its evidence and every decision, each fact linked to its audit entry; the forms to
    propose, confirm, reject or withdraw a decision."""
    return await _dossier_page(request, vetting, dossier_cache, mentor_id, now)


async def _new_check_page(
    request: Request[Any, Any, Any],
    vetting: service.Vetting,
    mentor_id: uuid.UUID,
    check_type: str | None,
    form: Form[Any],
    status_code: int = 200,
) -> Response[Any]:
    mentor = await service.get_mentor(vetting, mentor_id)
    # What this mentor's requirements expect of the chosen type (an enhanced DBS check...).
    required = {r.check.name: r for r in service.requirements_of(vetting, await service.mentor_row(mentor_id))}
    chosen = vetting.requirements.checks.get(check_type or "")
    context = _context(
        mentor=mentor,
        chosen=chosen,
        requirement=required.get(chosen.name) if chosen else None,
        choices=[(name, check.title) for name, check in vetting.requirements.checks.items()],
        form=form,
        detail_prefix=DETAIL_PREFIX,
    )
    return render(request, "vetting/new_check.html", context, status_code=status_code)


@get("/vetting/mentors/{mentor_id:uuid}/checks/new")
async def new_check(
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    mentor_id: FromPath[uuid.UUID],
    check_type: Annotated[str | None, QueryParameter(max_length=limits.MAX_IDENTIFIER)] = None,
) -> Response[Any]:
    """The form to record a check: first its type, then the details that type needs."""
    form = blank({"check_type": check_type} if check_type else None)
    if check_type and check_type not in vetting.requirements.checks:
        form.errors["check_type"] = gettext(N_("Choose one of the options."))
    return await _new_check_page(request, vetting, mentor_id, check_type, form)


def _details_of(submitted: Any, known: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The ``detail_<name>`` fields of a form, of the ``known`` details of its check type:
    (details given, values as typed, errors by field)."""
    details: dict[str, str] = {}
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key, value in submitted.multi_items():
        if not key.startswith(DETAIL_PREFIX):
            continue
        name = key.removeprefix(DETAIL_PREFIX)
        if name not in known or not isinstance(value, str):
            errors[""] = gettext(N_("The form sent a field it does not have (%(name)s)."), name=key[:60])
            continue
        if key in values:
            errors[key] = gettext(N_("Give one value only."))
            continue
        values[key] = value
        if value:
            try:
                details[name] = msgspec.convert(value, DetailValue)
            except msgspec.ValidationError as exc:
                errors[key] = plain(str(exc).split(" - at `", 1)[0])
    return details, values, errors


@post("/vetting/mentors/{mentor_id:uuid}/checks")
async def record_check(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    mentor_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Record a new check (pending) with its details, then open it to attach its evidence."""
    await service.mentor_row(mentor_id)
    submitted = await request.form()
    chosen = vetting.requirements.checks.get(str(submitted.get("check_type", "")))
    details, detail_values, detail_errors = _details_of(submitted, chosen.details if chosen else ())
    rest = MultiDict([(key, value) for key, value in submitted.multi_items() if not key.startswith(DETAIL_PREFIX)])
    form: Form[Any] = decode_form(rest, RecordCheck)
    form.values.update(detail_values)
    form.errors.update(detail_errors)

    async def again(shown: Form[Any], status_code: int) -> Response[Any]:
        return await _new_check_page(request, vetting, mentor_id, chosen.name if chosen else None, shown, status_code)

    if form.errors or form.data is None:
        return await again(Form(values=form.values, errors=form.errors), 422)
    try:
        check_id = await service.record_check(
            vetting,
            mentor_id,
            CheckRecord(check_type=form.data.check_type, details=details, notes=form.data.notes),
            request.user,
            now,
        )
    except Problem as problem:
        if problem.status_code == 404:
            raise
        return await again(form.refused(problem), 422)
    return Redirect(f"/vetting/mentors/{mentor_id}/checks/{check_id}", status_code=303)


async def _check_of(vetting: service.Vetting, mentor_id: uuid.UUID, check_id: uuid.UUID, now: datetime) -> Any:
    """The check as the dossier shows it to staff; 404 unless it is this mentor's."""
    view = await dossier.check(vetting, check_id, "staff", now)
    if view.mentor_id != mentor_id:
        raise not_found("check", check_id)
    return view


async def _check_page(
    request: Request[Any, Any, Any],
    vetting: service.Vetting,
    mentor_id: uuid.UUID,
    check_id: uuid.UUID,
    now: datetime,
    *,
    status_code: int = 200,
    move_form: Form[Any] | None = None,
    upload_form: Form[Any] | None = None,
) -> Response[Any]:
    check = await _check_of(vetting, mentor_id, check_id, now)
    mentor = await service.get_mentor(vetting, mentor_id)
    return render(
        request,
        "vetting/check.html",
        _context(
            mentor=mentor,
            check=check,
            check_type=vetting.requirements.checks.get(check.check_type),
            version=check.version,
            move_form=move_form or blank(),
            upload_form=upload_form or blank(),
            max_megabytes=round(vetting.max_document_bytes / 1_048_576, 1),
            accepts_documents=check.state in {"pending", "in_review"},
            move_options=[(state, gettext(CHECK_MOVE[state])) for state in check.allowed_next],
        ),
        status_code=status_code,
    )


@get("/vetting/mentors/{mentor_id:uuid}/checks/{check_id:uuid}")
async def check_page(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    mentor_id: FromPath[uuid.UUID],
    check_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """One check: its details, evidence (SHA-256 of each document) and history links; the
    forms to attach evidence and to move it."""
    return await _check_page(request, vetting, mentor_id, check_id, now)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@post("/vetting/mentors/{mentor_id:uuid}/checks/{check_id:uuid}/documents")
async def upload_document(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    mentor_id: FromPath[uuid.UUID],
    check_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Attach a document (PDF, PNG or JPEG, judged by content; at most
    ``GOVERNANCE_MAX_DOCUMENT_BYTES``) to a pending or in-review check."""
    await _check_of(vetting, mentor_id, check_id, now)
    submitted = await request.form()
    upload = submitted.get("file")
    error = None
    if not isinstance(upload, UploadFile) or not upload.filename:
        error = gettext(N_("Choose a file to attach."))
    elif len(upload.filename) > MAX_FILE_NAME or _CONTROL.search(upload.filename):
        error = gettext(N_("Rename the file: its name is too long or holds control characters."))
    else:
        content = await upload.read(vetting.max_document_bytes + 1)
        try:
            await documents.upload(vetting, check_id, upload.filename, content, request.user, now)
        except Problem as problem:
            error = _upload_refusal(problem, vetting.max_document_bytes)
    if error is not None:
        form = Form[Any](values={}, errors={"file": error})
        return await _check_page(request, vetting, mentor_id, check_id, now, status_code=422, upload_form=form)
    return Redirect(f"/vetting/mentors/{mentor_id}/checks/{check_id}#documents", status_code=303)


def _upload_refusal(problem: Problem, max_bytes: int) -> str:
    slug = str(problem.type_ or "").rsplit("/", 1)[-1]
    if slug == "document-too-large":
        return gettext(N_("The file is too large: at most %(n)s MB."), n=round(max_bytes / 1_048_576, 1))
    if slug == "unsupported-document":
        return gettext(N_("Only PDF, PNG and JPEG files are accepted (judged by their content, not their name)."))
    if slug == "duplicate-document":
        return gettext(N_("This file is attached to the check already."))
    return str(problem.detail)


@get("/vetting/mentors/{mentor_id:uuid}/documents/{document_id:uuid}")
async def download_document(
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    mentor_id: FromPath[uuid.UUID],
    document_id: FromPath[uuid.UUID],
) -> Stream:
    """A document of this mentor's checks, as uploaded (the download is audited, as through
    ``GET /api/v1/documents/{document_id}``)."""
    if await documents.document_owner(document_id) != str(mentor_id):
        raise not_found("document", document_id)
    found = await documents.download(vetting, document_id, request.user)
    return Stream(
        found.content,
        media_type=found.media_type,
        headers={
            "Content-Length": str(found.size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename)}",
            "Cache-Control": "private, no-store",
        },
    )


@post("/vetting/mentors/{mentor_id:uuid}/checks/{check_id:uuid}/transitions")
async def move_check(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    mentor_id: FromPath[uuid.UUID],
    check_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Move a check as the officer saw it (a check changed meanwhile is refused, 412); the
    four-eyes rules of the service apply and their refusals are shown beside the form."""
    await _check_of(vetting, mentor_id, check_id, now)
    form = await read_form(request, MoveCheck)
    if not form.valid or form.data is None:
        return await _check_page(request, vetting, mentor_id, check_id, now, status_code=422, move_form=form)
    move = CheckTransition(to=form.data.to, notes=form.data.notes, justification=form.data.justification)
    try:
        await service.transition_check(vetting, check_id, move, request.user, now, form.data.version)
    except HTTPException as problem:
        if problem.status_code == 404:
            raise
        if problem.status_code == 412:
            problem = Problem(
                412, "stale", gettext(N_("This check changed since you opened it: see it as it is now and try again."))
            )
        refused = form.refused(problem)
        return await _check_page(
            request, vetting, mentor_id, check_id, now, status_code=_refusal_status(problem), move_form=refused
        )
    return Redirect(f"/vetting/mentors/{mentor_id}/checks/{check_id}", status_code=303)


def _refusal_status(problem: HTTPException) -> int:
    # A field the service named is bad input (422); a rule that says no keeps its own status.
    return 422 if problem.status_code in {400, 422} else problem.status_code


@post("/vetting/mentors/{mentor_id:uuid}/decisions")
async def propose_decision(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    dossier_cache: NamedDependency[dossier.DossierCache],
    mentor_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Propose a decision with its rationale; another compliance officer must confirm it."""
    await service.mentor_row(mentor_id)
    form = await read_form(request, Propose)
    if not form.valid or form.data is None:
        return await _dossier_page(
            request, vetting, dossier_cache, mentor_id, now, status_code=422, forms={"propose": form}
        )
    proposal = DecisionProposal(action=form.data.action, rationale=form.data.rationale)
    try:
        await service.propose_decision(vetting, mentor_id, proposal, request.user, now)
    except HTTPException as problem:
        if problem.status_code == 404:
            raise
        return await _dossier_page(
            request,
            vetting,
            dossier_cache,
            mentor_id,
            now,
            status_code=_refusal_status(problem),
            forms={"propose": form.refused(problem)},
        )
    return Redirect(f"/vetting/mentors/{mentor_id}#decisions", status_code=303)


DecisionMove = Literal["confirm", "reject", "withdraw"]


async def _decide(
    move: DecisionMove,
    request: Request[Any, Any, Any],
    vetting: service.Vetting,
    cache: dossier.DossierCache,
    mentor_id: uuid.UUID,
    decision_id: uuid.UUID,
    now: datetime,
) -> Response[Any]:
    decision = await service.get_decision(vetting, decision_id)
    if decision.mentor_id != mentor_id:
        raise not_found("decision", decision_id)
    key = "reject" if move == "reject" else "decision"
    form: Form[Any] = await read_form(request, Reject) if move == "reject" else await read_form(request, NoFields)
    if not form.valid or form.data is None:
        return await _dossier_page(request, vetting, cache, mentor_id, now, status_code=422, forms={key: form})
    try:
        if move == "confirm":
            # The service refuses (403) and records it when the proposer confirms their own.
            await service.confirm_decision(vetting, decision_id, request.user, now)
        elif move == "reject":
            await service.refuse_out_of_turn(decision_id, request.user, "rejected")
            await service.close_decision(vetting, decision_id, "rejected", request.user, now, form.data.reasons)
        else:
            await service.refuse_out_of_turn(decision_id, request.user, "withdrawn")
            await service.close_decision(vetting, decision_id, "withdrawn", request.user, now)
    except HTTPException as problem:
        if problem.status_code == 404:
            raise
        return await _dossier_page(
            request,
            vetting,
            cache,
            mentor_id,
            now,
            status_code=_refusal_status(problem),
            forms={key: form.refused(_in_words(problem))},
        )
    return Redirect(f"/vetting/mentors/{mentor_id}#decisions", status_code=303)


def _in_words(problem: HTTPException) -> HTTPException:
    """The four-eyes refusals in the officer's language; other refusals in the service's words."""
    slug = str(getattr(problem, "type_", "") or "").rsplit("/", 1)[-1]
    if slug == "four-eyes":
        detail = gettext(
            N_(
                "You proposed this decision: another compliance officer must confirm or reject it. "
                "Your attempt is recorded."
            )
        )
        return Problem(403, slug, detail)
    if slug == "not-the-proposer":
        return Problem(403, slug, gettext(N_("Only the officer who proposed this decision may withdraw it.")))
    return problem


@post("/vetting/mentors/{mentor_id:uuid}/decisions/{decision_id:uuid}/confirm")
async def confirm_decision(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    dossier_cache: NamedDependency[dossier.DossierCache],
    mentor_id: FromPath[uuid.UUID],
    decision_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Confirm a proposed decision (a second officer): it takes effect now."""
    return await _decide("confirm", request, vetting, dossier_cache, mentor_id, decision_id, now)


@post("/vetting/mentors/{mentor_id:uuid}/decisions/{decision_id:uuid}/reject")
async def reject_decision(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    dossier_cache: NamedDependency[dossier.DossierCache],
    mentor_id: FromPath[uuid.UUID],
    decision_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Reject a proposed decision with reasons (a second officer); the mentor's status stays."""
    return await _decide("reject", request, vetting, dossier_cache, mentor_id, decision_id, now)


@post("/vetting/mentors/{mentor_id:uuid}/decisions/{decision_id:uuid}/withdraw")
async def withdraw_decision(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    dossier_cache: NamedDependency[dossier.DossierCache],
    mentor_id: FromPath[uuid.UUID],
    decision_id: FromPath[uuid.UUID],
) -> Response[Any]:
    """Withdraw one's own proposal."""
    return await _decide("withdraw", request, vetting, dossier_cache, mentor_id, decision_id, now)


PAGES: list[ControllerRouterHandler] = [
    mentor_list,
    mentor_dossier,
    new_check,
    record_check,
    check_page,
    upload_document,
    download_document,
    move_check,
    propose_decision,
    confirm_decision,
    reject_decision,
    withdraw_decision,
]
