"""Errors on pages are pages: what happened and what to do, in the person's language.

A page that needs a signed-in person sends a signed-out one to ``/sign-in?next=...`` (HTMX
requests get ``HX-Redirect``); 403, 404, 409, 429, 500 and the rest answer a page with
their status. The JSON API keeps its problem details: these handlers are the pages
router's, and the application-wide ones below answer a page only for paths outside it.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlencode

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_303_SEE_OTHER

from governance.core.crypto import SubjectErased
from governance.web import i18n
from governance.web.config import Web
from governance.web.i18n import N_
from governance.web.rendering import PAGE_STATE, PageContext, is_fragment_request, page_state, render
from governance.web.security import local_path

log = structlog.get_logger("governance.web")

# Paths that are not pages: their errors stay problem details.
# The DID document and the credential status lists are JSON for verifiers, cached as they say.
NOT_PAGES: Final = (
    "/api/",
    "/tlog/",
    "/schema",
    "/metrics",
    "/health",
    "/ready",
    "/.well-known/",
    "/credentials/status/",
)

# What each status means to a person, and what they can do about it.
EXPLAINED: Final = {
    400: (N_("This request could not be understood"), N_("Check what you typed or the link you followed.")),
    403: (
        N_("You may not see this page"),
        N_("Your role does not give access to it. Go back, or sign in as someone who may."),
    ),
    404: (N_("Page not found"), N_("Check the address, or go back to the start.")),
    405: (N_("This page cannot do that"), N_("Go back and use the page's own buttons and links.")),
    409: (
        N_("This has changed since you opened it"),
        N_("Someone or something moved it on. Reload the page to see where it stands, then try again."),
    ),
    410: (N_("This is no longer here"), N_("It was erased or has expired.")),
    413: (N_("That is too large"), N_("Send a smaller file or less text.")),
    415: (N_("That kind of file is not accepted"), N_("Send one of the kinds of file the page names.")),
    422: (N_("Some of what you sent is not valid"), N_("Go back, correct it, and send it again.")),
    429: (N_("Too many requests"), N_("Wait a minute, then try again.")),
    500: (
        N_("Something went wrong on our side"),
        N_("Nothing was changed. Try again in a moment; if it keeps happening, tell the service's administrator."),
    ),
    503: (N_("The service is not available"), N_("Try again in a moment.")),
}


class ErrorPages:
    """The error pages of one deployment (``web`` gives the languages a refused request is
    answered in when the shell did not get to see it)."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def page(self, request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        """The page for ``exc`` on a page route (the pages router's exception handler)."""
        status = exc.status_code if isinstance(exc, HTTPException) else 410 if isinstance(exc, SubjectErased) else 500
        if status == 401:
            return _to_sign_in(request)
        if status >= 500:
            log.exception("unhandled_error", route=request.scope.get("path_template"), error_type=type(exc).__name__)
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        # A 4xx detail says what was wrong with this request (the services' words); a 5xx
        # keeps its internals to itself.
        detail = exc.detail if isinstance(exc, HTTPException) and status < 500 else None
        title, advice = EXPLAINED.get(status, (HTTPStatus(status).phrase, N_("Go back, or go to the start.")))
        self._ensure_context(request)
        return render(
            request,
            "web/error.html",
            {"status": status, "title": title, "advice": advice, "detail": detail},
            status_code=status,
            headers=headers,
        )

    def _ensure_context(self, request: Request[Any, Any, Any]) -> None:
        # A request refused before the shell saw it (no route, or a failure in the shell
        # itself) is answered as to a signed-out visitor, in the language the browser asks for.
        state = page_state(request.scope)
        if PAGE_STATE in state:
            return
        language = self.web.catalogs.choose(
            None, request.cookies.get(i18n.LANGUAGE_COOKIE), request.headers.get("accept-language")
        )
        i18n.activate(language)
        state[PAGE_STATE] = PageContext(web=self.web, session=None, language=language, csrf_token="")

    def unrouted(
        self, problem: Callable[[Request[Any, Any, Any], Any], Response[Any]] | None
    ) -> Callable[[Request[Any, Any, Any], HTTPException], Response[Any]]:
        """The application's handler for requests no route takes (404, 405): a page outside
        the API, and there ``problem`` (the problem-details handler it replaces) as before."""

        def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
            if request.url.path.startswith(NOT_PAGES) and problem is not None:
                return problem(request, exc)
            return self.page(request, exc)

        return handler

    def handlers(self) -> dict[Any, Callable[..., Response[Any]]]:
        """The pages router's handlers: every error status, and anything unexpected."""

        # A function, not the bound method: Litestar deep-copies what a router holds.
        def page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            return self.page(request, exc)

        handlers: dict[Any, Callable[..., Response[Any]]] = {
            status.value: page for status in HTTPStatus if status >= 400
        }
        handlers.update({Exception: page, HTTPException: page, SubjectErased: page})
        return handlers


def _to_sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    next_path = local_path(here) if request.method == "GET" else "/"
    target = "/sign-in" + (f"?{urlencode({'next': next_path})}" if next_path != "/" else "")
    if is_fragment_request(request):
        # htmx follows a redirect inside the swap; this makes the whole page go to sign-in.
        return Response(b"", status_code=401, headers={"HX-Redirect": target})
    return Response(b"", status_code=HTTP_303_SEE_OTHER, headers={"Location": target})
