"""Privacy pages: what a mentee sees of their own privacy (thin: the privacy services, a template).

``/privacy`` is where a signed-in mentee lands (from a portal link or the home page): every
purpose, whether it is allowed now and since when, and what its notice says, in their
language. The preference centre grows from here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.types import ControllerRouterHandler

from governance.privacy import consent
from governance.privacy.service import Privacy
from governance.web import i18n
from governance.web.i18n import N_
from governance.web.rendering import render


@get("/privacy", opt={"navigation": N_("Your privacy")})
async def your_privacy(
    now: NamedDependency[datetime], request: Request[Any, Any, Any], privacy: NamedDependency[Privacy]
) -> Response[Any]:
    """The signed-in mentee's purposes: allowed or not, since when, by which choice, and the
    notice that explains each, in the page's language (the service's own records only)."""
    current = await consent.preferences(privacy, request.user.sub, now)
    language = i18n.active().tag
    purposes = []
    for state in current.purposes:
        purpose = privacy.policy.purposes[state.purpose]
        texts = purpose.current_notice.text
        purposes.append(
            {
                "name": purpose.name,
                "title": purpose.title,
                "notice": texts.get(language) or texts.get(i18n.SOURCE_LANGUAGE) or next(iter(texts.values()), ""),
                "lawful_basis": purpose.lawful_basis,
                "state": state,
            }
        )
    return render(request, "privacy/landing.html", {"purposes": purposes, "retention": current.retention})


PAGES: list[ControllerRouterHandler] = [your_privacy]
