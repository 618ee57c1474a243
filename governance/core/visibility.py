"""What a reader may see of a case file: one rule for every view that embeds internal text.

Case files (complaints, disputes, vetting dossiers) mix what is said *to* the person
the case is about with what staff say among themselves: internal notes, the reason a
severity was overridden, the reason a case was moved, the votes of a panel still
deliberating, the first of two approvals. Every view that embeds such items asks
:func:`may_see` for each one,
where the view is built, so no route can forget it:

- **staff** (support agents, compliance officers) work the cases and see everything;
- **anyone else** (the complainant, a candidate or mentor party to a dispute, the
  mentor reading their dossier, the platform acting for them) sees what is addressed to
  them or to everyone, and what they wrote themselves; never what is internal.

A role not named here reads as a party: internal text is shown only to those listed.
"""

from __future__ import annotations

from typing import Final

from governance.core.identity import Identity

STAFF_ROLES: Final = frozenset({"support_agent", "compliance_officer"})


def is_staff(reader: Identity) -> bool:
    """Whether ``reader`` works cases, and so sees their internal items."""
    return not STAFF_ROLES.isdisjoint(reader.roles)


def may_see(reader: Identity, *, internal: bool, author: str | None = None) -> bool:
    """Whether ``reader`` may see one item of a case file.

    ``internal``: the item is staff's own (not addressed to the person the case is
    about); ``author``: who wrote it, so that nobody is hidden their own words.
    """
    return not internal or is_staff(reader) or (author is not None and author == reader.sub)
