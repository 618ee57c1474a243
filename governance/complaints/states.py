"""The state machines, as data: which state may follow which, and who may move it.

Each table maps a state to the states that may follow it and, for each, the kinds of
actor allowed to make that move. Kinds are derived from the caller (see
:func:`complaint_actor_kinds`): ``complainant`` (the complaint is theirs), ``staff``
(support agents and compliance officers), ``compliance`` (compliance officers only),
``platform`` (the platform's service account), ``system`` (the SLA scan). Guards that
depend on time or on who decided before (appeal windows, four-eyes, panels) live in the
services; the tests walk every pair of states and every kind of actor.
"""

from __future__ import annotations

from typing import Final

from governance.complaints.schemas import COMPLAINT_STATES as COMPLAINT_STATES  # the states, for readers here
from governance.complaints.schemas import DISPUTE_STATES as DISPUTE_STATES
from governance.complaints.schemas import REFUND_STATES as REFUND_STATES
from governance.core.identity import Identity

Moves = dict[str, dict[str, frozenset[str]]]

COMPLAINANT: Final = frozenset({"complainant"})
STAFF: Final = frozenset({"staff"})
COMPLIANCE: Final = frozenset({"compliance"})
STAFF_OR_SYSTEM: Final = frozenset({"staff", "system"})
STAFF_OR_COMPLAINANT: Final = frozenset({"staff", "complainant"})


# ISO 10002: acknowledge, assess, investigate, respond, close, appeal.
COMPLAINT_MOVES: Final[Moves] = {
    "received": {"acknowledged": STAFF, "escalated": STAFF_OR_SYSTEM, "withdrawn": COMPLAINANT},
    "acknowledged": {"investigating": STAFF, "escalated": STAFF_OR_SYSTEM, "withdrawn": COMPLAINANT},
    "investigating": {
        "awaiting_complainant": STAFF,
        "resolved": STAFF,
        "escalated": STAFF_OR_SYSTEM,
        "withdrawn": COMPLAINANT,
    },
    # The complainant answering puts the case back under investigation, as staff can.
    "awaiting_complainant": {
        "investigating": STAFF_OR_COMPLAINANT,
        "escalated": STAFF_OR_SYSTEM,
        "withdrawn": COMPLAINANT,
    },
    # Escalated cases are in compliance's hands.
    "escalated": {"investigating": COMPLIANCE, "resolved": COMPLIANCE, "withdrawn": COMPLAINANT},
    "resolved": {"closed": STAFF_OR_COMPLAINANT, "reopened": STAFF_OR_COMPLAINANT},
    "closed": {"reopened": STAFF_OR_COMPLAINANT},
    "reopened": {"investigating": STAFF, "escalated": STAFF_OR_SYSTEM, "withdrawn": COMPLAINANT},
    "withdrawn": {},
}
OPEN_COMPLAINT_STATES: Final = frozenset(
    {"received", "acknowledged", "investigating", "awaiting_complainant", "escalated", "reopened"}
)
# Moving here needs the appeal window to be open.
APPEAL_STATES: Final = frozenset({"reopened"})

REFUND_MOVES: Final[Moves] = {
    "requested": {"approved": STAFF, "denied": STAFF},
    "approved": {"issued": frozenset({"platform"}), "failed": frozenset({"platform"})},
    "denied": {},
    "issued": {},
    "failed": {},
}

PARTY: Final = frozenset({"party"})  # the candidate, the mentor, or the platform acting for an employer
OPENER: Final = frozenset({"opener"})
DISPUTE_MOVES: Final[Moves] = {
    "l1_review": {
        "decided": frozenset({"support"}),
        "l2_review": frozenset({"support", "party"}),
        "withdrawn": OPENER,
    },
    "l2_review": {
        "decided": COMPLIANCE,
        "revoked": COMPLIANCE,
        "l3_review": frozenset({"compliance", "party"}),
        "withdrawn": OPENER,
    },
    "l3_review": {"decided": COMPLIANCE, "revoked": COMPLIANCE, "withdrawn": OPENER},
    # An appeal of a decision goes to the next tier (L1 -> L2, L2 -> L3) within its window.
    "decided": {"l2_review": PARTY, "l3_review": PARTY},
    "revoked": {},  # final
    "withdrawn": {},
}
OPEN_DISPUTE_STATES: Final = frozenset({"l1_review", "l2_review", "l3_review"})
REVIEW_STATE_OF_TIER: Final = {"L1": "l1_review", "L2": "l2_review", "L3": "l3_review"}
TIER_OF_REVIEW_STATE: Final = {state: tier for tier, state in REVIEW_STATE_OF_TIER.items()}


def allowed_next(moves: Moves, state: str) -> list[str]:
    return sorted(moves.get(state, {}))


def staff_kinds(identity: Identity) -> set[str]:
    """The kinds an identity is by its roles alone."""
    kinds = set()
    if "support_agent" in identity.roles or "compliance_officer" in identity.roles:
        kinds.add("staff")
    if "support_agent" in identity.roles:
        kinds.add("support")
    if "compliance_officer" in identity.roles:
        kinds.add("compliance")
    if "platform" in identity.roles:
        kinds.add("platform")
    if "system" in identity.roles:
        kinds.add("system")
    return kinds


def complaint_actor_kinds(identity: Identity, complainant_id: str) -> set[str]:
    kinds = staff_kinds(identity)
    if identity.sub == complainant_id:
        kinds.add("complainant")
    return kinds


def permitted(moves: Moves, state: str, target: str, kinds: set[str]) -> bool:
    """Whether an actor of ``kinds`` may move from ``state`` to ``target``."""
    return bool(moves.get(state, {}).get(target, frozenset()) & kinds)
