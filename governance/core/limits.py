"""The declared limits of what a client may send: one definition, used at every edge.

Identifiers (subjects, external ids, filters, path ids) are 1 to 200 printable characters;
free text refuses NUL (PostgreSQL cannot store it, SQLite would); JSON bodies nest at most
:data:`MAX_JSON_DEPTH` levels. The types below carry these limits into msgspec validation
and into the OpenAPI document, so a client can read them, and both database engines see
the same already-checked values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final

import msgspec
from litestar.params import Parameter

MAX_IDENTIFIER: Final = 200
MAX_JSON_DEPTH: Final = 32
MAX_CURSOR: Final = 500
# A body taken as any JSON object (a credential to verify) is at most this many bytes: a
# signed credential is a few kilobytes, and its canonicalisation costs grow with its size.
MAX_FREE_FORM_BODY: Final = 200_000

# ``$`` alone would let Python accept one trailing newline; the lookahead closes that gap
# and means nothing to an ECMA-262 reader of the OpenAPI document.
PRINTABLE: Final = r"^[^\x00-\x1f\x7f]+$(?!\n)"
NO_NUL: Final = r"^[^\x00]*$"

# What a client is told instead of the regular expression it failed.
PATTERN_MESSAGES: Final = {
    PRINTABLE: "must be printable characters, without control characters",
    NO_NUL: "must not contain NUL characters",
}


def identifier(max_length: int = MAX_IDENTIFIER, description: str | None = None) -> msgspec.Meta:
    """Constraints of an identifier in a body: printable, 1 to ``max_length`` characters."""
    return msgspec.Meta(min_length=1, max_length=max_length, pattern=PRINTABLE, description=description)


def text(max_length: int, *, min_length: int = 1, description: str | None = None) -> msgspec.Meta:
    """Constraints of free text in a body: at most ``max_length`` characters, no NUL."""
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=NO_NUL, description=description)


Identifier = Annotated[str, identifier()]
"""A subject, external id or reference in a body."""

Instant = Annotated[datetime, msgspec.Meta(tz=True)]
"""A moment in a body: ISO 8601 with its offset (a time without one names no moment)."""


def path_id(description: str | None = None) -> Any:
    """Constraints of an identifier in a path."""
    return Parameter(min_length=1, max_length=MAX_IDENTIFIER, pattern=PRINTABLE, description=description)


def query_id(description: str | None = None, *, name: str | None = None) -> Any:
    """Constraints of an identifier in a query (a filter)."""
    return Parameter(query=name, min_length=1, max_length=MAX_IDENTIFIER, pattern=PRINTABLE, description=description)
