"""The Litestar application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import msgspec
from litestar import Litestar, Request, Router, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ServiceUnavailableException
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.routes import HTTPRoute

from governance import __version__, api_docs, bootstrap
from governance.audit.policies import record_in_force
from governance.audit.routes import ROUTES as AUDIT_ROUTES
from governance.audit.routes import TLOG_ROUTES
from governance.audit.witnesses import Witnesses
from governance.bootstrap import Services
from governance.complaints.pages import PAGES as COMPLAINT_PAGES
from governance.complaints.routes import PUBLIC_ROUTES as COMPLAINT_PUBLIC_ROUTES
from governance.complaints.routes import ROUTES as COMPLAINT_ROUTES
from governance.core import authz, cache, db, schedule
from governance.core.authz import casbin_middleware
from governance.core.clock import Clock
from governance.core.edge import (
    JSONBodyRequest,
    complete_allow_header,
    no_store_unless_public,
    refuse_control_characters,
    refuse_overlong_parameters,
    trusted_networks,
)
from governance.core.errors import exception_handlers, problem_details_plugin
from governance.core.identity import Identity, jwt_auth
from governance.core.logging import body_size_limit, configure_logging, request_logging_middleware
from governance.core.ratelimits import per_client, per_subject
from governance.credentials.pages import PAGES as CREDENTIAL_PAGES
from governance.credentials.routes import PUBLIC_API_ROUTES as CREDENTIAL_PUBLIC_API_ROUTES
from governance.credentials.routes import PUBLIC_ROUTES as CREDENTIAL_PUBLIC_ROUTES
from governance.credentials.routes import ROUTES as CREDENTIAL_ROUTES
from governance.evidence import worker as evidence_worker
from governance.evidence.pages import PAGES as EVIDENCE_PAGES
from governance.evidence.routes import ROUTES as EVIDENCE_ROUTES
from governance.privacy import service as privacy_service
from governance.privacy.pages import PAGES as PRIVACY_PAGES
from governance.privacy.routes import ROUTES as PRIVACY_ROUTES
from governance.settings import Settings
from governance.vetting.pages import PAGES as VETTING_PAGES
from governance.vetting.routes import ROUTES as VETTING_ROUTES
from governance.web.pages import PAGES as WEB_PAGES
from governance.web.shell import Shell


class Me(msgspec.Struct, frozen=True):
    """The caller as the service sees them."""

    sub: str
    roles: list[str]


@get("/me", tags=["identity"])
async def me(request: Request[Identity, Any, Any]) -> Me:
    """The caller's subject and roles, from their bearer token."""
    return Me(sub=request.user.sub, roles=list(request.user.roles))


@get("/health", tags=["operations"], exclude_from_auth=True)
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@get("/ready", tags=["operations"], exclude_from_auth=True)
async def ready(witnesses: NamedDependency[Witnesses]) -> dict[str, Any]:
    """Readiness: 503 while the database cannot answer. Each witness's state is a detail: an
    absent witness never stops the log from recording (it catches up when back)."""
    try:
        await db.ping()
    except Exception as exc:
        raise ServiceUnavailableException("The database is unreachable") from exc
    if not witnesses.statuses:
        return {"status": "ready"}
    return {"status": "ready", "witnesses": witnesses.ready_details()}


class Metrics(PrometheusController):
    """Prometheus text format: requests and latencies by route template (no personal data)."""

    path = "/metrics"
    include_in_schema = False


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Litestar:
    """Build the application for ``settings`` (read from the environment when omitted).

    ``clock`` is the time every time-dependent rule reads (the system's by default);
    tests pass a :class:`~governance.core.clock.ManualClock` to move time. A convenience
    over :func:`application` (and uvicorn's factory): the services come from
    :func:`governance.bootstrap.build`.
    """
    settings = settings or Settings.from_env()
    db.check_engine_matches(settings)
    configure_logging(settings)
    return application(bootstrap.build(settings, clock=clock))


def dependencies(services: Services) -> dict[str, Provide]:
    """What a handler may ask for by name, typed: ``vetting: Vetting``, ``log_key: LogKey``, ..."""

    def provide(value: Any) -> Provide:
        return Provide(lambda: value, sync_to_thread=False, use_cache=True)

    def now() -> datetime:
        return services.clock.now()

    def restricted_to(request: Request[Identity, Any, Any]) -> str | None:
        return authz.restricted_to(services.authorizer, request)

    return {
        # The instant by the services' clock (a test moves a ManualClock), read per request.
        "now": Provide(now, sync_to_thread=False),
        # For ``own_list`` routes: the caller's sub when they may list only their own records.
        "restricted_to": Provide(restricted_to, sync_to_thread=False),
        "settings": provide(services.settings),
        "log_key": provide(services.log_key),
        "witnesses": provide(services.witnesses),
        "vetting": provide(services.vetting),
        "dossier_cache": provide(services.dossier_cache),
        "privacy": provide(services.privacy),
        "complaints": provide(services.complaints),
        "evidence": provide(services.evidence),
        "web": provide(services.web),
        "issuer": provide(services.issuer),
        "attestation_templates": provide(services.attestation_templates),
        # For a page that offers an action only to those the policy lets take it.
        "authorizer": provide(services.authorizer),
    }


def application(services: Services) -> Litestar:
    """The application over ``services``: routes, guard, middleware, periodic jobs."""
    settings, clock, evidence = services.settings, services.clock, services.evidence

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.start(settings)
        if settings.is_postgres:
            await cache.start_listening(settings.effective_database_url)
        # privacy: a published notice's text never changes; refuse to serve if it did.
        await privacy_service.register_notices(services.privacy, clock.now())
        # The policy files this start runs on are in force from now: bundles cite them.
        await record_in_force(evidence.policies, clock.now())
        # Periodic work; each job with an interval of 0 is off (cron runs the CLI instead).
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(schedule.every(job.interval, job.work, stop, name=job.name, at_start=job.at_start))
            for job in services.jobs
            if job.enabled
        ]
        if settings.evidence_poll_interval.total_seconds() > 0:
            poll = settings.evidence_poll_interval.total_seconds()
            tasks.append(asyncio.create_task(evidence_worker.run(evidence, clock, stop, poll)))
        try:
            yield
        finally:
            stop.set()  # rounds in progress finish their transactions
            await asyncio.gather(*tasks)
            await cache.stop_listening()
            await db.stop()

    api = Router(
        path="/api/v1",
        route_handlers=[
            me,
            *AUDIT_ROUTES,
            *VETTING_ROUTES,
            *PRIVACY_ROUTES,
            *EVIDENCE_ROUTES,
            *COMPLAINT_ROUTES,
            *CREDENTIAL_ROUTES,
        ],
        middleware=[casbin_middleware(services.authorizer), refuse_overlong_parameters],
    )
    # The log as tlog-tiles, outside /api/v1 where such clients expect it; same guard.
    tlog = Router(
        path="/",
        route_handlers=TLOG_ROUTES,
        middleware=[casbin_middleware(services.authorizer), refuse_overlong_parameters],
    )
    trusted = trusted_networks(settings.trusted_proxies)
    public_api = Router(
        path="/api/v1",
        route_handlers=[*COMPLAINT_PUBLIC_ROUTES, *CREDENTIAL_PUBLIC_API_ROUTES],
        middleware=[refuse_overlong_parameters, per_client(settings.attestation_status_rate_limit, trusted)],
    )
    # The issuer's DID document and status lists, where verifiers expect them (no account).
    credential_public = Router(
        path="/", route_handlers=CREDENTIAL_PUBLIC_ROUTES, middleware=[refuse_overlong_parameters]
    )
    auth = jwt_auth(settings)
    prometheus = PrometheusConfig(app_name="governance", group_path=True, exclude=["/metrics", "/health"])

    app = Litestar(
        route_handlers=[health, ready, Metrics, api, public_api, tlog, credential_public],
        lifespan=[lifespan],
        on_app_init=[auth.on_app_init],
        # After authentication (Litestar puts it first), before the Casbin guard: a control
        # character or a flood is refused before any lookup or denial entry.
        middleware=[
            prometheus.middleware,
            refuse_control_characters,
            *([per_subject(settings.rate_limit)] if settings.rate_limit else []),
        ],
        request_class=JSONBodyRequest,
        plugins=[
            problem_details_plugin(),
            # The pages: every domain's PAGES, behind the same guard, with their own errors.
            Shell(
                services.web,
                services.authorizer,
                clock,
                pages=[
                    *WEB_PAGES,
                    *PRIVACY_PAGES,
                    *COMPLAINT_PAGES,
                    *VETTING_PAGES,
                    *EVIDENCE_PAGES,
                    *CREDENTIAL_PAGES,
                ],
            ),
        ],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        request_max_body_size=settings.max_request_body_bytes,
        dependencies=dependencies(services),
        openapi_config=api_docs.openapi_config(__version__),
        logging_config=None,
        debug=False,
    )
    # Outside routing, so that 404s, 405s and oversized bodies are logged and limited too.
    methods = {route.path_format: route.methods for route in app.routes if isinstance(route, HTTPRoute)}
    app.asgi_handler = request_logging_middleware(
        no_store_unless_public(
            complete_allow_header(body_size_limit(settings.max_request_body_bytes)(app.asgi_handler), methods)
        )
    )
    return app
