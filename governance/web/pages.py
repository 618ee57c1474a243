"""The shell's own pages: home, sign-in (token or one-time link), sign-out.

Staff sign in by pasting a bearer token from the identity provider (verified exactly as
the API verifies it) or by opening a link that ``governance token link`` printed; a mentee
arrives through a portal link the platform asked for. A link's page only shows a
"Continue" button: link checkers and mail scanners that fetch it cannot use it up. Every
way in ends in a session cookie and an audit entry; every refusal is recorded too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from governance.core.limits import identifier, text
from governance.core.ratelimits import LIMITED_PER_CLIENT
from governance.core.shapes import Input
from governance.web import sessions
from governance.web.config import Web
from governance.web.forms import blank, read_form
from governance.web.i18n import N_, gettext
from governance.web.rendering import page_context, render
from governance.web.security import local_path
from governance.web.shell import CookieNames, cookie, is_secure

# A JWT from the identity provider: longer than an identifier, printable like one.
MAX_TOKEN: Final = 8192
# The roles whose home is the mentee's own privacy page rather than the staff landing.
MENTEE_HOME: Final = "/privacy"


class TokenSignIn(Input):
    """The sign-in form: a bearer token, and where to go next."""

    token: Annotated[str, identifier(MAX_TOKEN)]
    next: Annotated[str, text(2000)] = "/"


def _signed_in(
    request: Request[Any, Any, Any], web: Web, session: sessions.Session, target: str, now: datetime
) -> Response[Any]:
    secure = is_secure(web, request.scope)
    lifetime = int((session.expires_at - now).total_seconds())
    answer: Response[Any] = Redirect(target, status_code=303)
    answer.set_cookie(cookie(CookieNames.over(secure).session, session.secret, secure=secure, max_age=lifetime))
    return answer


@get("/", opt={"navigation": N_("Home")})
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    """Where a signed-in person starts: a mentee at their privacy page, staff at a list of
    the areas their roles may reach."""
    page = page_context(request)
    if page.session is not None and (page.session.is_portal or set(page.session.identity.roles) == {"mentee"}):
        return Redirect(MENTEE_HOME, status_code=303)
    areas = [link for link in page.navigation if link.path != "/"]
    return render(request, "web/home.html", {"areas": areas})


@get("/sign-in", exclude_from_auth=True)
async def sign_in_form(
    request: Request[Any, Any, Any],
    after: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
) -> Response[Any]:
    """The sign-in page: paste a token from the identity provider."""
    return render(request, "web/sign_in.html", {"form": blank({"next": local_path(after)})})


@post("/sign-in", exclude_from_auth=True, opt={LIMITED_PER_CLIENT: True})
async def sign_in(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], web: NamedDependency[Web]
) -> Response[Any]:
    """Sign in with a bearer token: a session cookie, then the page that asked (``next``, a
    path on this service only)."""
    form = await read_form(request, TokenSignIn)
    if not form.valid or form.data is None:
        return render(request, "web/sign_in.html", {"form": form}, status_code=422)
    verified = web.bearer(form.data.token)
    if verified is None:
        await sessions.sign_in_failed("invalid_token")
        form.errors["token"] = gettext(
            N_("This token was not accepted: it may have expired, or come from another deployment.")
        )
        form.values.pop("token", None)
        return render(request, "web/sign_in.html", {"form": form}, status_code=422)
    identity, expires = verified
    session = await sessions.open_session(
        web,
        identity,
        now,
        kind=sessions.STAFF,
        method="token",
        not_after=expires,
        replacing=page_context(request).session,
    )
    return _signed_in(request, web, session, local_path(form.data.next), now)


def _link_refused(request: Request[Any, Any, Any], look: sessions.LinkLook) -> Response[Any]:
    status = 404 if look.state == "unknown" else 410
    return render(request, "web/link_refused.html", {"look": look}, status_code=status)


@get("/sign-in/link/{secret:str}", exclude_from_auth=True)
async def link_page(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], secret: FromPath[str]
) -> Response[Any]:
    """A sign-in link: a page with a "Continue" button (opening the page uses nothing up)."""
    look = await sessions.look_up_link(secret, now)
    if look.state != "valid":
        return _link_refused(request, look)
    return render(request, "web/link.html", {"look": look})


@post("/sign-in/link/{secret:str}", exclude_from_auth=True, opt={LIMITED_PER_CLIENT: True})
async def redeem_link(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], web: NamedDependency[Web], secret: FromPath[str]
) -> Response[Any]:
    """Use a sign-in link (once): a session cookie, then home."""
    try:
        session = await sessions.redeem_link(web, secret, now, replacing=page_context(request).session)
    except sessions.LinkRefused as refused:
        return _link_refused(request, refused.look)
    return _signed_in(request, web, session, "/", now)


@post("/sign-out", status_code=200)
async def sign_out(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], web: NamedDependency[Web]
) -> Response[Any]:
    """Sign out: the session is revoked on the server, the cookie forgotten."""
    page = page_context(request)
    session = page.session
    assert session is not None  # the shell lets no signed-out request reach this page
    await sessions.sign_out(session, now)
    page.session, page.navigation = None, []  # the answer is already a signed-out page
    secure = is_secure(web, request.scope)
    answer = render(request, "web/signed_out.html", {"return_url": session.return_url, "was_portal": session.is_portal})
    answer.set_cookie(cookie(CookieNames.over(secure).session, "", secure=secure, max_age=0))
    return answer


PAGES: list[ControllerRouterHandler] = [home, sign_in_form, sign_in, link_page, redeem_link, sign_out]
