"""The vetting state machines, as data, and the rules that derive a mentor's status.

Nothing here touches the database: the tables below are what the service enforces and
what the tests walk exhaustively.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

CheckState = Literal["pending", "in_review", "passed", "failed", "waived", "expired"]
CHECK_STATES: Final[tuple[CheckState, ...]] = ("pending", "in_review", "passed", "failed", "waived", "expired")

# Who may make a move: a compliance officer, or only the expiry job.
Mover = Literal["officer", "system"]

# from-state -> {to-state: who may make that move}. Failed and expired are final: a
# renewal is a new check, so the history of the old one stays as it was.
CHECK_TRANSITIONS: Final[Mapping[CheckState, Mapping[CheckState, Mover]]] = {
    "pending": {"in_review": "officer", "failed": "officer"},
    "in_review": {"pending": "officer", "passed": "officer", "failed": "officer", "waived": "officer"},
    "passed": {"expired": "system", "failed": "officer"},
    "waived": {"expired": "system", "failed": "officer"},
    "failed": {},
    "expired": {},
}

# A check in these states counts towards approval while it has not expired.
SATISFYING: Final[frozenset[CheckState]] = frozenset({"passed", "waived"})


def allowed_check_moves(state: CheckState, mover: Mover) -> list[CheckState]:
    """The states ``mover`` may move a check to from ``state``, in table order."""
    return [to for to, who in CHECK_TRANSITIONS[state].items() if who == mover]


Standing = Literal["onboarding", "approved", "suspended", "revoked"]
MentorStatus = Literal["onboarding", "approved", "suspended", "revoked", "lapsed"]
MENTOR_STATUSES: Final[tuple[MentorStatus, ...]] = ("onboarding", "approved", "suspended", "revoked", "lapsed")

DecisionAction = Literal["approve", "suspend", "revoke", "reinstate"]
DECISION_ACTIONS: Final[tuple[DecisionAction, ...]] = ("approve", "suspend", "revoke", "reinstate")

# action -> (the statuses it may be taken from, the standing it leads to). Revocation is
# final: a revoked mentor needs a new onboarding (a new registration).
DECISIONS: Final[Mapping[DecisionAction, tuple[frozenset[MentorStatus], Standing]]] = {
    "approve": (frozenset({"onboarding", "lapsed"}), "approved"),
    "suspend": (frozenset({"approved", "lapsed"}), "suspended"),
    "reinstate": (frozenset({"suspended"}), "approved"),
    "revoke": (frozenset({"onboarding", "approved", "suspended", "lapsed"}), "revoked"),
}

# Approving, and reinstating someone to approved, require every requirement met.
NEEDS_REQUIREMENTS_MET: Final[frozenset[DecisionAction]] = frozenset({"approve", "reinstate"})


def allowed_decisions(status: MentorStatus, requirements_met: bool = True) -> list[DecisionAction]:
    """The decisions that may be proposed for a mentor who is ``status``; those that need
    every requirement met only when they are, so that what is offered is what is accepted."""
    return [
        action
        for action, (sources, _) in DECISIONS.items()
        if status in sources and (requirements_met or action not in NEEDS_REQUIREMENTS_MET)
    ]


DecisionState = Literal["proposed", "confirmed", "rejected", "withdrawn", "superseded"]
# Who may move a proposed decision on: four eyes, so a second officer confirms or rejects
# it; only its proposer takes it back.
DecisionMover = Literal["other_officer", "proposer"]
DECISION_MOVES: Final[Mapping[DecisionState, Mapping[DecisionState, DecisionMover]]] = {
    "proposed": {"confirmed": "other_officer", "rejected": "other_officer", "withdrawn": "proposer"},
    "confirmed": {},
    "rejected": {},
    "withdrawn": {},
    "superseded": {},  # a newer proposal for the same mentor took its place
}


def allowed_decision_moves(state: DecisionState) -> list[DecisionState]:
    """The states a decision in ``state`` may move to, in table order."""
    return list(DECISION_MOVES[state])


def derive_status(standing: Standing, requirements_met: bool) -> MentorStatus:
    """A mentor's status, from the last confirmed decision and whether every check is current.

    An approved mentor whose required check is no longer current has *lapsed*; renewing
    the check (a new pass) makes them approved again without a new decision, because the
    approval itself was never withdrawn.
    """
    if standing == "approved" and not requirements_met:
        return "lapsed"
    return standing


@dataclass(frozen=True, slots=True)
class CheckFacts:
    """What the approval rules need to know about one recorded check."""

    check_type: str
    state: CheckState
    expires_at: datetime | None
    details: Mapping[str, str]
    documents: int

    def current(self, now: datetime) -> bool:
        return self.state in SATISFYING and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class Gap:
    """One reason a mentor cannot be approved yet."""

    check_type: str
    reason: str


def gaps(
    requirements: Iterable[tuple[str, int, Mapping[str, str]]],
    checks: Sequence[CheckFacts],
    now: datetime,
) -> list[Gap]:
    """What is missing for approval: each requirement ``(check type, count, expected details)``
    needs that many current checks of its type carrying the expected detail values."""
    missing = []
    for check_type, count, expect in requirements:
        current = [c for c in checks if c.check_type == check_type and c.current(now)]
        fitting = [c for c in current if all(c.details.get(k) == v for k, v in expect.items())]
        if len(fitting) >= count:
            continue
        if len(current) > len(fitting):
            wanted = ", ".join(f"{k}={v}" for k, v in expect.items())
            missing.append(Gap(check_type, f"needs {wanted}"))
        elif not fitting and any(c.check_type == check_type and c.state in {*SATISFYING, "expired"} for c in checks):
            missing.append(Gap(check_type, "expired"))
        else:
            have = f"{len(fitting)} of {count}" if count > 1 else "no"
            missing.append(Gap(check_type, f"{have} current passed or waived check" + ("s" if count > 1 else "")))
    return missing
