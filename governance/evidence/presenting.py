"""What every evidence page shares: the words for counted values, GET forms, rendering."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response
from litestar.datastructures import MultiDict

from governance.core.shapes import Input
from governance.web.forms import Form, decode_form, shape_fields
from governance.web.i18n import N_, gettext
from governance.web.rendering import render

PAGE_SIZE: Final = 25

# The words for the values the summaries count by (statuses, categories, outcomes, ...),
# marked for translation; a value unknown here is shown as stored.
LABELS: Final[dict[str, str]] = {
    "onboarding": N_("Onboarding"),
    "approved": N_("Approved"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
    "lapsed": N_("Lapsed"),
    "session_quality": N_("Session quality"),
    "mentor_conduct": N_("Mentor conduct"),
    "safeguarding": N_("Safeguarding"),
    "billing": N_("Billing"),
    "attestation": N_("Attestation"),
    "privacy": N_("Privacy"),
    "other": N_("Other"),
    "upheld": N_("Upheld"),
    "partially_upheld": N_("Partially upheld"),
    "not_upheld": N_("Not upheld"),
    "withdrawn": N_("Withdrawn"),
    "open": N_("Open"),
    "amended": N_("Amended"),
    "requested": N_("Requested"),
    "denied": N_("Denied"),
    "issued": N_("Issued"),
    "failed": N_("Failed"),
    "opt_in": N_("Allowed"),
    "opt_out": N_("Refused"),
    "explicit": N_("Explicit choice"),
    "gpc": N_("Global Privacy Control"),
    "default": N_("Default"),
    "expired": N_("Lapsed consent"),
    "erasure": N_("Erasure"),
    "access": N_("Access"),
    "portability": N_("Portability"),
    "rectification": N_("Rectification"),
    "restriction": N_("Restriction"),
    "objection": N_("Objection"),
    "queued": N_("Queued"),
    "rendering": N_("Rendering"),
    "uploading": N_("Uploading"),
    "ready": N_("Ready"),
    "success": N_("Success"),
    "failure": N_("Failure"),
}


def label(value: str) -> str:
    """A counted value in words, in the page's language."""
    return gettext(LABELS[value]) if value in LABELS else value


def labelled(counts: dict[str, int]) -> list[tuple[str, int]]:
    """``{value: n}`` as ``(words, n)`` bars, in the summary's order."""
    return [(label(value), n) for value, n in counts.items()]


def read_query(request: Request[Any, Any, Any], shape: type[Input]) -> Form[Any]:
    """A GET form (filters, a period) decoded like a posted one; other query parameters
    (the language switch's ``lang``) are not the form's."""
    names = shape_fields(shape)
    kept = MultiDict([(name, value) for name, value in request.query_params.multi_items() if name in names])
    return decode_form(kept, shape)


def show(request: Request[Any, Any, Any], template: str, context: dict[str, Any], **options: Any) -> Response[Any]:
    """:func:`render` with the words for counted values (``label``, ``labelled``)."""
    return render(request, template, {**context, "label": label, "labelled": labelled}, **options)
