"""The vetting state machines are data; every pair of states is walked."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from governance.vetting import states


@pytest.mark.parametrize(("source", "target"), list(itertools.product(states.CHECK_STATES, repeat=2)))
def test_every_check_move_is_either_listed_or_refused(source: states.CheckState, target: states.CheckState) -> None:
    officer = states.allowed_check_moves(source, "officer")
    system = states.allowed_check_moves(source, "system")
    listed = states.CHECK_TRANSITIONS[source].get(target)
    assert (target in officer) == (listed == "officer")
    assert (target in system) == (listed == "system")
    assert not (set(officer) & set(system)), "each move has exactly one kind of mover"


def test_only_the_expiry_job_expires_and_final_states_stay_final() -> None:
    for source in states.CHECK_STATES:
        assert "expired" not in states.allowed_check_moves(source, "officer")
    assert states.CHECK_TRANSITIONS["failed"] == {}
    assert states.CHECK_TRANSITIONS["expired"] == {}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(states.MENTOR_STATUSES, states.DECISION_ACTIONS)))
def test_every_decision_from_every_status(status: states.MentorStatus, action: states.DecisionAction) -> None:
    sources, _ = states.DECISIONS[action]
    assert (action in states.allowed_decisions(status)) == (status in sources)
    if status == "revoked":
        assert states.allowed_decisions(status) == [], "revocation is final"


@pytest.mark.parametrize(
    ("standing", "met", "status"),
    [
        ("onboarding", False, "onboarding"),
        ("onboarding", True, "onboarding"),
        ("approved", True, "approved"),
        ("approved", False, "lapsed"),
        ("suspended", True, "suspended"),
        ("suspended", False, "suspended"),
        ("revoked", True, "revoked"),
        ("revoked", False, "revoked"),
    ],
)
def test_status_is_derived(standing: states.Standing, met: bool, status: str) -> None:
    assert states.derive_status(standing, met) == status


NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _fact(check_type: str, state: states.CheckState = "passed", days: int = 10, **details: str) -> states.CheckFacts:
    return states.CheckFacts(check_type, state, NOW + timedelta(days=days), details, documents=1)


def test_gaps_name_what_is_missing_and_why() -> None:
    requirements = [("reference", 2, {}), ("background_check", 1, {"level": "enhanced"}), ("interview", 1, {})]
    checks = [
        _fact("reference"),
        _fact("background_check", level="basic"),
        _fact("interview", days=-1),
    ]
    gaps = {g.check_type: g.reason for g in states.gaps(requirements, checks, NOW)}
    assert gaps == {
        "reference": "1 of 2 current passed or waived checks",
        "background_check": "needs level=enhanced",
        "interview": "expired",
    }
    complete = [*checks, _fact("reference", "waived"), _fact("background_check", level="enhanced"), _fact("interview")]
    assert states.gaps(requirements, complete, NOW) == []


def test_a_check_in_review_does_not_count() -> None:
    assert states.gaps([("interview", 1, {})], [_fact("interview", "in_review")], NOW) == [
        states.Gap("interview", "no current passed or waived check")
    ]
