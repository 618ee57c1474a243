"""Privacy routes: thin. Parse, let the guard authorize, call the service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_200_OK
from litestar.types import ControllerRouterHandler

from governance.core import limits
from governance.core.errors import invalid_parameter
from governance.core.pagination import DEFAULT_LIMIT, Page
from governance.core.pagination import CursorParam as Cursor
from governance.core.pagination import LimitParam as Limit
from governance.core.versioning import IfMatchParam, etag_header, expected_version
from governance.privacy import consent, requests, retention, service, summary
from governance.privacy.schemas import (
    ConsentRecordView,
    DataRequestFiling,
    DataRequestView,
    Notices,
    Permission,
    PortalSession,
    PortalSessionRequest,
    PreferencesChange,
    PreferencesUpdate,
    PrivacySummary,
    Reconsent,
    RequestState,
    RequestTransition,
    RetentionReport,
)
from governance.web import sessions as web_sessions
from governance.web.config import Web

MenteeId = Annotated[str, limits.path_id("The mentee's id (the platform's).")]


def _gpc(request: Request[Any, Any, Any]) -> bool:
    # Global Privacy Control: the header's only defined value is "1".
    return request.headers.get("sec-gpc", "").strip() == "1"


def _query_value(query: bytes, prefix: bytes) -> str | None:
    """The first value of one query parameter (``prefix`` is ``b"name="``), without parsing the rest."""
    for part in query.split(b"&"):
        if part.startswith(prefix):
            return unquote_plus(part[len(prefix) :].decode("latin-1"))
    return None


async def _request_owner(connection: Any) -> str | None:
    return await requests.request_owner(connection.path_params["request_id"])


async def _receipt_owner(connection: Any) -> str | None:
    return await consent.receipt_owner(connection.path_params["receipt_id"])


@get("/privacy/notices", exclude_from_auth=True, tags=["privacy"])
async def get_notices(request: Request[Any, Any, Any], privacy: NamedDependency[service.Privacy]) -> Notices:
    """Every purpose (lawful basis, default, whether it counts as sharing, validity) with all
    published notice versions and their texts by language, and the retention schedule. Public."""
    return service.notices(privacy)


class PreferencesController(Controller):
    """A mentee's consent preferences: the mentee themself, or the platform for them."""

    path = "/privacy/mentees/{mentee_id:str}"
    tags = ("privacy",)

    @get("/preferences", opt={"owner": "mentee_id"})
    async def read(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        privacy: NamedDependency[service.Privacy],
        mentee_id: MenteeId,
    ) -> PreferencesChange:
        """The current preferences, derived from the consent history. A request carrying
        ``Sec-GPC: 1`` first opts the mentee out of every sharing purpose (method ``gpc``)
        and answers with the receipt of that change."""
        if _gpc(request):
            return await consent.change(privacy, mentee_id, PreferencesUpdate(), gpc=True, actor=request.user, now=now)
        current = await consent.preferences(privacy, mentee_id, now)
        return PreferencesChange(preferences=current, receipt=None)

    @put("/preferences", opt={"owner": "mentee_id"}, status_code=HTTP_200_OK)
    async def change(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        privacy: NamedDependency[service.Privacy],
        mentee_id: MenteeId,
        data: JSONBody[PreferencesUpdate],
    ) -> PreferencesChange:
        """Change preferences: each purpose named is an explicit choice; ``Sec-GPC: 1`` opts out
        of every sharing purpose the same request does not explicitly opt in to. Every change
        appends to the history and answers with a consent receipt (also at
        ``/privacy/receipts/{id}``)."""
        return await consent.change(privacy, mentee_id, data, gpc=_gpc(request), actor=request.user, now=now)

    @get("/preferences/history", opt={"owner": "mentee_id"})
    async def history(
        self,
        mentee_id: MenteeId,
        purpose: Annotated[str | None, limits.query_id("Only this purpose.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[ConsentRecordView]:
        """Every consent record of the mentee, oldest first, with method, notice version and receipt."""
        return await consent.history(mentee_id, purpose, limit, cursor)

    @get(
        "/permissions",
        opt={"owner": "mentee_id"},
        responses={HTTP_200_OK: ResponseSpec(data_container=Permission, description="The decision and why.")},
    )
    async def permission(
        self, now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[service.Privacy]
    ) -> ASGIResponse:
        """Whether the mentee's data may be used for ``?purpose=`` now, and the record that says so
        (null: the purpose's default applies). Call it before every share."""
        # Parameters read straight from the request: Litestar's parameter parsing costs a
        # sixth of this hot route, and both are plain strings checked by the service.
        purpose = _query_value(request.scope["query_string"], b"purpose=")
        if not purpose:
            raise invalid_parameter("purpose", "required: the purpose to check")
        checked = await consent.answer(privacy, request.path_params["mentee_id"], purpose, now)
        # Encoded once per change and sent as is: the platform calls this before every share.
        return ASGIResponse(body=checked.body, media_type="application/json")


@get("/privacy/receipts/{receipt_id:uuid}", opt={"owner_of": _receipt_owner}, tags=["privacy"])
async def get_receipt(receipt_id: FromPath[UUID]) -> dict[str, Any]:
    """A consent receipt as issued (ISO/IEC TS 27560 / Kantara fields). It cites its audit
    entry by ``audit_entry_id``; ``audit_seq``, the entry's sequence number, is null until the
    sequencer has numbered it (the receipt answered by the change itself has it null)."""
    return await consent.receipt(receipt_id)


@get("/privacy/reconsent", tags=["privacy"])
async def list_reconsent(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[Reconsent]:
    """Mentees whose choice for a purpose lapsed (method ``expired``): ask them again."""
    return await consent.reconsent(limit, cursor)


@get("/privacy/retention/report", tags=["privacy"])
async def retention_report(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[service.Privacy]
) -> RetentionReport:
    """What is due for deletion now per category, and what is held by a legal hold, and why."""
    return await retention.report(privacy, now)


@get("/privacy/summary", tags=["privacy"])
async def period_summary(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    privacy: NamedDependency[service.Privacy],
    period_start: Annotated[date, QueryParameter(description="First day of the period (UTC), e.g. 2026-01-01.")],
    period_end: Annotated[
        date, QueryParameter(description="Last day of the period (UTC, inclusive); at most three years on.")
    ],
) -> PrivacySummary:
    """Consent changes in the period by purpose and method, and data requests received: by
    type, answered (completed or rejected), answered on time (extensions count), and still
    open past their due date now (``as_of``: figures judged earlier are served while no
    consent record or data request changed and no due date passed since). Counts only. 400
    when the period ends before it starts or lasts over three years."""
    return await summary.kept_period_summary(privacy.summaries, period_start, period_end, now)


class DataRequestController(Controller):
    """Data subject requests (access, portability, erasure, rectification, restriction, objection)."""

    path = "/privacy/requests"
    tags = ("privacy",)

    @post("/")
    async def file(
        self,
        now: NamedDependency[datetime],
        request: Request[Any, Any, Any],
        privacy: NamedDependency[service.Privacy],
        data: JSONBody[DataRequestFiling],
    ) -> Response[DataRequestView]:
        """File a request: a mentee about themself, or the platform for a mentee (``mentee_id``).
        Due one calendar month after receipt; ``ETag`` for transitions."""
        as_mentee = "mentee" in request.user.roles and "platform" not in request.user.roles
        view = await requests.file(privacy, data, request.user, as_mentee, now)
        return Response(view, status_code=201, headers=etag_header(view.version))

    @get("/", opt={"own_list": True})
    async def list_requests(
        self,
        now: NamedDependency[datetime],
        restricted_to: NamedDependency[str | None],
        request: Request[Any, Any, Any],
        privacy: NamedDependency[service.Privacy],
        overdue: Annotated[bool | None, QueryParameter(description="Open past their due date.")] = None,
        # ``state`` is a reserved handler argument name in Litestar; the query key stays ``state``.
        in_state: Annotated[RequestState | None, QueryParameter(name="state", description="Only this state.")] = None,
        mentee_id: Annotated[str | None, limits.query_id("Only this mentee's.")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[DataRequestView]:
        """Requests in order of receipt; a mentee sees only their own."""
        return await requests.listing(
            privacy,
            subject=restricted_to or mentee_id,
            overdue=overdue,
            state=in_state,
            limit=limit,
            cursor=cursor,
            now=now,
            requester=restricted_to is not None,
        )

    @get("/{request_id:uuid}", opt={"owner_of": _request_owner})
    async def read(
        self,
        now: NamedDependency[datetime],
        restricted_to: NamedDependency[str | None],
        request: Request[Any, Any, Any],
        privacy: NamedDependency[service.Privacy],
        request_id: FromPath[UUID],
    ) -> Response[DataRequestView]:
        """One request: state, due date, extension and its reason, certificate of an erasure;
        ``ETag`` for transitions."""
        view = await requests.get(privacy, request_id, now, restricted_to is not None)
        return Response(view, headers=etag_header(view.version))

    @post("/{request_id:uuid}/transitions", opt={"owner_of": _request_owner}, status_code=HTTP_200_OK)
    async def transition(
        self,
        now: NamedDependency[datetime],
        restricted_to: NamedDependency[str | None],
        request: Request[Any, Any, Any],
        privacy: NamedDependency[service.Privacy],
        request_id: FromPath[UUID],
        data: JSONBody[RequestTransition],
        if_match: IfMatchParam = None,
    ) -> Response[DataRequestView]:
        """Move a request (``If-Match`` required). ``extended`` needs ``extension`` (at most
        ``P2M``) and ``reason``, before the first month ends; ``rejected`` needs ``reason_code``;
        ``completed`` carries out an access or portability export, or an erasure (the answer
        holds its certificate). The requester may only withdraw. Illegal moves answer 409 with
        the allowed ones."""
        version = expected_version(if_match)
        view = await requests.transition(
            privacy, request_id, data, request.user, restricted_to is not None, now, version
        )
        return Response(view, headers=etag_header(view.version))

    @get("/{request_id:uuid}/export", opt={"owner_of": _request_owner})
    async def export(
        self, request: Request[Any, Any, Any], privacy: NamedDependency[service.Privacy], request_id: FromPath[UUID]
    ) -> Response[bytes]:
        """The JSON export of a completed access or portability request (each download audited)."""
        body = await requests.download(privacy, request_id, request.user)
        return Response(
            content=body,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="export-{request_id}.json"'},
        )


@post("/privacy/portal-sessions", tags=["privacy"])
async def open_portal_session(
    now: NamedDependency[datetime],
    request: Request[Any, Any, Any],
    web: NamedDependency[Web],
    data: JSONBody[PortalSessionRequest],
) -> Response[PortalSession]:
    """A single-use link, valid a few minutes, that signs one mentee in to their privacy pages.

    As Stripe's customer portal works: send the mentee to ``url``. The pages link back to
    ``return_url``, which must fall under ``GOVERNANCE_PORTAL_RETURN_URLS`` (422 otherwise)."""
    link = await web_sessions.issue_portal_link(web, data.mentee_id, data.return_url, request.user, now)
    return Response(PortalSession(url=link.url, expires_at=link.expires_at), status_code=201)


ROUTES: list[ControllerRouterHandler] = [
    get_notices,
    PreferencesController,
    get_receipt,
    list_reconsent,
    retention_report,
    period_summary,
    DataRequestController,
    open_portal_session,
]
