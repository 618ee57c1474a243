"""Complaint, refund, attestation and dispute routes: parse, authorize, call the service.

Ownership: a mentee reaches their own complaints and refunds, a candidate or mentor the
disputes and attestations they are party to (``owner_of`` resolvers below); lists
narrow to the caller's own when the ``restricted_to`` dependency says so. Public routes (escalation
policy, attestation status) are :data:`PUBLIC_ROUTES`, outside the guard.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from governance.audit import service as audit
from governance.complaints import attestations, disputes, policy, refunds, service, summary
from governance.complaints.config import Complaints
from governance.complaints.schemas import (
    AttestationCreate,
    AttestationStatusView,
    AttestationView,
    Category,
    ComplaintCreate,
    ComplaintSort,
    ComplaintsSummary,
    ComplaintState,
    ComplaintSummary,
    ComplaintTransition,
    ComplaintView,
    DisputeCreate,
    DisputeState,
    DisputeSummary,
    DisputeTransition,
    DisputeView,
    EscalationPolicyView,
    NoteCreate,
    NoteView,
    PaymentReport,
    PaymentView,
    RefundCreate,
    RefundState,
    RefundTransition,
    RefundView,
)
from governance.core import idempotency, limits
from governance.core.identity import Identity
from governance.core.pagination import DEFAULT_LIMIT, Page
from governance.core.pagination import CursorParam as Cursor
from governance.core.pagination import LimitParam as Limit
from governance.core.ratelimits import LIMITED_PER_CLIENT
from governance.core.reporting import AttestationQuality
from governance.core.versioning import IF_MATCH, etag_header, expected_version

AnyRequest = Request[Identity, Any, Any]
PeriodStart = Annotated[date, QueryParameter(description="First day of the period (UTC), e.g. 2026-01-01.")]
PeriodEnd = Annotated[date, QueryParameter(description="Last day of the period (UTC, inclusive), within three years.")]
IfMatch = Annotated[
    str | None, HeaderParameter(name=IF_MATCH, max_length=64, description='ETag as last read, e.g. "3" (required).')
]


def _versioned(view: Any, status_code: int = 200) -> Response[Any]:
    return Response(content=view, status_code=status_code, headers=etag_header(view.version))


# The guard asks the resolvers below only for own-scoped roles (mentees, mentors).


async def complaint_owner(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return await service.owner(connection.path_params["complaint_id"])


async def refund_owner(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return await refunds.owner(connection.path_params["refund_id"])


async def attestation_party(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The caller when they are the attestation's mentor or candidate (else its candidate)."""
    found = await attestations.parties(connection.path_params["attestation_id"])
    if found is None:
        return None
    caller = str(connection.user.sub)
    return caller if caller in found else found[1]


async def dispute_party(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return await disputes.owner(connection.path_params["dispute_id"], str(connection.user.sub))


class ComplaintController(Controller):
    path = "/complaints"
    tags = ("complaints",)

    @post("/")
    async def file_complaint(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        data: JSONBody[ComplaintCreate],
    ) -> Response[ComplaintView]:
        """File a complaint; mentees file for themselves. Safeguarding escalates at once."""
        view = await service.file(complaints, actor=request.user, data=data, now=now)
        return _versioned(view, 201)

    @get("/", opt={"own_list": True})
    async def list_complaints(
        self,
        restricted_to: NamedDependency[str | None],
        request: AnyRequest,
        state_filter: Annotated[ComplaintState | None, QueryParameter(name="state")] = None,
        category: FromQuery[Category | None] = None,
        assignee: Annotated[str | None, limits.query_id("Only complaints assigned to this subject.")] = None,
        breached: FromQuery[bool | None] = None,
        sort: Annotated[
            ComplaintSort,
            QueryParameter(
                description="`received`: newest first. `due`: soonest SLA deadline first (overdue ones "
                "first), then complaints with no pending deadline (paused, resolved, closed), oldest first."
            ),
        ] = "received",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[ComplaintSummary]:
        """Complaints by state, category, assignee and breach, newest first or by SLA deadline
        (``sort=due``), a page at a time (mentees: their own). A cursor keeps its order."""
        return await service.search(
            state=state_filter,
            category=category,
            assignee=assignee,
            breached=breached,
            complainant=restricted_to,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )

    @get("/summary")
    async def period_summary(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        period_start: PeriodStart,
        period_end: PeriodEnd,
    ) -> ComplaintsSummary:
        """Complaints received in the period by category, outcome and month, SLA attainment,
        refunds requested and issued, and disputes opened by outcome and highest tier.

        Judged now, or as of ``as_of``: figures judged earlier are served while no complaint,
        refund, dispute or attestation changed and no deadline passed since. 400 when the
        period ends before it starts or lasts over three years."""
        return await summary.kept_period_summary(complaints.summaries, period_start, period_end, now)

    @get("/{complaint_id:uuid}", opt={"owner_of": complaint_owner})
    async def get_complaint(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        complaint_id: FromPath[uuid.UUID],
    ) -> Response[ComplaintView]:
        """One complaint: state, SLA standing, history and notes; ``ETag`` for transitions."""
        return _versioned(await service.get(complaints, complaint_id, reader=request.user, now=now))

    @post("/{complaint_id:uuid}/transitions", opt={"owner_of": complaint_owner}, status_code=200)
    async def transition_complaint(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        complaint_id: FromPath[uuid.UUID],
        data: JSONBody[ComplaintTransition],
        if_match: IfMatch = None,
    ) -> Response[ComplaintView]:
        """Move a complaint (``If-Match`` required): 409 lists the allowed next states."""
        version = expected_version(if_match)
        view = await service.transition(
            complaints, complaint_id, actor=request.user, data=data, expected_version=version, now=now
        )
        return _versioned(view)

    @post("/{complaint_id:uuid}/notes", opt={"owner_of": complaint_owner})
    async def add_note(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        complaint_id: FromPath[uuid.UUID],
        data: JSONBody[NoteCreate],
    ) -> NoteView:
        """Add a note; staff notes ``to_complainant`` are responses."""
        return await service.add_note(complaints, complaint_id, actor=request.user, data=data, now=now)


class PaymentController(Controller):
    path = "/sessions"
    tags = ("refunds",)

    @put("/{session_id:str}/payment")
    async def report_payment(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        session_id: Annotated[str, limits.path_id()],
        data: JSONBody[PaymentReport],
    ) -> PaymentView:
        """The platform reports what the mentee paid for a session (once)."""
        return await refunds.report_payment(session_id, actor=request.user, data=data, now=now)


class RefundController(Controller):
    path = "/refunds"
    tags = ("refunds",)

    @post("/")
    async def create_refund(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        data: JSONBody[RefundCreate],
    ) -> Response[bytes]:
        """Request a refund. ``Idempotency-Key`` required: a replay returns the first response,
        the same key with another body answers 422."""
        key = idempotency.key_from(request.headers.get(idempotency.HEADER))

        async def work() -> tuple[int, RefundView]:
            return await refunds.create(complaints, actor=request.user, data=data, now=now)

        outcome = await idempotency.once(
            scope="refunds.create",
            actor=request.user.sub,
            key=key,
            fingerprint=idempotency.fingerprint(data),
            work=work,
            personal=refunds.replays(complaints, request.user),
        )
        # A replay after the mentee's erasure shows the refund as it reads now, maybe moved on.
        version = msgspec.json.decode(outcome.body, type=RefundView).version
        return idempotency.to_response(outcome, etag_header(version))

    @get("/", opt={"own_list": True})
    async def list_refunds(
        self,
        restricted_to: NamedDependency[str | None],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        state_filter: Annotated[RefundState | None, QueryParameter(name="state")] = None,
        session_id: Annotated[str | None, limits.query_id("Only refunds of this session.")] = None,
        complaint_id: FromQuery[uuid.UUID | None] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[RefundView]:
        """Refunds, newest first (mentees: their own)."""
        return await refunds.search(
            complaints,
            state=state_filter,
            session_id=session_id,
            complaint_id=complaint_id,
            mentee=restricted_to,
            limit=limit,
            cursor=cursor,
            reader=request.user,
        )

    @get("/{refund_id:uuid}", opt={"owner_of": refund_owner})
    async def get_refund(
        self, request: AnyRequest, complaints: NamedDependency[Complaints], refund_id: FromPath[uuid.UUID]
    ) -> Response[RefundView]:
        """One refund with its approvals; ``ETag`` for transitions."""
        return _versioned(await refunds.get(complaints, refund_id, reader=request.user))

    @post("/{refund_id:uuid}/transitions", status_code=200)
    async def transition_refund(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        refund_id: FromPath[uuid.UUID],
        data: JSONBody[RefundTransition],
        if_match: IfMatch = None,
    ) -> Response[RefundView]:
        """Approve (four eyes above the threshold), deny, or report the payout (``If-Match`` required)."""
        version = expected_version(if_match)
        view = await refunds.transition(
            complaints, refund_id, actor=request.user, data=data, expected_version=version, now=now
        )
        return _versioned(view)


class AttestationController(Controller):
    path = "/attestations"
    tags = ("attestations",)

    @post("/")
    async def record_attestation(
        self, now: NamedDependency[datetime], request: AnyRequest, data: JSONBody[AttestationCreate]
    ) -> AttestationView:
        """The platform records an attestation a mentor issued, on a standard template
        (``competency`` at ``rubric_version``). 422 naming the field when the template or
        version is unknown or the score is off its scale; nothing is recorded."""
        return await attestations.record(actor=request.user, data=data, now=now)

    @get("/{attestation_id:uuid}", opt={"owner_of": attestation_party})
    async def get_attestation(
        self, request: AnyRequest, attestation_id: FromPath[uuid.UUID]
    ) -> Response[AttestationView]:
        """An attestation with every status it had and when; ``ETag`` its version (a dispute's amendment
        changes it)."""
        view = await attestations.get(attestation_id)
        await audit.record_read(request.user, "attestation.read", "attestation", str(attestation_id))
        return _versioned(view)

    @post("/{attestation_id:uuid}/disputes", opt={"owner_of": attestation_party})
    async def open_dispute(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        attestation_id: FromPath[uuid.UUID],
        data: JSONBody[DisputeCreate],
    ) -> Response[DisputeView]:
        """Open a dispute (L1); the attestation shows ``disputed`` until it is decided."""
        view = await disputes.open_dispute(complaints, attestation_id, actor=request.user, data=data, now=now)
        return _versioned(view, 201)


class DisputeController(Controller):
    path = "/disputes"
    tags = ("attestations",)

    @get("/", opt={"own_list": True})
    async def list_disputes(
        self,
        restricted_to: NamedDependency[str | None],
        request: AnyRequest,
        state_filter: Annotated[DisputeState | None, QueryParameter(name="state")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[DisputeSummary]:
        """Disputes, newest first (candidates and mentors: those they are party to)."""
        return await disputes.search(state=state_filter, party=restricted_to, limit=limit, cursor=cursor)

    @get("/{dispute_id:uuid}", opt={"owner_of": dispute_party})
    async def get_dispute(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        dispute_id: FromPath[uuid.UUID],
    ) -> Response[DisputeView]:
        """One dispute with its tiers, votes and history; ``ETag`` for transitions."""
        view = await disputes.get(complaints, dispute_id, reader=request.user, now=now)
        await audit.record_read(request.user, "dispute.read", "dispute", str(dispute_id))
        return _versioned(view)

    @post("/{dispute_id:uuid}/transitions", opt={"owner_of": dispute_party}, status_code=200)
    async def transition_dispute(
        self,
        now: NamedDependency[datetime],
        request: AnyRequest,
        complaints: NamedDependency[Complaints],
        dispute_id: FromPath[uuid.UUID],
        data: JSONBody[DisputeTransition],
        if_match: IfMatch = None,
    ) -> Response[DisputeView]:
        """Escalate or appeal to the next tier, decide, revoke (four eyes) or withdraw (``If-Match`` required)."""
        version = expected_version(if_match)
        view = await disputes.transition(
            complaints, dispute_id, actor=request.user, data=data, expected_version=version, now=now
        )
        return _versioned(view)


@get("/mentors/{mentor_id:str}/attestation-quality", opt={"owner": "mentor_id"}, tags=["attestations"])
async def attestation_quality(mentor_id: Annotated[str, limits.path_id()]) -> AttestationQuality:
    """Agreement with other mentors' scores (within 90 days, one rubric step) and dispute outcomes."""
    return await attestations.quality(mentor_id)


ROUTES: list[ControllerRouterHandler] = [
    ComplaintController,
    PaymentController,
    RefundController,
    AttestationController,
    DisputeController,
    attestation_quality,
]


@get("/escalation-policy", exclude_from_auth=True, tags=["public"])
async def escalation_policy(
    request: Request[Any, Any, Any], complaints: NamedDependency[Complaints]
) -> EscalationPolicyView:
    """How complaints and disputed attestations are handled: tiers, who decides, time limits,
    appeals, and where to go outside the platform. Generated from the configuration the
    workflows run on."""
    return policy.published(complaints.policy)


@get(
    "/attestations/{attestation_id:uuid}/status",
    exclude_from_auth=True,
    opt={LIMITED_PER_CLIENT: True},
    tags=["public"],
)
async def attestation_status(
    attestation_id: FromPath[uuid.UUID],
    digest: Annotated[
        str | None,
        QueryParameter(
            pattern=r"^[0-9a-fA-F]{64}$", max_length=64, description="SHA-256 (hex) of the token you were shown."
        ),
    ] = None,
) -> AttestationStatusView:
    """Verify an attestation: its status, since when, and whether your token's digest matches."""
    return await attestations.public_status(attestation_id, digest)


# Outside the guard; the app counts the status check per client address (LIMITED_PER_CLIENT).
PUBLIC_ROUTES: list[ControllerRouterHandler] = [escalation_policy, attestation_status]
