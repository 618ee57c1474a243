"""JSON-LD with vendored contexts only: expansion and RDF Dataset Canonicalization without a network.

pyld fetches unknown contexts by default; :func:`load_document` serves the files listed in
``contexts/README.md`` and refuses any other URL, so a credential naming a context we do
not hold fails to canonicalise (and so to verify) instead of reaching out.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any, Final

from pyld import jsonld  # type: ignore[import-untyped]

VC_V2: Final = "https://www.w3.org/ns/credentials/v2"
OB_V3: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
VC_EXAMPLES_V2: Final = "https://www.w3.org/ns/credentials/examples/v2"

_FILES: Final = {
    VC_V2: "credentials-v2.jsonld",
    VC_EXAMPLES_V2: "credentials-examples-v2.jsonld",
    OB_V3: "ob-v3p0-context-3.0.3.json",
}


class UnknownContext(ValueError):
    """A credential names a JSON-LD context this service does not hold."""


@cache
def _context(url: str) -> dict[str, Any]:
    text = resources.files("governance.credentials").joinpath("contexts", _FILES[url]).read_text(encoding="utf-8")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def known_contexts() -> tuple[str, ...]:
    return tuple(_FILES)


def load_document(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld's document loader: a vendored context, or :class:`UnknownContext` (never a fetch)."""
    if url not in _FILES:
        raise UnknownContext(f"unknown JSON-LD context {url!r}: only {', '.join(_FILES)} are known")
    # pyld may keep what it is given: hand out a copy of the cached document.
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_context(url))}


def canonicalize(document: dict[str, Any]) -> str:
    """The document's RDFC-1.0 canonical N-Quads (pyld's URDNA2015; see DESIGN.md on control characters).

    Safe mode, as Data Integrity asks: a property that no context defines is an error
    (:class:`UndefinedTerm`), never silently left out of what is signed.
    """
    processor = jsonld.JsonLdProcessor(on_property_dropped=_refuse_dropped)
    try:
        canonical: str = processor.normalize(
            document,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": load_document},
        )
    except jsonld.JsonLdError as exc:
        raise _unwrap(exc) from exc
    return canonical


class UndefinedTerm(ValueError):
    """A property no context defines: expansion would drop it, so the proof would not cover it."""


def _refuse_dropped(expanded: str | None) -> None:
    # Safe mode: a dropped property could be changed or added after signing unnoticed.
    raise UndefinedTerm(f"the property {expanded!r} is not defined by the credential's contexts")


def _unwrap(exc: BaseException) -> ValueError:
    """The first cause pyld wrapped (an unknown context reads as itself), else the error as a ValueError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UnknownContext | UndefinedTerm):
            return seen
        cause = getattr(seen, "cause", None) or seen.__cause__
        seen = cause if isinstance(cause, BaseException) else None
    return ValueError(f"the credential is not valid JSON-LD: {exc}")
