"""The public verification page: paste or upload a credential, see each check with its result.

The same service as ``POST /api/v1/credentials/verify``; no session, no policy rule
(``exclude_from_auth``), counted per client address like the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.types import ControllerRouterHandler

from governance.core import limits
from governance.core.errors import Problem
from governance.core.ratelimits import LIMITED_PER_CLIENT
from governance.core.shapes import Input
from governance.credentials import verification
from governance.credentials.keys import Issuer
from governance.web.forms import Form, blank, decode_form
from governance.web.i18n import N_, gettext
from governance.web.rendering import render

# A credential is a few kilobytes; a pasted or uploaded one larger than this is not one of ours.
MAX_CREDENTIAL_CHARS: Final = limits.MAX_FREE_FORM_BODY  # as the API takes one
PATH: Final = "/credentials/verify"

CHECK_NAMES: Final = {
    "format": N_("Open Badges 3.0 format"),
    "issuer": N_("Issued by this service"),
    "proof": N_("Signature"),
    "validity": N_("Validity period"),
    "revocation": N_("Not revoked"),
    "suspension": N_("Not suspended"),
    "mentor_vetted": N_("Mentor approved on the session date"),
}
OUTCOMES: Final = {
    "passed": (N_("Passed"), "ok"),
    "failed": (N_("Failed"), "danger"),
    "not_checked": (N_("Not checked"), "neutral"),
}


class VerifyForm(Input, frozen=True):
    """What the page accepts: pasted text, or a file (read separately: it is not text)."""

    credential: Annotated[str, msgspec.Meta(max_length=MAX_CREDENTIAL_CHARS)] | None = None
    file: str | None = None


@get(PATH, exclude_from_auth=True)
async def verify_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """Public: a form to paste or upload an attestation credential."""
    return render(request, "credentials/verify.html", {"form": blank({}), "result": None})


@post(PATH, exclude_from_auth=True, opt={LIMITED_PER_CLIENT: True})
async def verify_submitted(
    request: Request[Any, Any, Any], issuer: NamedDependency[Issuer], now: NamedDependency[datetime]
) -> Response[Any]:
    """Verify the pasted or uploaded credential and show each check with its result."""
    submitted = await request.form()
    form: Form[VerifyForm] = decode_form(submitted, VerifyForm)
    text = form.data.credential if form.valid and form.data is not None else None
    upload = submitted.get("file")
    if form.valid and isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_CREDENTIAL_CHARS + 1)
        if len(raw) > MAX_CREDENTIAL_CHARS:
            form.errors["file"] = gettext(N_("This file is too large to be a credential."))
        else:
            text = raw.decode("utf-8", errors="replace")
    if form.valid and not form.errors and not (text or "").strip():
        form.errors["credential"] = gettext(N_("Paste a credential or choose its file."))
    if form.errors or text is None:
        return render(request, "credentials/verify.html", {"form": form, "result": None}, status_code=422)
    try:
        result = await verification.verify(issuer, verification.parse(text), now)
    except Problem as problem:
        form.errors["credential"] = gettext(N_("This is not a credential: %(reason)s"), reason=problem.detail)
        return render(request, "credentials/verify.html", {"form": form, "result": None}, status_code=422)
    checks = [
        {
            "name": gettext(CHECK_NAMES[c.name]),
            "outcome": gettext(OUTCOMES[c.outcome][0]),
            "tone": OUTCOMES[c.outcome][1],
            "detail": c.detail,
        }
        for c in result.checks
    ]
    return render(request, "credentials/verify.html", {"form": form, "result": result, "checks": checks})


PAGES: list[ControllerRouterHandler] = [verify_page, verify_submitted]
