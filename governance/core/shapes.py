"""The base shapes every domain declares its API and export Structs on.

msgspec reads a Struct's configuration from its class and passes it on to subclasses, so
the options are set here once (as msgspec's documentation recommends) instead of on each
class, where they drifted between domains. A subclass adds only what is its own (a tag,
``omit_defaults``, or ``kw_only``, which msgspec applies to a class's own fields and so
never inherits).

- :class:`View`: what the service answers. Immutable once built.
- :class:`Input`: what a client sends. As a view, and an unknown field is refused (422
  naming it) rather than ignored, so a misspelt field is never mistaken for an absent one.
- :class:`Document`: a self-contained document this service writes for others to read
  (an access export): its JSON Schema says
  ``additionalProperties: false``.
"""

from __future__ import annotations

from typing import dataclass_transform

import msgspec

# Type checkers do not read a Struct's configuration from its base (PEP 681 has no such
# rule): declaring each base a transform that defaults to frozen tells them what msgspec
# does at run time, so a subclass is checked as frozen without restating it.


@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class View(msgspec.Struct, frozen=True):
    """Base of every response shape."""


@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class Input(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of every request body."""


@dataclass_transform(frozen_default=True, field_specifiers=(msgspec.field,))
class Document(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of the records of a document exchanged whole (exports)."""
