"""The state machines, exhaustively: every pair of states and every kind of actor."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from governance.complaints import refunds, service, states
from governance.complaints.config import Complaints, load_policy
from governance.complaints.moves import EFFECTS
from governance.complaints.schemas import ComplaintCreate, ComplaintTransition, RefundCreate, RefundTransition
from governance.complaints.tables import Complaint, Refund, SessionPayment
from governance.core.crypto import Keyring, LocalMasterKey
from governance.core.errors import Problem
from governance.core.identity import SYSTEM, Identity
from governance.settings import Settings

COMPLAINANT = Identity(sub="mentee-states", roles=("mentee",))
ACTORS = {
    "complainant": COMPLAINANT,
    "support": Identity(sub="agent-states", roles=("support_agent",)),
    "compliance": Identity(sub="officer-states", roles=("compliance_officer",)),
    "system": SYSTEM,
    "stranger": Identity(sub="mentee-else", roles=("mentee",)),
    "platform": Identity(sub="platform-states", roles=("platform",)),
}
KINDS = {
    "complainant": {"complainant"},
    "support": {"staff", "support"},
    "compliance": {"staff", "compliance"},
    "system": {"system"},
    "stranger": set(),
    "platform": {"platform"},
}


def test_every_state_is_in_the_tables_and_final_states_have_no_moves() -> None:
    for moves, names in (
        (states.COMPLAINT_MOVES, states.COMPLAINT_STATES),
        (states.REFUND_MOVES, states.REFUND_STATES),
        (states.DISPUTE_MOVES, states.DISPUTE_STATES),
    ):
        assert set(moves) == set(names)
        for targets in moves.values():
            assert set(targets) <= set(names)
    assert states.COMPLAINT_MOVES["withdrawn"] == {}
    assert states.DISPUTE_MOVES["revoked"] == {}, "revocation is final"
    # Escalation is possible from every open state but the escalated one itself.
    for state in states.OPEN_COMPLAINT_STATES - {"escalated"}:
        assert "escalated" in states.COMPLAINT_MOVES[state]
        assert "withdrawn" in states.COMPLAINT_MOVES[state]


def test_every_move_effect_names_a_state_a_complaint_can_reach() -> None:
    # A misspelt key would silently drop what reaching that state records (a resolution's outcome).
    reachable = {target for targets in states.COMPLAINT_MOVES.values() for target in targets}
    assert set(EFFECTS) <= reachable
    assert {"acknowledged", "awaiting_complainant", "resolved", "closed", "reopened"} <= set(EFFECTS)


@pytest.fixture
def complaints(settings: Settings) -> Complaints:
    keyring = Keyring(LocalMasterKey.load_or_create(settings.effective_master_key_file))
    return dataclasses.replace(Complaints.configure(settings, keyring), refund_four_eyes_threshold_minor=1_000)


async def _complaint_in(state: str, complaints: Complaints, now: datetime) -> Any:
    filed = await service.file(
        complaints, actor=COMPLAINANT, data=ComplaintCreate(category="other", description="d"), now=now
    )
    await Complaint.update(
        {
            Complaint.state: state,
            Complaint.resolved_at: now,
            Complaint.sla_paused_at: now if state == "awaiting_complainant" else None,
        }
    ).where(Complaint.id == filed.id)
    return filed.id


@pytest.mark.parametrize(("source", "target"), list(itertools.product(states.COMPLAINT_STATES, repeat=2)))
async def test_complaint_moves_follow_the_table(
    database: Settings, complaints: Complaints, source: str, target: str
) -> None:
    now = datetime.now(UTC)
    for name, actor in ACTORS.items():
        complaint_id = await _complaint_in(source, complaints, now)
        data = ComplaintTransition(to=target, outcome="upheld", reasons="r")  # type: ignore[arg-type]
        allowed = target in states.COMPLAINT_MOVES[source]
        permitted = bool(states.COMPLAINT_MOVES[source].get(target, frozenset()) & KINDS[name])
        refused: int | None = None
        try:
            view = await service.transition(
                complaints, complaint_id, actor=actor, data=data, expected_version=1, now=now
            )
        except Problem as problem:
            refused = problem.status_code
        if allowed and permitted:
            assert refused is None, (source, target, name)
            assert view.state == target and view.version == 2
        else:
            assert refused == (403 if allowed else 409), (source, target, name)
            row = await Complaint.select(Complaint.state, Complaint.version).where(Complaint.id == complaint_id).first()
            assert row == {"state": source, "version": 1}, "a refused move changes nothing"


REQUESTER = Identity(sub="agent-requesting", roles=("support_agent",))


async def _refund_in(state: str, complaints: Complaints, now: datetime, n: int) -> Any:
    session = f"s-states-{state}-{n}-{now.timestamp()}"
    await SessionPayment.insert(
        SessionPayment(
            session_id=session, mentee_id="m", amount_minor=100, currency="EUR", reported_by="p", reported_at=now
        )
    )
    _, view = await refunds.create(
        complaints,
        actor=REQUESTER,  # none of ACTORS: a requester never approves their own refund
        data=RefundCreate(session_id=session, amount_minor=10, currency="EUR", reason="r"),
        now=now,
    )
    await Refund.update({Refund.state: state}).where(Refund.id == view.id)
    return view.id


@pytest.mark.parametrize(
    ("source", "target"),
    # "requested" is not a target clients can name (the schema refuses it).
    [(s, t) for s, t in itertools.product(states.REFUND_STATES, repeat=2) if t != "requested"],
)
async def test_refund_moves_follow_the_table(
    database: Settings, complaints: Complaints, source: str, target: str
) -> None:
    now = datetime.now(UTC)
    for n, (name, actor) in enumerate(ACTORS.items()):
        refund_id = await _refund_in(source, complaints, now, n)
        data = RefundTransition(to=target, reason="r", payment_reference="ref", reasons="r")  # type: ignore[arg-type]
        allowed = target in states.REFUND_MOVES[source]
        permitted = bool(states.REFUND_MOVES[source].get(target, frozenset()) & KINDS[name])
        refused: int | None = None
        try:
            view = await refunds.transition(complaints, refund_id, actor=actor, data=data, expected_version=1, now=now)
        except Problem as problem:
            refused = problem.status_code
        if allowed and permitted:
            assert refused is None, (source, target, name)
            assert view.state == target
        else:
            assert refused == (403 if allowed else 409), (source, target, name)
            unchanged = await Refund.select(Refund.state, Refund.version).where(Refund.id == refund_id).first()
            assert unchanged == {"state": source, "version": 1}, "a refused move changes nothing"


def test_dispute_tiers_only_ever_move_to_the_next_tier(settings: Settings) -> None:
    from governance.complaints.disputes import _allowed

    policy = load_policy(settings)
    for state, tier in itertools.product(states.DISPUTE_STATES, ("L1", "L2", "L3")):
        allowed = _allowed(policy, state, tier, None, None)
        assert set(allowed) <= set(states.DISPUTE_MOVES[state])
        reviews = {s for s in allowed if s in states.TIER_OF_REVIEW_STATE}
        nxt = policy.next_tier(tier)
        assert reviews <= ({states.REVIEW_STATE_OF_TIER[nxt]} if nxt else set()), (state, tier)
        if "revoked" in allowed:
            assert "revoked" in policy.tiers[tier].outcomes
    assert _allowed(policy, "l1_review", "L1", None, None) == ["decided", "l2_review", "withdrawn"]
    assert _allowed(policy, "l3_review", "L3", None, None) == ["decided", "revoked", "withdrawn"]
    assert _allowed(policy, "decided", "L3", None, None) == []
