"""Vetting routes: thin. Parse, let the guard authorize, call the service."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_304_NOT_MODIFIED

from governance.audit import service as audit
from governance.core import idempotency, limits
from governance.core.durations import DurationError, parse_duration
from governance.core.errors import invalid_parameter
from governance.core.pagination import DEFAULT_LIMIT, Page
from governance.core.pagination import CursorParam as Cursor
from governance.core.pagination import LimitParam as Limit
from governance.core.versioning import IfMatchParam, etag_header, expected_version
from governance.vetting import documents, dossier, expiry, ratings, service, summary
from governance.vetting.schemas import (
    CheckRecord,
    CheckTransition,
    CheckView,
    DecisionProposal,
    DecisionRejection,
    DecisionView,
    DocumentView,
    Dossier,
    ExpiringCheck,
    MentorRegistration,
    MentorView,
    RatingMethodView,
    RatingRecorded,
    RatingReport,
    ReadinessSummary,
    TransitionOutcome,
)
from governance.vetting.states import DecisionState, MentorStatus


def _header(request: Request[Any, Any, Any], name: bytes) -> bytes | None:
    for key, value in request.scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _check_owner(connection: Any) -> str | None:
    return await service.check_owner(connection.path_params["check_id"])


async def _document_owner(connection: Any) -> str | None:
    return await documents.document_owner(connection.path_params["document_id"])


async def _check_view(vetting: service.Vetting, check_id: UUID, now: datetime) -> CheckView:
    """The check as its dossier shows it to staff."""
    row = await service.check_row(check_id)
    rendered, _, _ = await dossier.build(vetting, row.mentor, "staff", now)
    return next(check for check in rendered.checks if check.id == check_id)


def _check_version(view: CheckView) -> int:
    return view.version


def _check_response(view: CheckView, status_code: int = HTTP_200_OK) -> Response[CheckView]:
    return Response(view, status_code=status_code, headers=etag_header(_check_version(view)))


class MentorController(Controller):
    """Mentors, their checks, decisions, ratings and dossier."""

    path = "/mentors"
    tags = ("vetting",)

    @post("/")
    async def register(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        data: JSONBody[MentorRegistration],
    ) -> MentorView:
        """Register a mentor (the platform). They start ``onboarding``; the answer's ``id``
        is the mentor's id everywhere in this service, including their token's ``sub``."""
        return await service.register_mentor(vetting, data, request.user, now)

    @get("/")
    async def list_mentors(
        self,
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        status: Annotated[MentorStatus | None, QueryParameter(description="Only mentors of this status.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[MentorView]:
        """Mentors in registration order."""
        return await service.list_mentors(vetting, status, limit, cursor)

    @get("/{mentor_id:uuid}", opt={"owner": "mentor_id"})
    async def get_mentor(
        self, request: Request[Any, Any, Any], vetting: NamedDependency[service.Vetting], mentor_id: FromPath[UUID]
    ) -> Response[MentorView]:
        """One mentor with their derived status; ``ETag`` their version, which every change to
        them or their dossier moves on."""
        view = await service.get_mentor(vetting, mentor_id)
        return Response(view, headers=etag_header(view.version))

    @get(
        "/{mentor_id:uuid}/dossier",
        opt={"owner": "mentor_id"},
        responses={200: ResponseSpec(Dossier, description="The dossier, with an ETag")},
    )
    async def get_dossier(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        dossier_cache: NamedDependency[dossier.DossierCache],
    ) -> ASGIResponse:
        """The mentor's dossier: requirements version, every check with its state, expiry
        and documents (SHA-256), decisions, what is missing for approval, the rating and
        the attestation quality. Every fact carries its audit entries (``audit``: their
        sequence numbers once the sequencer has integrated them, null before; their ids at once).
        The mentor reads their own, without internal notes. ``ETag`` on every answer;
        ``If-None-Match`` answers 304."""
        # The hottest read of the module: the path parameter is taken as routing parsed it,
        # the header straight from the scope, and the rendered bytes go out as they are.
        audience = dossier.audience_of(request.user)
        rendered = await dossier.read(
            vetting,
            dossier_cache,
            request.path_params["mentor_id"],
            audience,
            now,
        )
        mentor_id = str(request.path_params["mentor_id"])
        await audit.record_read(request.user, "vetting.dossier.read", "mentor", mentor_id)
        headers = {"etag": rendered.etag, "cache-control": "private, no-cache"}
        if _header(request, b"if-none-match") == rendered.etag.encode():
            return ASGIResponse(body=b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return ASGIResponse(body=rendered.body, media_type="application/json", headers=headers)

    @get("/{mentor_id:uuid}/checks", opt={"owner": "mentor_id"})
    async def list_checks(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        mentor_id: FromPath[UUID],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[CheckView]:
        """The mentor's checks, oldest first, as their dossier shows them: the mentor reads their
        own, without internal notes and waivers not yet granted; staff read every mentor's."""
        page = await dossier.checks(vetting, mentor_id, dossier.audience_of(request.user), now, limit, cursor)
        await audit.record_read(request.user, "vetting.checks.read", "mentor", str(mentor_id))
        return page

    @post("/{mentor_id:uuid}/checks")
    async def record_check(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        mentor_id: FromPath[UUID],
        data: JSONBody[CheckRecord],
    ) -> Response[CheckView]:
        """Record a new check (``pending``) against the current requirements version; ``ETag``
        for its transitions."""
        check_id = await service.record_check(vetting, mentor_id, data, request.user, now)
        return _check_response(await _check_view(vetting, check_id, now), 201)

    @post("/{mentor_id:uuid}/decisions", responses={201: ResponseSpec(DecisionView, description="Proposed")})
    async def propose_decision(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        mentor_id: FromPath[UUID],
        data: JSONBody[DecisionProposal],
    ) -> Response[bytes]:
        """Propose ``approve``, ``suspend``, ``revoke`` or ``reinstate`` with a rationale.
        It takes effect when another compliance officer confirms it. Accepts ``Idempotency-Key``."""

        async def work() -> tuple[int, DecisionView]:
            return 201, await service.propose_decision(vetting, mentor_id, data, request.user, now)

        return await _once(request, vetting, f"vetting.decisions.propose:{mentor_id}", data, work)

    @post("/{mentor_id:uuid}/ratings")
    async def record_rating(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        mentor_id: FromPath[UUID],
        data: JSONBody[RatingReport],
    ) -> RatingRecorded:
        """Report one session rating (1 to 5), once per session (the platform)."""
        return await service.record_rating(mentor_id, data, request.user, now)


@dataclass
class DocumentUpload:
    """A multipart form with one part, ``file``: a PDF, PNG or JPEG."""

    file: UploadFile


class CheckController(Controller):
    path = "/checks"
    tags = ("vetting",)

    @get("/{check_id:uuid}", opt={"owner_of": _check_owner})
    async def read(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        check_id: FromPath[UUID],
    ) -> Response[CheckView]:
        """One check as its mentor's dossier shows it: the mentor reads their own, without
        internal notes and waivers not yet granted; staff read every check. ``ETag`` for
        transitions."""
        view = await dossier.check(vetting, check_id, dossier.audience_of(request.user), now)
        await audit.record_read(request.user, "vetting.check.read", "check", str(check_id))
        return _check_response(view)

    @post("/{check_id:uuid}/transitions", status_code=HTTP_200_OK)
    async def transition(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        check_id: FromPath[UUID],
        data: JSONBody[CheckTransition],
        if_match: IfMatchParam = None,
    ) -> Response[TransitionOutcome]:
        """Move a check (``If-Match`` required). An illegal move answers 409 with the allowed next
        states; a first ``waived`` answers 202 until a second compliance officer grants the waiver."""
        version = expected_version(if_match)
        effective, message = await service.transition_check(vetting, check_id, data, request.user, now, version)
        outcome = TransitionOutcome(
            check=await _check_view(vetting, check_id, now), effective=effective, message=message
        )
        return Response(
            outcome,
            status_code=HTTP_200_OK if effective else HTTP_202_ACCEPTED,
            headers=etag_header(_check_version(outcome.check)),
        )

    @post("/{check_id:uuid}/documents", opt={"owner_of": _check_owner})
    async def upload_document(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        check_id: FromPath[UUID],
        data: Annotated[DocumentUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> DocumentView:
        """Attach evidence to a pending or in-review check (multipart, part ``file``). PDF,
        PNG or JPEG by content (415 otherwise), at most ``GOVERNANCE_MAX_DOCUMENT_BYTES`` (413)."""
        content = await data.file.read(vetting.max_document_bytes + 1)
        return await documents.upload(vetting, check_id, data.file.filename, content, request.user, now)


class DocumentController(Controller):
    path = "/documents"
    tags = ("vetting",)

    @get("/{document_id:uuid}", opt={"owner_of": _document_owner})
    async def download(
        self, request: Request[Any, Any, Any], vetting: NamedDependency[service.Vetting], document_id: FromPath[UUID]
    ) -> Stream:
        """The document as uploaded, streamed and authenticated segment by segment; every
        download is audited. ``Repr-Digest`` carries its SHA-256."""
        found = await documents.download(vetting, document_id, request.user)
        digest = base64.b64encode(bytes.fromhex(found.sha256)).decode()
        return Stream(
            found.content,
            media_type=found.media_type,
            headers={
                "Content-Length": str(found.size),
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename)}",
                "Repr-Digest": f"sha-256=:{digest}:",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "private, no-store",
            },
        )


async def _once(
    request: Request[Any, Any, Any],
    vetting: NamedDependency[service.Vetting],
    scope: str,
    payload: Any,
    work: Callable[[], Awaitable[tuple[int, DecisionView]]],
) -> Response[bytes]:
    """A move on a decision, once per ``Idempotency-Key`` (replays sealed under the mentor's key)."""
    return idempotency.to_response(
        await idempotency.accept(
            header=request.headers.get(idempotency.HEADER),
            scope=scope,
            actor=request.user.sub,
            payload=payload,
            work=work,
            personal=service.decision_replays(vetting),
        )
    )


class DecisionController(Controller):
    path = "/decisions"
    tags = ("vetting",)

    @post("/{decision_id:uuid}/confirm", responses={200: ResponseSpec(DecisionView, description="Confirmed")})
    async def confirm(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        decision_id: FromPath[UUID],
    ) -> Response[bytes]:
        """Confirm a proposed decision: by a different compliance officer than its proposer
        (403 otherwise, audited). Accepts ``Idempotency-Key``: a retried confirmation returns
        the first answer instead of a 409."""
        await service.refuse_own_confirmation(decision_id, request.user)

        async def work() -> tuple[int, DecisionView]:
            return 200, await service.confirm_decision(vetting, decision_id, request.user, now)

        return await _once(request, vetting, f"vetting.decisions.confirm:{decision_id}", {}, work)

    @post("/{decision_id:uuid}/reject", responses={200: ResponseSpec(DecisionView, description="Rejected")})
    async def reject(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        decision_id: FromPath[UUID],
        data: JSONBody[DecisionRejection],
    ) -> Response[bytes]:
        """Reject a proposed decision, with ``reasons``: by a different compliance officer than
        its proposer (403 otherwise, audited). The mentor's status does not change. Accepts
        ``Idempotency-Key``."""
        await service.refuse_out_of_turn(decision_id, request.user, "rejected")

        async def work() -> tuple[int, DecisionView]:
            return 200, await service.close_decision(vetting, decision_id, "rejected", request.user, now, data.reasons)

        return await _once(request, vetting, f"vetting.decisions.reject:{decision_id}", data, work)

    @post("/{decision_id:uuid}/withdraw", responses={200: ResponseSpec(DecisionView, description="Withdrawn")})
    async def withdraw(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        decision_id: FromPath[UUID],
    ) -> Response[bytes]:
        """Withdraw a proposed decision: only its proposer may (403 otherwise, audited).
        Accepts ``Idempotency-Key``."""
        await service.refuse_out_of_turn(decision_id, request.user, "withdrawn")

        async def work() -> tuple[int, DecisionView]:
            return 200, await service.close_decision(vetting, decision_id, "withdrawn", request.user, now)

        return await _once(request, vetting, f"vetting.decisions.withdraw:{decision_id}", {}, work)


class VettingController(Controller):
    """Queues and figures across mentors."""

    path = "/vetting"
    tags = ("vetting",)

    @get("/decisions")
    async def list_decisions(
        self,
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        decision_state: Annotated[
            DecisionState | None,
            QueryParameter(name="state", description="`proposed` is the queue awaiting a second officer."),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[DecisionView]:
        """Decisions, oldest first; ``state=proposed`` is the four-eyes queue."""
        return await service.list_decisions(vetting, decision_state, limit, cursor)

    @get("/expiring")
    async def expiring(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        vetting: NamedDependency[service.Vetting],
        within: Annotated[str, limits.query_id("ISO 8601 duration, e.g. P30D.")] = "P30D",
    ) -> list[ExpiringCheck]:
        """Passed or waived checks that lapse within ``within``, soonest first, with their
        reminder marks (30, 7, 1 and 0 days before) and whether a renewal already covers them."""
        now = now
        try:
            horizon = parse_duration(within).add_to(now) - now
        except DurationError as exc:
            raise invalid_parameter("within", str(exc)) from None
        return await expiry.expiring(vetting, horizon, now)

    @get("/summary")
    async def readiness_summary(
        self, now: NamedDependency[datetime], request: Request[Any, Any, Any], vetting: NamedDependency[service.Vetting]
    ) -> ReadinessSummary:
        """Mentors by status, share of active mentors fully vetted and current, checks
        expiring within 30 days, and the median days from onboarding to approval."""
        return await summary.readiness(vetting, now)

    @get("/ratings/method", exclude_from_auth=True)
    async def rating_method(
        self, request: Request[Any, Any, Any], vetting: NamedDependency[service.Vetting]
    ) -> RatingMethodView:
        """How published mentor ratings are computed (public)."""
        method = vetting.requirements.ratings
        return RatingMethodView(
            method="bayesian_average",
            version=method.version,
            prior_mean=method.prior_mean,
            prior_weight=method.prior_weight,
            minimum_count=method.minimum_count,
            window=method.window.isoformat(),
            explanation=ratings.explain(method),
        )


ROUTES = [MentorController, CheckController, DocumentController, DecisionController, VettingController]
