"""The shell as one Litestar plugin: pages router, static files, templates, headers, errors.

The application adds ``Shell(web, authorizer, clock, pages=[...])`` to its plugins, with
every domain's ``PAGES`` (and the shell's own). Each page request then passes, in order:

1. the page middleware: finds the session of the cookie (or none), picks the language,
   derives the CSRF token, builds the navigation from what the person's roles may reach
   (asking the Casbin authorizer), and refuses a signed-out visitor on a page that needs
   a session (401, which the error pages turn into a redirect to sign-in) and a
   state-changing request without its CSRF token (403);
2. the rate limits: sign-in attempts per client address (``GOVERNANCE_SIGN_IN_RATE_LIMIT``),
   everything else per signed-in subject, as on the API;
3. the same Casbin guard as ``/api/v1``, on the page's route template (denials audited);
4. the page handler, which calls services and answers :func:`~governance.web.rendering.render`.

Every answer on a page path carries the security headers and ``Cache-Control: no-store``
(static files excepted, which are cached for a year under versioned URLs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from litestar import Request, Router
from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotAuthorizedException, NotFoundException
from litestar.plugins import InitPluginProtocol
from litestar.plugins.htmx import HTMXConfig, HTMXPlugin, HTMXRequest
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, ControllerRouterHandler, Message, Receive, Scope, Send

from governance.core.authz import Authorizer, casbin_middleware
from governance.core.clock import Clock
from governance.core.edge import refuse_overlong_parameters
from governance.core.identity import ROLES
from governance.core.ratelimits import per_client, per_subject
from governance.web import i18n, sessions
from governance.web.config import Web
from governance.web.errors import NOT_PAGES, ErrorPages
from governance.web.rendering import (
    PAGE_STATE,
    STATIC_DIR,
    STATIC_PATH,
    NavLink,
    PageContext,
    language_links,
    page_state,
    template_engine,
)
from governance.web.security import PAGE_HEADERS, SAFE_METHODS, check_csrf, csrf_token

# A handler that belongs in the navigation says so: ``opt={NAVIGATION: N_("Your privacy")}``.
NAVIGATION: Final = "navigation"
YEAR: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class CookieNames:
    """The shell's cookie names: ``__Host-`` prefixed (Secure, whole site, no Domain) over HTTPS."""

    session: str
    csrf: str

    @classmethod
    def over(cls, secure: bool) -> CookieNames:
        prefix = "__Host-" if secure else ""
        return cls(session=f"{prefix}governance-session", csrf=f"{prefix}governance-csrf")


def cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> Cookie:
    """A cookie as the shell sets them: HttpOnly, SameSite=Lax, whole site, Secure over HTTPS."""
    return Cookie(key=name, value=value, path="/", httponly=True, samesite="lax", secure=secure, max_age=max_age)


def is_secure(web: Web, scope: Scope) -> bool:
    """Whether this request's cookies are ``Secure``: the service is public over HTTPS, or
    this request came over it."""
    return web.secure or scope.get("scheme") == "https"


class Shell(InitPluginProtocol):
    """The pages' shell (see the module docstring)."""

    def __init__(
        self, web: Web, authorizer: Authorizer, clock: Clock, *, pages: Sequence[ControllerRouterHandler]
    ) -> None:
        self.web, self.authorizer, self.clock = web, authorizer, clock
        self.errors = ErrorPages(web)
        # Looked up by every page request; kept per process (see sessions.session_cache).
        self.sessions_kept = sessions.session_cache()
        self._reachable_by_roles: dict[tuple[tuple[str, ...], int], list[tuple[str, str]]] = {}
        # Litestar deep-copies what a router holds; a plain function (not a bound method)
        # is kept as is, so the middleware reads this shell's clock, not a copy of it.
        page_middleware = self._page_middleware_factory()
        self.router = Router(
            path="/",
            route_handlers=list(pages),
            middleware=[
                page_middleware,
                per_client(web.sign_in_rate_limit, web.trusted_proxies),
                *([per_subject(web.rate_limit)] if web.rate_limit else []),
                casbin_middleware(authorizer),
                refuse_overlong_parameters,
            ],
            exception_handlers=self.errors.handlers(),
            request_class=HTMXRequest,
            include_in_schema=False,
        )
        self.navigation = [
            (route.path, str(handler.opt[NAVIGATION]))
            for route in self.router.routes
            if isinstance(route, HTTPRoute) and "{" not in route.path
            for handler in route.route_handlers
            if NAVIGATION in handler.opt and "GET" in handler.http_methods
        ]

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        kept = list(app_config.signature_types)
        HTMXPlugin(HTMXConfig(set_request_class_globally=False)).on_app_init(app_config)
        app_config.signature_types = [*kept, *app_config.signature_types]
        static = create_static_files_router(
            path=STATIC_PATH,
            directories=[STATIC_DIR],
            opt={"exclude_from_auth": True},
            include_in_schema=False,
            cache_control=CacheControlHeader(max_age=YEAR, public=True, immutable=True),
        )
        app_config.route_handlers = [*app_config.route_handlers, self.router, static]
        app_config.template_config = TemplateConfig(instance=template_engine())
        app_config.before_send = [*app_config.before_send, page_headers]
        problem = app_config.exception_handlers.get(HTTPException)
        for unrouted in (NotFoundException, MethodNotAllowedException):
            app_config.exception_handlers[unrouted] = self.errors.unrouted(problem)
        return app_config

    def _page_middleware_factory(self) -> Callable[[ASGIApp], ASGIApp]:
        return lambda app: self.page_middleware(app)

    def page_middleware(self, app: ASGIApp) -> ASGIApp:
        """Session, language, CSRF and navigation for every page request (module docstring)."""

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            request: Request[Any, Any, Any] = Request(scope, receive, send)
            secure = is_secure(self.web, scope)
            names = CookieNames.over(secure)
            cookies: list[Cookie] = []
            session = await sessions.find(request.cookies.get(names.session), self.clock.now(), self.sessions_kept)
            if session is None and names.session in request.cookies:
                cookies.append(cookie(names.session, "", secure=secure, max_age=0))
            language = self._language(request, cookies, secure)
            binding = session.secret if session is not None else request.cookies.get(names.csrf)
            if session is None and not sessions.well_formed(binding):
                binding = sessions.new_secret()
                cookies.append(cookie(names.csrf, binding, secure=secure))
            assert binding is not None
            page_state(scope)[PAGE_STATE] = PageContext(
                web=self.web,
                session=session,
                language=language,
                language_switch=lambda: language_links(
                    self.web, language, request.url.path, request.query_params.multi_items()
                ),
                csrf_token=csrf_token(binding),
                navigation=self._navigation_for(session, request.url.path),
                cookies=cookies,
            )
            scope["user"] = session.identity if session is not None else None
            scope["auth"] = session
            if session is None and not scope["route_handler"].opt.get("exclude_from_auth"):
                raise NotAuthorizedException("Sign in to see this page")
            if scope["method"] not in SAFE_METHODS:
                await check_csrf(request, binding)
            await app(scope, receive, send)

        return middleware

    def _language(self, request: Request[Any, Any, Any], cookies: list[Cookie], secure: bool) -> i18n.Language:
        catalogs = self.web.catalogs
        remembered = request.cookies.get(i18n.LANGUAGE_COOKIE)
        explicit = catalogs.get(request.query_params.get("lang"))
        if explicit is not None and explicit.tag != remembered:
            cookies.append(cookie(i18n.LANGUAGE_COOKIE, explicit.tag, secure=secure, max_age=YEAR))
        language = explicit or catalogs.choose(None, remembered, request.headers.get("accept-language"))
        i18n.activate(language)
        return language

    def _navigation_for(self, session: sessions.Session | None, path: str) -> list[NavLink]:
        if session is None:
            return []
        reachable = self._reachable(session.identity.roles)
        return [NavLink(route, label, current=route == path) for route, label in reachable]

    def _reachable(self, roles: tuple[str, ...]) -> list[tuple[str, str]]:
        """The navigation's entries these roles may open, per policy generation."""
        key = (roles, self.authorizer.generation)
        found = self._reachable_by_roles.get(key)
        if found is None:
            found = [
                (route, label)
                for route, label in self.navigation
                if self.authorizer.allows(roles, route, "GET", "other")
                or self.authorizer.allows(roles, route, "GET", "self")
            ]
            # Sessions hold known roles, but combinations of them are many: bounded all the same.
            if len(self._reachable_by_roles) >= len(ROLES) ** 2:
                self._reachable_by_roles.clear()
            self._reachable_by_roles[key] = found
        return found


# What every page answer carries in place of whatever the handler set under those names.
_NO_STORE: Final = (b"cache-control", b"no-store")
_STATIC_HEADERS: Final = (frozenset(name for name, _ in PAGE_HEADERS), PAGE_HEADERS)
_PAGE_HEADERS: Final = (_STATIC_HEADERS[0] | {_NO_STORE[0]}, (*PAGE_HEADERS, _NO_STORE))
_STATIC_PREFIX: Final = STATIC_PATH + "/"


async def page_headers(message: Message, scope: Scope) -> None:
    """The security headers on every answer of a page path, and the cookies the shell set
    aside for it (a ``before_send`` hook: it sees error answers too).

    It works on the answer's raw header list in one pass (Litestar's ``MutableScopeHeaders``
    scans the whole list again for every header it sets)."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    path: str = scope["path"]
    if path.startswith(NOT_PAGES):
        return
    replaced, extra = _STATIC_HEADERS if path.startswith(_STATIC_PREFIX) else _PAGE_HEADERS
    headers = [(name, value) for name, value in message.get("headers", ()) if name.lower() not in replaced]
    headers.extend(extra)
    page: PageContext | None = page_state(scope).get(PAGE_STATE)
    if page is not None and page.cookies:
        # A cookie the answer sets itself (a new session) wins over one the shell set aside.
        answered = {
            value.split(b"=", 1)[0].strip().decode("latin-1")
            for name, value in headers
            if name.lower() == b"set-cookie"
        }
        for pending in page.cookies:
            if pending.key not in answered:
                headers.append((b"set-cookie", set_cookie_value(pending).encode("latin-1")))
    message["headers"] = headers


# Characters a cookie value may hold without quoting (the shell's secrets and language tags).
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_-]+$")
_PLACEHOLDER: Final = "governancecookievalue"


def set_cookie_value(pending: Cookie) -> str:
    """``Set-Cookie``'s value, as Litestar writes it (``Cookie.to_header``), which goes through
    ``dataclasses.asdict`` and ``SimpleCookie`` on every call: for a plain value, the same
    text around it is made once per kind of cookie."""
    if pending.expires is not None or pending.domain is not None or not _PLAIN_VALUE.match(pending.value or ""):
        return pending.to_header(header="")
    before, after = _around_value(
        pending.key, pending.path, pending.max_age, pending.secure, pending.httponly, pending.samesite
    )
    return before + (pending.value or "") + after


@cache
def _around_value(
    key: str, path: str, max_age: int | None, secure: bool | None, httponly: bool | None, samesite: Any
) -> tuple[str, str]:
    example = Cookie(
        key=key, value=_PLACEHOLDER, path=path, max_age=max_age, secure=secure, httponly=httponly, samesite=samesite
    )
    before, after = example.to_header(header="").split(_PLACEHOLDER)
    return before, after
